"""`seed_demo --run-gates`: the demo's three gates really run (the real executor, real HTTP to
the built-in simulator) and give the verdicts rollouts/demo_suites.py promises: intent-json
blocked, support-reply passed, ticket-summary needs acknowledgement."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from evaluations.models import Gate
from registry.models import AuditEvent, Rollout
from registry.roles import Role
from rollouts.management.commands.seed_demo import ACK_NOTE
from tests.live import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def _seed(*args: str) -> str:
    # Transactional tests flush the role groups the migration made.
    for role in Role:
        Group.objects.get_or_create(name=role)
    out = StringIO()
    call_command("seed_demo", "--run-gates", *args, stdout=out)
    return out.getvalue()


def _upgrades() -> dict[str, tuple[str, str, str]]:
    found = {}
    for rollout in Rollout.objects.select_related("feature", "candidate"):
        gate = Gate.objects.get(rollout=rollout)
        found[rollout.feature.key] = (rollout.candidate.name, gate.verdict, rollout.status)
    return found


def test_the_three_demo_gates_give_their_verdicts_and_move_the_rollouts(live, settings):
    settings.DEBUG = True
    out = _seed("--simulator-url", f"{live.url}/simulator/v1")

    assert _upgrades() == {
        "support-reply": ("support v2 (Jun)", "passed", "shadow"),
        "intent-json": ("intent v2 (Oct)", "blocked", "gate"),
        "ticket-summary": ("summary v2 (Oct)", "needs_ack", "shadow"),
    }
    blocked = Gate.objects.get(feature__key="intent-json")
    regressed = {c["name"] for c in blocked.report["cases"] if c.get("blocks")}
    # The fenced, renamed JSON fails every format case; the intent word is still there.
    assert regressed == {c for c in regressed if "answers schema-valid JSON" in c}
    assert len(regressed) == 8
    acknowledged = Gate.objects.get(feature__key="ticket-summary")
    assert acknowledged.acknowledged_by is not None
    assert acknowledged.acknowledged_by.username == "release"
    assert acknowledged.ack_note == ACK_NOTE
    assert [d["dimension"] for d in acknowledged.report["dimensions"] if d["needs_ack"]] == ["tone"]
    assert "support-reply: support v1 (Jan) -> support v2 (Jun): Passed" in out
    assert "intent-json: intent v1 (Jun) -> intent v2 (Oct): Blocked" in out
    assert "ticket-summary: summary v1 (Jun) -> summary v2 (Oct): Needs acknowledgement" in out
    assert "the rollout stays in gate" in out

    events = AuditEvent.objects.count()
    again = _seed()
    assert AuditEvent.objects.count() == events
    assert Gate.objects.count() == 3
    assert "ticket-summary: summary v1 (Jun) -> summary v2 (Oct): Needs acknowledgement, " in again


def test_it_serves_the_simulator_itself_when_nothing_answers_yet(transactional_db, settings):
    # As in `manage.py demo`: the web server is not up yet, the seed serves the simulator on
    # ROLLOUT_PORT for the time the gates run, and stops it again.
    settings.DEBUG = True
    settings.SIMULATOR_ENABLED = True
    settings.SIMULATOR_LATENCY_SCALE = 0
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    settings.ROLLOUT_PORT = free_port()
    _seed()
    assert {key: verdict for key, (_, verdict, _) in _upgrades().items()} == {
        "support-reply": "passed",
        "intent-json": "blocked",
        "ticket-summary": "needs_ack",
    }
    import httpx

    with pytest.raises(httpx.ConnectError):  # stopped again, the port is free for the web
        httpx.get(f"http://127.0.0.1:{settings.ROLLOUT_PORT}/simulator/v1/models", timeout=2)
