"""Guardrail evaluation on stored roll-ups: automatic rollback, notifications, idempotence."""

import json
from datetime import timedelta

import httpx
import pytest
from django.db import DatabaseError
from django.template.loader import render_to_string
from django.utils import timezone

from registry.models import AuditEvent, ModelConfig, Rollout
from registry.models.metrics import LATENCY_BUCKETS_MS
from rollouts.guardrails import evaluate, notify
from rollouts.guardrails.evaluate import (
    DEFAULTS,
    guardrails_context,
    guardrails_ensure,
    guardrails_evaluate,
)
from rollouts.models import Guardrail, GuardrailCheck, Stage
from rollouts.services import rollouts
from rollouts.tasks_guardrails import guardrails_evaluate_all
from tests.gates import pass_gate
from traffic.metrics.upsert import MinuteRow, upsert_minutes

SECRET_URL = "https://hooks.test/services/T000/B000/sekrit-webhook-token"


def to_canary(rollout: Rollout, percent: float = 10) -> Rollout:
    """Leave the rollout in canary at `percent` with its first canary stage running since an
    hour ago, as an approved promotion would (promotion is not what these tests are about)."""
    Stage.objects.filter(rollout=rollout).delete()
    Stage.objects.create(
        rollout=rollout, position=0, candidate_bp=0, status=Stage.Status.DONE,
        started=timezone.now() - timedelta(hours=3), ended=timezone.now() - timedelta(hours=1),
    )  # fmt: skip
    Stage.objects.create(
        rollout=rollout,
        position=1,
        candidate_bp=round(percent * 100),
        status=Stage.Status.ACTIVE,
        started=timezone.now() - timedelta(hours=1),
    )
    Stage.objects.create(rollout=rollout, position=2, candidate_bp=10_000)
    Rollout.objects.filter(pk=rollout.pk).update(
        status=Rollout.Status.CANARY, candidate_bp=round(percent * 100)
    )
    rollout.refresh_from_db()
    return rollout


def start_canary(feature, candidate: ModelConfig, **kwargs) -> Rollout:
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None, **kwargs)
    pass_gate(rollout)
    rollout = rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    return to_canary(rollout)


@pytest.fixture
def canary(feature, make_config, make_version) -> Rollout:
    return start_canary(feature, make_config("support v2", make_version("gpt-4o-2024-11-20")))


def minute(rollout: Rollout, variant: str, *, ago: int = 10, **counts) -> None:
    """One minute's counts, written as the gateway writes them (the minute and its block)."""
    counts.setdefault("latency_hist", [0] * (len(LATENCY_BUCKETS_MS) + 1))
    at = (timezone.now() - timedelta(minutes=ago)).replace(second=0, microsecond=0)
    upsert_minutes([MinuteRow(rollout_id=rollout.pk, variant=variant, minute=at, **counts)])


@pytest.fixture
def webhook(monkeypatch, settings, canary):
    """The feature's webhook variable set to a secret URL; the requests it received."""
    settings.PROVIDER_ALLOWED_HOSTS = ["hooks.test"]
    monkeypatch.setenv("SUPPORT_WEBHOOK_URL", SECRET_URL)
    canary.feature.webhook_url_env = "SUPPORT_WEBHOOK_URL"
    canary.feature.save(update_fields=["webhook_url_env"])
    received: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200, text="ok")

    monkeypatch.setattr(notify, "TRANSPORT", httpx.MockTransport(answer))
    return received


def state_of(rollout: Rollout, metric: str) -> str:
    return Guardrail.objects.get(rollout=rollout, metric=metric).state


def test_it_creates_the_default_guardrails_once(canary):
    first = guardrails_ensure(canary)
    again = guardrails_ensure(canary)
    assert [g.pk for g in first] == [g.pk for g in again]
    by_metric = {g.metric: g for g in again}
    assert set(by_metric) == {
        "error_rate", "latency_p95", "refusal_rate", "negative_feedback", "reviewer_loss",
    }  # fmt: skip
    assert by_metric["error_rate"].severity == "critical"
    assert by_metric["negative_feedback"].severity == "advisory"
    assert by_metric["latency_p95"].tolerance == DEFAULTS["latency_p95"][0]


def test_json_features_and_judged_rollouts_get_their_guardrails(feature, make_config):
    candidate = make_config("support json", response_format="json_object")
    judge = make_config("judge", temperature=0)
    rollout = start_canary(feature, candidate, judge_config=judge)
    metrics = {g.metric for g in guardrails_ensure(rollout)}
    assert {"json_invalid", "judge_loss"} <= metrics


def test_the_benchmark_runs_the_products_error_rate_default():
    from bench.bench_guardrails import ERROR_RATE_TOLERANCE

    assert DEFAULTS["error_rate"][0] == ERROR_RATE_TOLERANCE


def test_a_critical_breach_rolls_back_at_once_with_its_evidence(
    canary, webhook, django_capture_on_commit_callbacks
):
    minute(canary, "baseline", requests=3000, errors=30)
    minute(canary, "candidate", requests=3000, errors=120)
    with django_capture_on_commit_callbacks(execute=True):
        results = guardrails_evaluate(canary)
    canary.refresh_from_db()
    assert canary.status == Rollout.Status.ROLLED_BACK
    assert canary.candidate_bp == 0
    assert canary.status not in Rollout.SHADOWING  # shadow calls stop with the rollback
    assert not Stage.objects.filter(rollout=canary, status=Stage.Status.ACTIVE).exists()
    breached = [r for r in results if r.breached]
    assert [r.guardrail.metric for r in breached] == ["error_rate"]
    check = GuardrailCheck.objects.get(guardrail__metric="error_rate", state="breach")
    assert check.evidence["candidate"] == {"n": 3000, "events": 120, "rate": 0.04}
    assert check.evidence["low"] > 0
    rollback = AuditEvent.objects.get(action="rollout.rollback")
    assert rollback.actor_label == "system"
    assert "Error rate breached: candidate 4.00% of 3,000 vs baseline 1.00% of 3,000" in (
        rollback.reason
    )
    assert AuditEvent.objects.filter(action="guardrail.breach").count() == 1
    assert len(webhook) == 1
    body = json.loads(webhook[0].content)
    assert "rolled back automatically" in body["text"]
    assert f"/rollouts/{canary.code}/" in body["blocks"][-1]["elements"][0]["url"]


def test_a_second_evaluation_finds_the_rollout_ended_and_does_nothing(
    canary, webhook, django_capture_on_commit_callbacks
):
    minute(canary, "baseline", requests=3000, errors=30)
    minute(canary, "candidate", requests=3000, errors=120)
    with django_capture_on_commit_callbacks(execute=True):
        guardrails_evaluate(canary)
    events, checks = AuditEvent.objects.count(), GuardrailCheck.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        assert guardrails_evaluate(canary) == []
    assert (AuditEvent.objects.count(), GuardrailCheck.objects.count()) == (events, checks)
    assert len(webhook) == 1


def test_an_advisory_breach_notifies_once_and_does_not_roll_back(
    canary, webhook, django_capture_on_commit_callbacks
):
    minute(canary, "baseline", requests=3000, errors=30, feedback_up=900, feedback_down=100)
    minute(canary, "candidate", requests=3000, errors=30, feedback_up=500, feedback_down=500)
    with django_capture_on_commit_callbacks(execute=True):
        guardrails_evaluate(canary)
    canary.refresh_from_db()
    assert canary.status == Rollout.Status.CANARY
    assert state_of(canary, "negative_feedback") == "breach"
    assert len(webhook) == 1
    assert "advisory guardrail breached (no rollback)" in json.loads(webhook[0].content)["text"]
    with django_capture_on_commit_callbacks(execute=True):
        guardrails_evaluate(canary)
    assert len(webhook) == 1  # still breached: the webhook is not told every minute
    assert GuardrailCheck.objects.filter(guardrail__metric="negative_feedback").count() == 2


def test_too_little_data_never_rolls_back(canary, webhook, django_capture_on_commit_callbacks):
    minute(canary, "baseline", requests=100, errors=0)
    minute(canary, "candidate", requests=100, errors=60)
    with django_capture_on_commit_callbacks(execute=True):
        results = guardrails_evaluate(canary)
    canary.refresh_from_db()
    assert canary.status == Rollout.Status.CANARY
    error = next(r for r in results if r.guardrail.metric == "error_rate")
    assert error.state == "insufficient"
    assert "100 more candidate observations" in error.evidence["needs"]
    assert webhook == []


def test_no_roll_ups_at_all_is_insufficient_everywhere(canary):
    results = guardrails_evaluate(canary)
    assert {r.state for r in results} == {"insufficient"}
    assert not GuardrailCheck.objects.exists()  # insufficient is the initial state: no change


def test_a_database_fault_is_insufficient_not_a_breach(canary, monkeypatch):
    minute(canary, "baseline", requests=3000, errors=30)
    minute(canary, "candidate", requests=3000, errors=120)

    def broken(**kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(evaluate, "arm_totals", broken)
    results = guardrails_evaluate(canary)
    canary.refresh_from_db()
    assert canary.status == Rollout.Status.CANARY
    error = next(r for r in results if r.guardrail.metric == "error_rate")
    assert error.state == "insufficient"
    assert error.evidence["needs"] == "metric roll-ups that can be read"


def test_a_candidate_within_tolerance_turns_green_and_the_change_is_recorded(canary):
    minute(canary, "baseline", requests=50_000, errors=0, refusals=2500)
    minute(canary, "candidate", requests=50_000, errors=0, refusals=2000)
    guardrails_evaluate(canary)
    assert state_of(canary, "refusal_rate") == "ok"
    check = GuardrailCheck.objects.get(guardrail__metric="refusal_rate")
    assert check.state == "ok" and check.stage.position == 1


def test_a_slower_tail_breaches_the_latency_guardrail(canary):
    def hist(fast: int, slow: int) -> list[int]:
        counts = [0] * (len(LATENCY_BUCKETS_MS) + 1)
        counts[LATENCY_BUCKETS_MS.index(300)] = fast
        counts[LATENCY_BUCKETS_MS.index(2_000)] = slow
        return counts

    minute(canary, "baseline", requests=4000, latency_hist=hist(3900, 100))
    minute(canary, "candidate", requests=4000, latency_hist=hist(3000, 1000))
    guardrails_evaluate(canary)
    canary.refresh_from_db()
    assert canary.status == Rollout.Status.ROLLED_BACK
    evidence = Guardrail.objects.get(rollout=canary, metric="latency_p95").last_evidence
    assert evidence["threshold_ms"] == 300
    assert evidence["candidate"]["events"] == 1000


def test_data_from_before_the_stage_does_not_count(canary):
    minute(canary, "baseline", ago=120, requests=3000, errors=30)
    minute(canary, "candidate", ago=120, requests=3000, errors=300)
    guardrails_evaluate(canary)
    canary.refresh_from_db()
    assert canary.status == Rollout.Status.CANARY


def test_reviewer_losses_in_the_stage_notify_only(canary, cast, django_capture_on_commit_callbacks):
    from comparisons.models import Label, ShadowPair
    from registry.models import RequestLog

    for i in range(60):
        log = RequestLog.objects.create(
            feature=canary.feature, request_id=f"r{i}", source="ingest", config=canary.baseline,
            variant="baseline", rollout=canary, messages=[], output="a", started=timezone.now(),
        )  # fmt: skip
        pair = ShadowPair.objects.create(
            rollout=canary, request=log, request_key=log.request_id, messages=[],
            baseline_config=canary.baseline, candidate_config=canary.candidate,
            served_variant="baseline", baseline_output="a", candidate_output="b",
        )  # fmt: skip
        verdict = "worse" if i < 50 else "better"
        Label.objects.create(pair=pair, reviewer=cast["reviewer"], verdict=verdict)
    guardrails_evaluate(canary)
    canary.refresh_from_db()
    assert state_of(canary, "reviewer_loss") == "breach"
    assert canary.status == Rollout.Status.CANARY  # advisory


def test_a_paused_canary_is_still_watched_and_rolls_back_on_a_breach(canary):
    # A pause holds the promotion, not the traffic: the candidate still serves its share.
    minute(canary, "baseline", requests=3000, errors=30)
    minute(canary, "candidate", requests=3000, errors=120)
    Rollout.objects.filter(pk=canary.pk).update(paused=timezone.now())
    assert guardrails_evaluate_all() == 1
    canary.refresh_from_db()
    assert canary.status == Rollout.Status.ROLLED_BACK


def test_the_partial_shows_each_state_with_its_numbers(canary):
    minute(canary, "baseline", requests=3000, errors=30, refusals=150)
    minute(canary, "candidate", requests=3000, errors=120, refusals=150)
    guardrails_evaluate(canary)
    context = guardrails_context(canary)
    assert [r.guardrail.metric for r in context["guardrail_reds"]] == ["error_rate"]
    html = render_to_string("rollouts/_guardrails.html", context)
    assert "red · Breached" in html
    assert "4.00% of 3,000" in html and "1.00% of 3,000" in html
    assert "amber · Insufficient evidence" in html
    assert "History (1 latest state change)" in html


def test_the_partial_explains_an_empty_state(canary):
    html = render_to_string("rollouts/_guardrails.html", guardrails_context(canary))
    assert "Guardrails start when the canary does" in html
