import itertools

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from registry.models import AuditEvent
from registry.services import registry
from registry.services.audit import GENESIS, audit_record, audit_verify

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the UPDATE/DELETE triggers are PostgreSQL's"
)


def _tamper(sql: str, params: list) -> None:
    """Change a row behind the application's back, as an attacker with table access would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A superuser can switch triggers off for the session; verify must still catch it.
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(sql, params)
        else:
            cursor.execute("DROP TRIGGER rollouts_auditevent_append_only")
            cursor.execute(sql, params)


@pytest.fixture
def events(feature, make_config):
    for n in range(3):
        registry.feature_switch_config(
            feature=feature, config=make_config(f"v{n + 2}"), actor=None, reason=f"step {n}"
        )
    return list(AuditEvent.objects.order_by("id"))


def test_each_event_links_to_the_previous_one(events):
    assert events[0].prev_hash == GENESIS
    for earlier, later in itertools.pairwise(events):
        assert later.prev_hash == earlier.hash
    report = audit_verify()
    assert report.ok
    assert report.checked == len(events)


def test_verify_reports_the_first_event_whose_content_was_changed(events):
    target = events[len(events) // 2]
    _tamper("UPDATE rollouts_auditevent SET reason = %s WHERE id = %s", ["forged", target.pk])
    report = audit_verify()
    assert report.broken_id == target.pk
    assert "content" in report.problem
    with pytest.raises(CommandError, match=f"#{target.pk}"):
        call_command("audit_verify")


def test_verify_reports_a_deleted_event_as_a_broken_link(events):
    target = events[2]
    _tamper("DELETE FROM rollouts_auditevent WHERE id = %s", [target.pk])
    report = audit_verify()
    assert report.broken_id == events[3].pk
    assert "prev_hash" in report.problem


def test_the_command_says_the_chain_is_intact(events, capsys):
    call_command("audit_verify")
    assert f"{len(events)} events" in capsys.readouterr().out


def test_an_event_cannot_be_written_outside_a_transaction(feature, transactional_db):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_record(actor=None, action="x", obj=feature, before=None, after=None)


def test_updates_are_refused_by_the_database(events):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=events[0].pk).update(reason="rewritten")


@postgres_only
def test_deletes_are_refused_by_the_database_on_postgresql(events):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=events[0].pk).delete()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM rollouts_servingchange")
    assert AuditEvent.objects.count() == len(events)


@postgres_only
def test_a_locked_config_cannot_be_deleted_on_postgresql(feature):
    with (
        pytest.raises(DatabaseError, match="in use"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM rollouts_modelconfig WHERE id = %s", [feature.served_config_id])
