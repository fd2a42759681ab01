"""Guardrails of a canary: the defaults, one evaluation, and the automatic rollback.

Defaults (`DEFAULTS`, created when a rollout enters canary; tolerance = the relative change the
candidate may be worse by, see sequential.py):
- error_rate, critical, 0%: errors are failures users see. The test rolls back once the
  candidate's error rate is shown above the baseline's (the benchmark's setting: a 2% candidate
  against 1% is rolled back within 3,500 candidate requests in ~82% of runs, 2-3% false rollbacks
  on A/A). Green at 0% needs the candidate shown *below* the baseline; raise the tolerance (0.2)
  to have green mean "at most 20% worse" at the price of slower detection.
- latency_p95, critical, 25%: the share of requests above the baseline's p95 bucket may grow from
  5% to 6.25%; latency tails are noisy, and a slower model is often acceptable up to a point.
- refusal_rate, critical, 20% (plus half a point absolute, measures.SLACK, so a canary with no
  refusals in either arm can be shown within tolerance): a model that refuses more is a
  regression the user sees at once.
- json_invalid, critical, 20% (+ half a point), only when the baseline or the candidate asks
  for JSON: unparsable answers break the caller.
- negative_feedback, advisory, 20% (+ one point): feedback is sparse and biased by who gives
  it; it notifies.
- reviewer_loss, advisory, 20% ("candidate worse" at most 1.2x "candidate better" among decided
  pairs), and judge_loss likewise when the rollout has a judge config: evidence for a human, the
  decision panel shows it red; they never roll back on their own.

`guardrails_evaluate` judges each guardrail over the active stage's window, stores the state and
its numbers, appends a GuardrailCheck whenever the state changes (and on every breach), rolls back
at once on a critical breach and notifies the feature's webhook after commit. Missing data (no
roll-ups, a database fault) is "insufficient", never a breach and never a pass.

"Inconclusive" (the issue: it holds for a human rather than promoting): the test had its own
minimum samples (sequential.Design.min_samples per arm) and the stage has met its minimums
(duration, samples per arm: stages.stage_evidence), yet the test shows neither a breach nor the
candidate within tolerance. More of the same stage is not promised to settle it (zero events in
both arms never does), so a release manager decides: hold longer, promote with a note (the
approval form asks to confirm it, promotion.py), or roll back. Whatever was not judged at all
(no data, a fault, cost) stays insufficient.
"""

import logging
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from registry.errors import Conflict
from registry.models import ModelConfig, Rollout
from registry.services.audit import audit_record
from rollouts.models import Guardrail, GuardrailCheck, Stage
from rollouts.services.rollouts import rollout_rollback
from rollouts.services.stages import active_stage, stage_evidence
from traffic.metrics import ArmTotals, arm_totals

from . import notify
from .display import INCONCLUSIVE_NEEDS, guardrails_context
from .measures import PAIR_DESIGN, insufficient, pair_evidence, traffic_evidence
from .sequential import DEFAULT_DESIGN

__all__ = [
    "DEFAULTS",
    "Result",
    "guardrails_context",
    "guardrails_ensure",
    "guardrails_evaluate",
    "inconclusive_guardrails",
]

logger = logging.getLogger("rollouts.guardrails")
METRIC, SEVERITY, STATE = Guardrail.Metric, Guardrail.Severity, Guardrail.State
CRITICAL, ADVISORY = SEVERITY.CRITICAL, SEVERITY.ADVISORY

# metric -> (tolerance, severity); see the module docstring for why each.
DEFAULTS: dict[str, tuple[float, str]] = {
    METRIC.ERROR_RATE: (0.0, CRITICAL),
    METRIC.LATENCY_P95: (0.25, CRITICAL),
    METRIC.REFUSAL_RATE: (0.2, CRITICAL),
    METRIC.JSON_INVALID: (0.2, CRITICAL),
    METRIC.NEGATIVE_FEEDBACK: (0.2, ADVISORY),
    METRIC.REVIEWER_LOSS: (0.2, ADVISORY),
    METRIC.JUDGE_LOSS: (0.2, ADVISORY),
}
PAIR_METRICS = (METRIC.REVIEWER_LOSS, METRIC.JUDGE_LOSS)
_JSON = (ModelConfig.ResponseFormat.JSON_OBJECT, ModelConfig.ResponseFormat.JSON_SCHEMA)


@dataclass(frozen=True)
class Result:
    guardrail: Guardrail
    state: str
    changed: bool
    evidence: dict[str, Any]

    @property
    def breached(self) -> bool:
        return self.state == STATE.BREACH


def _default_metrics(rollout: Rollout) -> list[str]:
    metrics: list[str] = [
        METRIC.ERROR_RATE,
        METRIC.LATENCY_P95,
        METRIC.REFUSAL_RATE,
        METRIC.NEGATIVE_FEEDBACK,
        METRIC.REVIEWER_LOSS,
    ]
    if rollout.baseline.response_format in _JSON or rollout.candidate.response_format in _JSON:
        metrics.append(METRIC.JSON_INVALID)
    if rollout.judge_config_id is not None:
        metrics.append(METRIC.JUDGE_LOSS)
    return metrics


def guardrails_ensure(rollout: Rollout) -> list[Guardrail]:
    """Create the default guardrails the rollout lacks (kept as they are when a release manager
    changed one); returns all of them. Idempotent, and safe when two callers race: the unique
    (rollout, metric) constraint keeps one row each."""
    have = set(Guardrail.objects.filter(rollout=rollout).values_list("metric", flat=True))
    Guardrail.objects.bulk_create(
        [
            Guardrail(
                rollout=rollout,
                metric=metric,
                tolerance=DEFAULTS[metric][0],
                severity=DEFAULTS[metric][1],
            )
            for metric in _default_metrics(rollout)
            if metric not in have
        ],
        ignore_conflicts=True,
    )
    return list(Guardrail.objects.filter(rollout=rollout).order_by("metric"))


def _totals(rollout: Rollout, stage: Stage) -> dict[str, ArmTotals] | None:
    # A savepoint: on PostgreSQL a failed query would otherwise poison the whole transaction.
    try:
        with transaction.atomic():
            return arm_totals(rollout_id=rollout.pk, start=stage.started, end=None)
    except DatabaseError:
        logger.exception("guardrails: roll-ups of rollout %s could not be read", rollout.pk)
        return None


def _stage_met(rollout: Rollout, stage: Stage, totals: dict[str, ArmTotals] | None) -> bool:
    """Whether the stage met its minimums, from the roll-ups read once for every guardrail.
    Unreadable roll-ups leave it unknown: then nothing is inconclusive."""
    if totals is None:
        return False
    try:
        with transaction.atomic():
            return stage_evidence(rollout, stage, totals=totals).met
    except DatabaseError:
        logger.exception("guardrails: stage minimums of rollout %s could not be read", rollout.pk)
        return False


def _test_had_its_samples(guardrail: Guardrail, evidence: dict[str, Any]) -> bool:
    # Only a verdict of the test carries its alpha; `insufficient` (no data, a fault, cost) not.
    if "alpha" not in evidence:
        return False
    pairs = guardrail.metric in PAIR_METRICS
    design = PAIR_DESIGN if pairs else DEFAULT_DESIGN
    arms = ("candidate",) if pairs else ("candidate", "baseline")  # pairs: one sample
    return all((evidence.get(arm) or {}).get("n", 0) >= design.min_samples for arm in arms)


def _held(guardrail: Guardrail, evidence: dict[str, Any], stage_met: bool) -> dict[str, Any]:
    """An undecided test on a stage that met its minimums is inconclusive (module docstring);
    what the test itself said stays in `test_needs`."""
    if (
        not stage_met
        or evidence["state"] != STATE.INSUFFICIENT
        or not _test_had_its_samples(guardrail, evidence)
    ):
        return evidence
    return {
        **evidence,
        "state": str(STATE.INCONCLUSIVE),
        "needs": INCONCLUSIVE_NEEDS,
        "test_needs": evidence.get("needs", ""),
    }


def _evidence(
    guardrail: Guardrail, rollout: Rollout, stage: Stage, totals: dict[str, ArmTotals] | None
) -> dict[str, Any]:
    started = stage.started or timezone.now()  # an active stage always has started; for mypy
    if guardrail.metric in PAIR_METRICS:
        try:
            with transaction.atomic():
                evidence = pair_evidence(guardrail, rollout, started)
        except DatabaseError:
            logger.exception("guardrails: verdicts of rollout %s could not be read", rollout.pk)
            evidence = insufficient("verdicts that can be read", tolerance=guardrail.tolerance)
    elif totals is None:
        evidence = insufficient("metric roll-ups that can be read", tolerance=guardrail.tolerance)
    else:
        evidence = traffic_evidence(guardrail, totals)
    return {
        **evidence,
        "metric": guardrail.metric,
        "label": guardrail.get_metric_display(),
        "severity": guardrail.severity,
        "stage": stage.position,
        "stage_percent": stage.percent,
        "since": started.isoformat(),
    }


def _judge(guardrail: Guardrail, stage: Stage, evidence: dict[str, Any]) -> Result:
    state = evidence["state"]
    changed = state != guardrail.state
    Guardrail.objects.filter(pk=guardrail.pk).update(
        state=state, last_checked=timezone.now(), last_evidence=evidence
    )
    if changed or state == STATE.BREACH:
        GuardrailCheck.objects.create(
            guardrail=guardrail, stage=stage, state=state, evidence=evidence
        )
    guardrail.refresh_from_db()
    return Result(guardrail=guardrail, state=state, changed=changed, evidence=evidence)


def breach_sentence(evidence: dict[str, Any]) -> str:
    """'Error rate breached: candidate 2.40% of 3,100 vs baseline 1.00% of 3,050 (tolerated
    up to 1.00%); the always-valid lower bound of the excess is +0.52 points.'"""
    c, b = evidence["candidate"], evidence["baseline"]
    low = evidence.get("low")
    bound = (
        f"; the always-valid lower bound of the excess is {low * 100:+.2f} points" if low else ""
    )
    tolerated = evidence.get("tolerated_rate")
    vs = (
        f" vs baseline {b['rate']:.2%} of {b['n']:,}"
        if b.get("n") and b.get("rate") is not None
        else ""
    )
    return (
        f"{evidence['label']} breached: candidate {c['rate']:.2%} of {c['n']:,}{vs} "
        f"(tolerated up to {tolerated:.2%}){bound}."
    )


@transaction.atomic
def guardrails_evaluate(rollout: Rollout) -> list[Result]:
    """One look at every guardrail of a canary (see the module docstring). A rollout that is
    not (or no longer) in canary, or has no active stage, is left alone: a second evaluation
    after a rollback does nothing."""
    locked = Rollout.objects.select_for_update().select_related("feature").get(pk=rollout.pk)
    if locked.status != Rollout.Status.CANARY:
        return []
    stage = active_stage(locked)
    if stage is None or stage.started is None:
        return []
    guardrails = guardrails_ensure(locked)
    totals = _totals(locked, stage)
    met = _stage_met(locked, stage, totals)  # once per evaluation, not once per guardrail
    results = [
        _judge(g, stage, _held(g, _evidence(g, locked, stage, totals), met)) for g in guardrails
    ]
    breaches = [r for r in results if r.breached]
    for result in breaches:
        if result.changed:
            audit_record(
                actor=None,
                action="guardrail.breach",
                obj=result.guardrail,
                before=None,
                after=result.evidence,
                reason=breach_sentence(result.evidence),
                feature_key=locked.feature.key,
            )
    critical = [r for r in breaches if r.guardrail.severity == CRITICAL]
    if critical:
        reason = "Automatic rollback. " + " ".join(breach_sentence(r.evidence) for r in critical)
        try:
            rollout_rollback(rollout=locked, actor=None, reason=reason)
        except Conflict:
            return results  # ended meanwhile (a person rolled back): nothing more to do
        _notify_after_commit(locked, critical, rolled_back=True)
    else:
        fresh = [r for r in breaches if r.changed]  # notify once per breach, not every minute
        if fresh:
            _notify_after_commit(locked, fresh, rolled_back=False)
    rollout.refresh_from_db()
    return results


def _notify_after_commit(rollout: Rollout, results: list[Result], *, rolled_back: bool) -> None:
    # After commit: the rollback never waits on (or fails with) a webhook.
    lines = [breach_sentence(r.evidence) for r in results]
    transaction.on_commit(
        lambda: notify.notify_breach(rollout=rollout, lines=lines, rolled_back=rolled_back)
    )


def canary_rollouts() -> list[int]:
    """Ids of the canaries the minute beat task evaluates. Paused ones too: a pause holds the
    promotion, not the traffic, so a paused canary still serves the candidate and must still
    roll back on a critical breach."""
    return list(
        Rollout.objects.filter(status=Rollout.Status.CANARY)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def inconclusive_guardrails(stages: dict[int, Stage]) -> dict[int, list[Guardrail]]:
    """Per rollout id (-> its active stage), the guardrails inconclusive in that stage, in one
    query: what holds a promotion for a release manager's decision. A state judged in an
    earlier stage does not hold the next one (the beat judges the new stage within a minute)."""
    found: dict[int, list[Guardrail]] = {pk: [] for pk in stages}
    for guardrail in Guardrail.objects.filter(
        rollout__in=list(stages), state=STATE.INCONCLUSIVE
    ).order_by("rollout", "metric"):
        if (guardrail.last_evidence or {}).get("stage") == stages[guardrail.rollout_id].position:
            found[guardrail.rollout_id].append(guardrail)
    return found
