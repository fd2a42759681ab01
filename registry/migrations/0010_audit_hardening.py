"""Audit trail hardening (issue 7, section 6).

1. AuditCheckpoint: the chain's head (count, last hash), each row keyed with AUDIT_HMAC_KEY.
2. TRUNCATE is refused on PostgreSQL for the audit events, the serving ledger and the
   checkpoints (a statement-level trigger: the row-level UPDATE/DELETE triggers of 0002 never
   see a TRUNCATE, and `TRUNCATE rollouts_auditevent CASCADE` emptied all three tables).
   Checkpoints get the same UPDATE/DELETE triggers as the events (UPDATE only on SQLite).
   The test suite's flush between transactional tests passes by switching user triggers off
   for its own transaction (tests/flush.py), as pg_restore does; nothing in the product does.
3. The chain becomes keyed (HMAC-SHA256). Events already written keep their plain SHA-256
   hashes, untouched: rewriting them would be the very kind of quiet rewrite the trail exists to
   show. Instead, where events exist, one keyed `audit.chain_keyed` event is appended whose
   prev_hash is the old head and whose `before` records how many events the old rule covers;
   `audit_verify` checks events before it by the old rule and everything from it on by HMAC, so
   changing an old event breaks the keyed event that follows them.
"""

from django.db import migrations, models

PG_TRUNCATE_REFUSED = [
    "rollouts_auditevent",
    "rollouts_servingchange",
    "rollouts_servingshare",
    "rollouts_auditcheckpoint",
]


def triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor

    def run(sql: str) -> None:
        schema_editor.execute(sql, params=None)

    if vendor == "postgresql":
        # rollouts_refuse_change() (0002) raises "<table> is append-only: <op> refused".
        run(
            "CREATE TRIGGER rollouts_auditcheckpoint_append_only BEFORE UPDATE OR DELETE "
            "ON rollouts_auditcheckpoint FOR EACH ROW EXECUTE FUNCTION rollouts_refuse_change()"
        )
        for table in PG_TRUNCATE_REFUSED:
            run(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION rollouts_refuse_change()"
            )
    elif vendor == "sqlite":
        run(
            "CREATE TRIGGER rollouts_auditcheckpoint_append_only BEFORE UPDATE "
            "ON rollouts_auditcheckpoint BEGIN SELECT RAISE(ABORT, "
            "'rollouts_auditcheckpoint is append-only: UPDATE refused'); END"
        )


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table in PG_TRUNCATE_REFUSED:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS rollouts_auditcheckpoint_append_only "
            "ON rollouts_auditcheckpoint"
        )
    else:
        schema_editor.execute("DROP TRIGGER IF EXISTS rollouts_auditcheckpoint_append_only")


def key_the_chain(apps, schema_editor):
    # The service's own hashing rules, so the anchor verifies exactly as audit_verify reads it.
    from registry.services.audit import CHAIN_KEYED, chain_lock, db_now, hashed_fields, keyed_digest

    AuditEvent = apps.get_model("rollouts", "AuditEvent")
    chain_lock()
    last = AuditEvent.objects.order_by("-id").first()
    if last is None:
        return  # a new install: every event is keyed from the first
    count = AuditEvent.objects.count()
    anchor = AuditEvent(
        created=db_now(),
        actor=None,
        actor_label="system",
        action=CHAIN_KEYED,
        object_type="rollouts.auditevent",
        object_id=str(last.pk),
        object_repr="audit chain",
        feature_key="",
        before={"rule": "sha256", "events": count, "head": last.hash},
        after={"rule": "hmac-sha256"},
        reason=(
            f"From here on the chain is keyed with AUDIT_HMAC_KEY; the {count} events before "
            "keep their unkeyed SHA-256 hashes and are pinned by this event's prev_hash."
        ),
        prev_hash=last.hash,
    )
    anchor.hash = keyed_digest(anchor.prev_hash, hashed_fields(anchor))
    anchor.save(force_insert=True)


class Migration(migrations.Migration):
    dependencies = [("rollouts", "0009_dead_letters")]

    operations = [
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created", models.DateTimeField()),
                ("event_count", models.PositiveBigIntegerField()),
                ("last_event_id", models.BigIntegerField(blank=True, null=True)),
                ("head_hash", models.CharField(max_length=64)),
                ("prev_mac", models.CharField(max_length=64)),
                ("mac", models.CharField(max_length=64, unique=True)),
            ],
            options={"ordering": ["-id"]},
        ),
        migrations.RunPython(triggers, drop_triggers),
        migrations.RunPython(key_the_chain, migrations.RunPython.noop),
    ]
