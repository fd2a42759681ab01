"""The audit trail cannot be quietly cut: TRUNCATE is refused, the chain is keyed, and the head is
checkpointed (table and log), so a shorter or recomputed chain no longer verifies as intact."""

import hashlib
import logging

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test.utils import override_settings

from registry.models import AuditCheckpoint, AuditEvent, ServingChange
from registry.services import registry
from registry.services.audit import (
    CHAIN_KEYED,
    GENESIS,
    audit_checkpoint,
    audit_verify,
    hashed_fields,
    legacy_digest,
)
from registry.tasks import audit_checkpoint as audit_checkpoint_task

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the TRUNCATE triggers are PostgreSQL's"
)


def _as_table_owner(sql: str, params: list | None = None) -> None:
    """Write behind the application's back with the triggers out of the way, as someone who
    owns the tables (or is a superuser) can."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Run the test transaction's deferred foreign-key checks now: PostgreSQL refuses a
            # TRUNCATE while any are pending, whoever asks.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS rollouts_auditevent_append_only")
        cursor.execute(sql, params or [])


@pytest.fixture
def events(feature, make_config):
    for n in range(4):
        registry.feature_switch_config(
            feature=feature, config=make_config(f"v{n + 2}"), actor=None, reason=f"step {n}"
        )
    return list(AuditEvent.objects.order_by("id"))


@pytest.mark.postgres
@postgres_only
@pytest.mark.parametrize(
    "statement",
    [
        "TRUNCATE rollouts_auditevent CASCADE",
        "TRUNCATE rollouts_servingshare",
        "TRUNCATE rollouts_auditcheckpoint",
    ],
)
def test_truncate_is_refused_on_postgresql(events, statement):
    audit_checkpoint()
    with (
        pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # see _as_table_owner
        cursor.execute(statement)
    assert AuditEvent.objects.count() == len(events)
    assert ServingChange.objects.exists()
    assert AuditCheckpoint.objects.count() == 1


@pytest.mark.postgres
@postgres_only
def test_a_truncate_past_the_trigger_is_reported_not_called_intact(events):
    audit_checkpoint()
    _as_table_owner("TRUNCATE rollouts_auditevent CASCADE")
    report = audit_verify()
    assert not report.ok
    assert f"{len(events)} events are missing from the end" in report.problem
    with pytest.raises(CommandError, match="missing from the end") as exc:
        call_command("audit_verify")
    assert "intact" not in str(exc.value)


def test_deleting_the_last_events_is_detected_through_the_checkpoint(events):
    audit_checkpoint()
    last_two = [e.pk for e in events[-2:]]
    _as_table_owner(
        "DELETE FROM rollouts_servingshare WHERE change_id IN "
        "(SELECT id FROM rollouts_servingchange WHERE event_id IN (%s, %s))",
        last_two,
    )
    _as_table_owner("DELETE FROM rollouts_servingchange WHERE event_id IN (%s, %s)", last_two)
    _as_table_owner("DELETE FROM rollouts_auditevent WHERE id IN (%s, %s)", last_two)
    report = audit_verify()
    assert not report.ok
    assert "2 events are missing from the end" in report.problem
    assert f"ending with event #{events[-1].pk}" in report.problem
    with pytest.raises(CommandError, match="2 events are missing"):
        call_command("audit_verify")
    # The next scheduled checkpoint refuses to vouch for the shortened chain, loudly.
    assert audit_checkpoint().problem


def test_a_chain_recomputed_without_the_key_does_not_verify(events):
    """The table owner edits a reason and recomputes every hash with the old, unkeyed rule."""
    target = events[1]
    _as_table_owner(
        "UPDATE rollouts_auditevent SET reason = %s WHERE id = %s", ["forged", target.pk]
    )
    prev = events[0].hash
    for event in AuditEvent.objects.filter(id__gte=target.pk).order_by("id"):
        digest = legacy_digest(prev, hashed_fields(event))
        _as_table_owner(
            "UPDATE rollouts_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
            [prev, digest, event.pk],
        )
        prev = digest
    report = audit_verify()
    assert report.broken_id == target.pk
    assert "not keyed with AUDIT_HMAC_KEY" in report.problem


def test_the_chain_verifies_only_with_the_key_that_wrote_it(events):
    assert audit_verify().ok
    with override_settings(AUDIT_HMAC_KEY="another-key-" + "z" * 40):
        report = audit_verify()
    assert report.broken_id == events[0].pk


def test_a_forged_checkpoint_is_refused(events):
    """Someone without the key writes a checkpoint for a shortened chain."""
    _as_table_owner("DELETE FROM rollouts_servingshare")
    _as_table_owner("DELETE FROM rollouts_servingchange")
    _as_table_owner("DELETE FROM rollouts_auditevent WHERE id = %s", [events[-1].pk])
    forged_mac = hashlib.sha256(b"guess").hexdigest()
    AuditCheckpoint.objects.create(
        created=events[0].created,
        event_count=len(events) - 1,
        last_event_id=events[-2].pk,
        head_hash=events[-2].hash,
        prev_mac=GENESIS,
        mac=forged_mac,
    )
    report = audit_verify()
    assert not report.ok
    assert "was not written with this AUDIT_HMAC_KEY" in report.problem


def test_a_head_from_the_log_catches_a_cut_after_the_last_checkpoint(events, feature, make_config):
    audit_checkpoint()
    registry.feature_switch_config(
        feature=feature, config=make_config("v9"), actor=None, reason="after the checkpoint"
    )
    logged = audit_verify().head  # what the next checkpoint's log line would carry
    newest = AuditEvent.objects.order_by("-id").first()
    assert newest is not None
    _as_table_owner(
        "DELETE FROM rollouts_servingshare WHERE change_id IN "
        "(SELECT id FROM rollouts_servingchange WHERE event_id = %s)",
        [newest.pk],
    )
    _as_table_owner("DELETE FROM rollouts_servingchange WHERE event_id = %s", [newest.pk])
    _as_table_owner("DELETE FROM rollouts_auditevent WHERE id = %s", [newest.pk])
    assert audit_verify().ok  # the table alone cannot see past its newest checkpoint
    with pytest.raises(CommandError, match="1 events are missing from the end"):
        call_command("audit_verify", expect=f"{logged.count}:{logged.hash}")


def test_the_checkpoint_task_writes_a_keyed_row_and_a_log_line(events, caplog):
    with caplog.at_level(logging.INFO, logger="registry.audit"):
        audit_checkpoint_task.apply()
    checkpoint = AuditCheckpoint.objects.get()
    assert checkpoint.event_count == len(events)
    assert checkpoint.last_event_id == events[-1].pk
    assert checkpoint.head_hash == events[-1].hash
    line = next(r.getMessage() for r in caplog.records if r.name == "registry.audit")
    assert f"events={len(events)}" in line
    assert f"expect={len(events)}:{events[-1].hash}" in line
    # Nothing appended since: no second row, but the log still shows the head.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="registry.audit"):
        audit_checkpoint_task.apply()
    assert AuditCheckpoint.objects.count() == 1
    assert any("unchanged" in r.getMessage() for r in caplog.records)
    report = audit_verify()
    assert report.ok and report.checkpoint == checkpoint


def test_checkpoints_cannot_be_updated(events):
    audit_checkpoint()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditCheckpoint.objects.update(event_count=1)


@pytest.mark.postgres
@postgres_only
def test_checkpoints_cannot_be_deleted_on_postgresql(events):
    audit_checkpoint()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditCheckpoint.objects.all().delete()


def test_the_command_names_the_checkpoint_it_reached(events, capsys):
    checkpoint = audit_checkpoint().checkpoint
    assert checkpoint is not None
    call_command("audit_verify")
    out = capsys.readouterr().out
    assert f"intact: {len(events)} events" in out
    assert f"checkpoint #{checkpoint.pk}" in out


def test_events_from_before_the_key_verify_by_the_old_rule_once_closed(events):
    """An upgraded install: events hashed unkeyed, then the migration's audit.chain_keyed event."""
    from importlib import import_module

    from django.apps import apps

    prev = GENESIS
    for event in events:
        digest = legacy_digest(prev, hashed_fields(event))
        _as_table_owner(
            "UPDATE rollouts_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
            [prev, digest, event.pk],
        )
        prev = digest
    assert not audit_verify().ok  # unkeyed and not closed: indistinguishable from a forgery
    migration = import_module("registry.migrations.0010_audit_hardening")
    migration.key_the_chain(apps, connection.schema_editor())
    report = audit_verify()
    assert report.ok, report.problem
    assert report.legacy == len(events)
    anchor = AuditEvent.objects.get(action=CHAIN_KEYED)
    assert anchor.before == {"rule": "sha256", "events": len(events), "head": prev}
    # Changing an old event now breaks the keyed event that closes them.
    _as_table_owner(
        "UPDATE rollouts_auditevent SET reason = %s WHERE id = %s", ["forged", events[0].pk]
    )
    assert audit_verify().broken_id == events[0].pk


def test_beat_runs_the_checkpoint_task_every_ten_minutes_by_default(settings):
    from rollout_site.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]
    assert entry["schedule"] == 600.0
    app.loader.import_default_modules()  # autodiscovery, as a worker does at start
    assert entry["task"] in app.tasks
