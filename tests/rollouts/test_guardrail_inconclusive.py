"""'Inconclusive' holds for a human (issue 10): a guardrail whose test had its samples yet decides
neither way on a stage that met its minimums is amber with a plain sentence, the dashboard and
the stepper say a release manager decides, and Promote needs the decision confirmed."""

import html
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection
from django.template.loader import render_to_string
from django.utils import timezone

from registry.models import AuditEvent, MetricBlock, MetricMinute, Rollout
from registry.models.metrics import LATENCY_BUCKETS_MS
from rollouts.guardrails.evaluate import guardrails_context, guardrails_evaluate
from rollouts.models import Approval, Guardrail, GuardrailCheck, Stage
from rollouts.services.decision import decision_panel
from rollouts.services.promotion import rollout_promote
from rollouts.services.stages import active_stage
from tests.stages import serve_candidate
from traffic.metrics.upsert import MinuteRow, upsert_minutes

SENTENCE = (
    "the stage met its minimums; the test shows neither a breach nor the candidate within "
    "tolerance: a release manager decides — hold longer, promote with a note, or roll back"
)


@pytest.fixture
def canary(shadow_rollout) -> Rollout:
    """At 10% with the stage's minimums waived (tests/stages.py), running since an hour ago."""
    rollout = serve_candidate(shadow_rollout, 10)
    Stage.objects.filter(rollout=rollout, status="active").update(
        started=timezone.now() - timedelta(hours=1)
    )
    return rollout


def _minute(rollout: Rollout, variant: str, **counts) -> None:
    """Roll-ups as the ingest writes them (the minute and its ten-minute block)."""
    counts.setdefault("latency_hist", [0] * (len(LATENCY_BUCKETS_MS) + 1))
    at = (timezone.now() - timedelta(minutes=30)).replace(second=0, microsecond=0)
    upsert_minutes([MinuteRow(rollout_id=rollout.pk, variant=variant, minute=at, **counts)])


def _undecided(rollout: Rollout) -> None:
    """3,000 requests per arm (past the test's 200): errors 1.1% vs 1.0% at tolerance 0 show
    neither a breach nor 'within tolerance'; refusals are clearly within tolerance."""
    _minute(rollout, "baseline", requests=3000, errors=30, refusals=150)
    _minute(rollout, "candidate", requests=3000, errors=33, refusals=100)


def _states(rollout: Rollout) -> dict[str, str]:
    return dict(Guardrail.objects.filter(rollout=rollout).values_list("metric", "state"))


def _page(client, rollout: Rollout) -> str:
    return html.unescape(client.get(f"/rollouts/{rollout.code}/").content.decode())


def test_an_undecided_test_on_a_stage_that_met_its_minimums_is_inconclusive(canary):
    _undecided(canary)
    guardrails_evaluate(canary)
    canary.refresh_from_db()
    assert canary.status == Rollout.Status.CANARY
    states = _states(canary)
    assert states["error_rate"] == "inconclusive"
    assert states["refusal_rate"] == "ok"
    # Not judged at all (no latencies, no feedback, no verdicts): insufficient, never more.
    assert {states[m] for m in ("latency_p95", "negative_feedback", "reviewer_loss")} == {
        "insufficient"
    }
    evidence = Guardrail.objects.get(rollout=canary, metric="error_rate").last_evidence
    assert evidence["needs"] == SENTENCE
    assert "neither a breach nor 'within tolerance'" in evidence["test_needs"]
    assert evidence["candidate"] == {"n": 3000, "events": 33, "rate": 0.011}
    check = GuardrailCheck.objects.get(guardrail__metric="error_rate")
    assert check.state == "inconclusive"  # the state change is on the record
    guardrails_evaluate(canary)
    assert GuardrailCheck.objects.filter(guardrail__metric="error_rate").count() == 1


def test_the_card_and_the_panel_show_it_amber_with_the_sentence(canary):
    _undecided(canary)
    guardrails_evaluate(canary)
    context = guardrails_context(canary)
    row = next(r for r in context["guardrail_rows"] if r.guardrail.metric == "error_rate")
    assert row.colour == "amber"
    assert SENTENCE in row.summary
    assert context["guardrail_reds"] == []
    card = html.unescape(render_to_string("rollouts/_guardrails.html", context))
    assert "amber · Inconclusive" in card and SENTENCE in card
    panel = decision_panel(canary)
    item = next(i for i in panel.items if i.key == "guardrail:error_rate")
    assert (item.color, item.line) == ("amber", f"Inconclusive: {SENTENCE}.")
    assert not panel.red


@pytest.mark.parametrize(
    "unmet", [{"min_duration": timedelta(hours=24)}, {"min_samples": 5000}], ids=["time", "samples"]
)
def test_the_same_numbers_below_the_stage_minimums_stay_insufficient(canary, unmet):
    Stage.objects.filter(rollout=canary, status="active").update(**unmet)
    _undecided(canary)
    guardrails_evaluate(canary)
    error = Guardrail.objects.get(rollout=canary, metric="error_rate")
    assert error.state == "insufficient"
    assert "neither a breach nor 'within tolerance'" in error.last_evidence["needs"]


def test_no_data_and_cost_stay_insufficient_on_a_stage_that_met_its_minimums(canary):
    Guardrail.objects.create(rollout=canary, metric="cost", tolerance=0.2)
    _minute(canary, "baseline", requests=3000)
    _minute(canary, "candidate", requests=3000)
    guardrails_evaluate(canary)
    states = _states(canary)
    assert states["cost"] == "insufficient"
    assert states["latency_p95"] == "insufficient"  # no latency histogram to judge
    assert "inconclusive" not in {states["cost"], states["latency_p95"], states["reviewer_loss"]}


def test_a_database_fault_is_insufficient_not_inconclusive(canary):
    _undecided(canary)
    tables = (MetricMinute._meta.db_table, MetricBlock._meta.db_table)

    def cut(execute, sql, params, many, context):
        if any(table in sql for table in tables):
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(cut):
        results = guardrails_evaluate(canary)
    canary.refresh_from_db()
    assert canary.status == Rollout.Status.CANARY
    error = next(r for r in results if r.guardrail.metric == "error_rate")
    assert error.state == "insufficient"
    assert error.evidence["needs"] == "metric roll-ups that can be read"
    assert "inconclusive" not in _states(canary).values()


def test_the_service_refuses_a_promotion_that_does_not_confirm_it(canary, release):
    _undecided(canary)
    guardrails_evaluate(canary)
    with pytest.raises(ValidationError) as info:
        rollout_promote(rollout=canary, actor=release, note="looks fine")
    assert "Error rate" in info.value.message_dict["accept_inconclusive"][0]
    assert canary.candidate_percent == 10.0


def test_promote_on_the_page_needs_the_confirmation_then_records_it(canary, client_for):
    _undecided(canary)
    guardrails_evaluate(canary)
    client = client_for("release")
    url = f"/rollouts/{canary.code}/promote/"
    page = _page(client, canary)
    assert 'name="accept_inconclusive"' in page
    stage = active_stage(canary)
    approvals, events = Approval.objects.count(), AuditEvent.objects.count()

    refused = client.post(url, {"note": "looks fine", "stage": stage.position}, follow=True)
    shown = html.unescape(refused.content.decode())
    assert "accept_inconclusive: Inconclusive guardrail: Error rate." in shown
    assert "tick the box to confirm" in shown
    assert (Approval.objects.count(), AuditEvent.objects.count()) == (approvals, events)
    assert active_stage(canary).pk == stage.pk
    assert Rollout.objects.get(pk=canary.pk).candidate_bp == 1000

    client.post(
        url,
        {"note": "1.1% vs 1.0% is noise", "stage": stage.position, "accept_inconclusive": "yes"},
    )
    canary.refresh_from_db()
    assert canary.candidate_percent == 25.0
    approval = Approval.objects.latest("id")
    assert approval.evidence["inconclusive"] == {"guardrails": ["Error rate"], "accepted": True}
    # The next stage is judged afresh: the earlier stage's inconclusive does not hold it.
    assert "Ready: waits for a release manager's approval to go to 50%." in _page(client, canary)


def test_the_dashboard_and_the_stepper_say_a_release_manager_decides(canary, client_for):
    client = client_for("release")
    assert "approval to promote to 25%" in html.unescape(client.get("/").content.decode())
    _undecided(canary)
    guardrails_evaluate(canary)
    home = client.get("/")
    text = html.unescape(home.content.decode())
    assert "a release manager's decision: 1 guardrail inconclusive" in text
    assert "approval to promote to 25%" not in text
    assert any("1 guardrail inconclusive" in n.text for n in home.context["needs"])
    page = _page(client, canary)
    assert "Holds for a release manager's decision: 1 guardrail inconclusive (Error rate)" in page
    assert "Ready: waits" not in page
