"""The canary demo (rollouts/demo_canary.py, `manage.py demo_canary`): its steps against a live
server with the simulator, on minimums of seconds instead of minutes."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum
from django.test import Client

from registry.models import AuditEvent, MetricMinute, Rollout, SimulatorRegression
from registry.roles import Role
from rollouts.demo_canary import DemoRefused, Scenario, Timings, demo_plan_write
from rollouts.models import Approval
from rollouts.services import rollouts
from rollouts.services.stages import PlannedStage, active_stage
from tests.gates import pass_gate
from traffic.routing import invalidate_local
from traffic.simulator import regressions

# The demo's steps on a test's clock: no waiting, a few requests per arm, the guardrails
# evaluated here (no beat in a test) twice a second.
FAST = Timings(
    shadow=PlannedStage(0, timedelta(0), 0),
    canary=(
        PlannedStage(5, timedelta(0), 10),
        PlannedStage(25, timedelta(0), 10),
        PlannedStage(100, timedelta(0), 0),
    ),
    rate=200,
    shadow_rate=50,
    concurrency=40,
    poll=0.2,
    stage_timeout=60,
    rollback_timeout=60,
    evaluate_every=0.5,
)


def _seed(settings, simulator_url: str) -> None:
    settings.DEBUG = True
    for role in Role:  # transactional tests flush the groups the migration made
        Group.objects.get_or_create(name=role)
    call_command("seed_demo", "--simulator-url", simulator_url, stdout=StringIO())


@pytest.fixture
def demo(live, settings) -> Rollout:
    """The demo data as `make run` leaves it: support-reply's gate passed, in shadow on the
    demo plan (here with a shadow stage that asks for nothing)."""
    _seed(settings, f"{live.url}/simulator/v1")
    rollout = Rollout.objects.get(feature__key="support-reply")
    pass_gate(rollout)
    demo_plan_write(rollout=rollout, shadow=FAST.shadow)
    rollout = rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    invalidate_local()
    regressions.invalidate_local()
    yield rollout
    regressions.invalidate_local()


# ~25 s: the guardrails need 200 candidate requests per arm before they decide anything.
@pytest.mark.slow
def test_the_demo_promotes_twice_then_the_regression_rolls_the_canary_back(demo, live):
    lines: list[str] = []
    scenario = Scenario(base_url=live.url, timings=FAST, out=lines.append)
    rollout = scenario.start()
    try:
        scenario.plan(rollout)
        for _ in range(2):
            rollout = scenario.promote(rollout, scenario.wait_for_minimums(rollout))

        # The second canary stage, reached with the demo release manager's approvals.
        assert rollout.status == Rollout.Status.CANARY and rollout.candidate_percent == 25
        approvals = Approval.objects.filter(rollout=rollout).order_by("id")
        assert [(a.to_stage.percent, a.approver.username) for a in approvals] == [
            (5, "release"),
            (25, "release"),
        ]
        assert all(a.note.startswith("demo_canary: ") for a in approvals)
        assert AuditEvent.objects.filter(action="rollout.edit_plan", actor__username="release")
        scenario.wait_for_minimums(rollout)
        # The roll-ups behind the charts and the guardrails: at least the 5% stage's minimum.
        candidate = MetricMinute.objects.filter(rollout=rollout, variant="candidate")
        assert candidate.aggregate(n=Sum("requests"))["n"] >= 10

        # The charts the viewer watches have the candidate's line.
        client = Client()
        client.force_login(User.objects.get(username="release"))
        figures = client.get(f"/rollouts/{rollout.code}/charts/").json()["figures"]
        traces = {t["name"]: t for t in figures["requests"]["data"]}
        assert sum(traces["candidate"]["customdata"]) > 0

        event = scenario.regression_until_rollback(rollout)
    finally:
        scenario.traffic.close()

    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.ROLLED_BACK and rollout.candidate_bp == 0
    assert event is not None and event.actor is None
    assert event.reason.startswith("Automatic rollback. Error rate breached: candidate ")
    assert any(event.reason in line for line in lines)  # printed for the viewer
    assert active_stage(rollout) is None
    # The regression is switched off again once it made its point.
    assert not SimulatorRegression.objects.get(model_id="sim-chat-2025-06-01").on

    # A second run finds nothing left to show and says how to start over.
    with pytest.raises(DemoRefused, match=r"rolled back already.*make reset-demo && make run"):
        Scenario(base_url=live.url, timings=FAST).rollout()


def test_without_demo_data_the_command_says_to_start_the_product(db, settings):
    settings.DEBUG = True
    settings.SIMULATOR_ENABLED = True
    with pytest.raises(CommandError, match=r"No demo data: start the product with `make run`"):
        call_command("demo_canary", stdout=StringIO())


def test_a_rollout_still_in_gate_is_refused_with_the_way_to_reset(db, settings):
    _seed(settings, "http://127.0.0.1:9/simulator/v1")  # the seed's rollouts stay drafts
    settings.SIMULATOR_ENABLED = True
    with pytest.raises(CommandError, match=r"has not passed its gate.*make reset-demo && make run"):
        call_command("demo_canary", stdout=StringIO())


def test_a_shadow_stage_seeded_before_the_demo_plan_is_refused(db, settings):
    _seed(settings, "http://127.0.0.1:9/simulator/v1")
    rollout = Rollout.objects.get(feature__key="support-reply")
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)  # the default plan: 1 h shadow
    with pytest.raises(DemoRefused, match=r"shadow stage asks for 1 h"):
        Scenario(base_url="http://127.0.0.1:9").rollout()


def test_the_demo_plan_shortens_shadow_only_and_keeps_the_default_canary_stages(db, settings):
    _seed(settings, "http://127.0.0.1:9/simulator/v1")
    rollout = Rollout.objects.get(feature__key="support-reply")
    demo_plan_write(rollout=rollout)
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    stages = list(rollout.stages.order_by("position"))
    assert (stages[0].status, stages[0].min_duration, stages[0].min_samples) == (
        "active",
        timedelta(minutes=1),
        20,
    )
    # demo_canary edits the rest with stage_plan_update, audited, before canary starts.
    assert [(s.percent, s.min_duration) for s in stages[1:3]] == [
        (1, timedelta(hours=24)),
        (5, timedelta(hours=4)),
    ]


def test_the_command_refuses_the_regression_without_the_simulator(db, settings):
    settings.DEBUG = True
    settings.SIMULATOR_ENABLED = False
    with pytest.raises(CommandError, match=r"SIMULATOR_ENABLED=true .* or pass --no-regression"):
        call_command("demo_canary", stdout=StringIO())
