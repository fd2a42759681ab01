"""Database-enforced invariants and the role groups.

1. Audit events and the serving ledger are append-only: UPDATE and DELETE are refused
   (on SQLite only UPDATE, since Django's test flush empties tables with DELETE there).
2. A locked model config's content never changes, whoever writes to the table.
3. The groups Reviewer, Release manager and Admin exist.
"""

from django.db import migrations

APPEND_ONLY = ["rollouts_auditevent", "rollouts_servingchange", "rollouts_servingshare"]
CONFIG_CONTENT = [
    "model_version_id",
    "system_prompt",
    "temperature",
    "max_tokens",
    "response_format",
    "json_schema",
]

PG_APPEND_ONLY_FN = """
CREATE OR REPLACE FUNCTION rollouts_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
"""

PG_CONFIG_FN = """
CREATE OR REPLACE FUNCTION rollouts_config_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.locked THEN
            RAISE EXCEPTION 'model config % is in use and cannot be deleted', OLD.code
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.locked AND ({changed}) THEN
        RAISE EXCEPTION 'model config % is in use and immutable; save edits as a new config',
            OLD.code USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor

    def run(sql: str) -> None:
        # params=None: the PL/pgSQL bodies use % placeholders of their own.
        schema_editor.execute(sql, params=None)

    if vendor == "postgresql":
        run(PG_APPEND_ONLY_FN)
        for table in APPEND_ONLY:
            run(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION rollouts_refuse_change()"
            )
        changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in CONFIG_CONTENT)
        run(PG_CONFIG_FN.format(changed=changed))
        run(
            "CREATE TRIGGER rollouts_modelconfig_immutable BEFORE UPDATE OR DELETE "
            "ON rollouts_modelconfig FOR EACH ROW EXECUTE FUNCTION rollouts_config_immutable()"
        )
    elif vendor == "sqlite":
        for table in APPEND_ONLY:
            run(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END"
            )
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in CONFIG_CONTENT)
        run(
            "CREATE TRIGGER rollouts_modelconfig_immutable BEFORE UPDATE ON rollouts_modelconfig "
            f"WHEN OLD.locked AND ({changed}) BEGIN SELECT RAISE(ABORT, "
            "'model config is in use and immutable; save edits as a new config'); END"
        )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in APPEND_ONLY:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only")
    if vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS rollouts_modelconfig_immutable ON rollouts_modelconfig"
        )
        schema_editor.execute("DROP FUNCTION IF EXISTS rollouts_refuse_change()")
        schema_editor.execute("DROP FUNCTION IF EXISTS rollouts_config_immutable()")
    else:
        schema_editor.execute("DROP TRIGGER IF EXISTS rollouts_modelconfig_immutable")


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ("Reviewer", "Release manager", "Admin"):
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("rollouts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.RunPython(create_groups, migrations.RunPython.noop),
    ]
