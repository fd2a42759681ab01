"""What each guardrail metric counts, per arm, over the active stage's window, and its verdict.

Every metric is a proportion, "higher is worse" (see sequential.py):
- error_rate: errors / requests.
- refusal_rate: refusals / requests (traffic/refusals.py's detector, counted in the roll-ups).
- json_invalid: answers that did not parse / answers of a config that asks for JSON.
- negative_feedback: thumbs-down (or scores 1-2) / feedback given.
- latency_p95: requests slower than the baseline's p95 bucket boundary / requests with a latency
  (`sequential.share_above`). Without regression that share is at most 5% on both arms; a
  candidate slower at the tail has more of its requests above the boundary. The boundary is read
  from the baseline's histogram of the same window, so it moves only when the baseline's p95
  crosses one of the coarse LATENCY_BUCKETS_MS edges.
- reviewer_loss / judge_loss: one sample of pair verdicts. Among the stage window's decided pairs
  that are not ties, the share judged "candidate worse"; "worse <= (1 + tol) x better" is
  "share <= (1 + tol) / (2 + tol)" (one half at tolerance 0).
- cost: not judged. The roll-ups keep sums per minute, not the per-request spread a sequential
  test needs; the canary charts show it. A cost guardrail (added by hand) stays insufficient.
"""

from collections import Counter
from datetime import datetime
from typing import Any

from comparisons.models import Label
from comparisons.services.stats import pair_outcomes
from registry.models import Rollout
from registry.models.metrics import LATENCY_BUCKETS_MS
from rollouts.models import Guardrail, PairJudgement
from traffic.metrics import ArmTotals

from .sequential import (
    DEFAULT_DESIGN,
    Design,
    State,
    Verdict,
    one_proportion,
    share_above,
    two_proportions,
)

METRIC = Guardrail.Metric
# Absolute slack (a rate) on top of the relative tolerance, for events that are often absent
# from both arms: with no refusal in 2,000 baseline answers the relative tolerance allows
# nothing, so a candidate without refusals could never be shown within it and every clean
# canary would hold as "inconclusive". Half a point of refusals or unparsable JSON, one point of
# thumbs-down. Errors keep none: the error-rate guardrail is the one tuned by
# bench/bench_guardrails.py, and errors are rarely absent from a real provider's traffic.
SLACK: dict[str, float] = {
    METRIC.REFUSAL_RATE: 0.005,
    METRIC.JSON_INVALID: 0.005,
    METRIC.NEGATIVE_FEEDBACK: 0.01,
}
# Human and judge verdicts arrive far slower than requests: the pair tests decide from 50 pairs.
PAIR_DESIGN = Design(alpha=DEFAULT_DESIGN.alpha, mixture_n=50, min_samples=50)
COST_NOT_JUDGED = (
    "cost per request is charted, not judged: the roll-ups keep sums, not the per-request spread "
    "a sequential test needs"
)


def _counts(metric: str, arm: ArmTotals) -> tuple[int, int]:
    """(events, n) of one arm for a per-request proportion metric."""
    if metric == METRIC.ERROR_RATE:
        return arm.errors, arm.requests
    if metric == METRIC.REFUSAL_RATE:
        return arm.refusals, arm.requests
    if metric == METRIC.JSON_INVALID:
        return arm.json_invalid, arm.json_checked
    if metric == METRIC.NEGATIVE_FEEDBACK:
        return arm.feedback_down, arm.feedback_up + arm.feedback_down
    raise ValueError(f"{metric} is not a per-request proportion")


def insufficient(reason: str, *, tolerance: float) -> dict[str, Any]:
    """Evidence of a guardrail that could not be judged at all (no data, a fault, cost)."""
    return {
        "state": str(State.INSUFFICIENT),
        "tolerance": tolerance,
        "needs": reason,
        "candidate": {"n": 0, "events": 0, "rate": None},
        "baseline": {"n": 0, "events": 0, "rate": None},
    }


def _judged(verdict: Verdict, **extra: Any) -> dict[str, Any]:
    return {**verdict.to_json(), **extra}


def traffic_evidence(guardrail: Guardrail, totals: dict[str, ArmTotals]) -> dict[str, Any]:
    """The verdict of a roll-up metric from the arms' totals."""
    metric, tol = guardrail.metric, guardrail.tolerance
    baseline, candidate = totals["baseline"], totals["candidate"]
    if metric == METRIC.COST:
        return insufficient(COST_NOT_JUDGED, tolerance=tol)
    if metric == METRIC.LATENCY_P95:
        split = _latency_split(baseline, candidate)
        if split is None:
            return insufficient(
                "baseline latencies with a p95 below the last histogram bucket", tolerance=tol
            )
        c, b, threshold = split
        verdict = two_proportions(candidate=c, baseline=b, tolerance=tol)
        return _judged(
            verdict,
            threshold_ms=threshold,
            p95_ms={"baseline": _round(baseline.p95), "candidate": _round(candidate.p95)},
        )
    verdict = two_proportions(
        candidate=_counts(metric, candidate),
        baseline=_counts(metric, baseline),
        tolerance=tol,
        slack=SLACK.get(metric, 0.0),
    )
    return _judged(verdict, slack=SLACK.get(metric, 0.0))


def _latency_split(
    baseline: ArmTotals, candidate: ArmTotals
) -> tuple[tuple[int, int], tuple[int, int], int] | None:
    width = len(LATENCY_BUCKETS_MS) + 1

    def padded(hist: list[int]) -> list[int]:
        return (list(hist) + [0] * width)[:width]

    return share_above(
        padded(baseline.latency_hist), padded(candidate.latency_hist), LATENCY_BUCKETS_MS
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def pair_evidence(guardrail: Guardrail, rollout: Rollout, start: datetime) -> dict[str, Any]:
    """reviewer_loss / judge_loss over the verdicts decided since the stage started."""
    tol = guardrail.tolerance
    if guardrail.metric == METRIC.REVIEWER_LOSS:
        verdicts = Counter(
            outcome.verdict
            for outcome in pair_outcomes(rollout).values()
            if outcome.verdict is not None and outcome.decided >= start
        )
        worse, better = verdicts[Label.Verdict.WORSE], verdicts[Label.Verdict.BETTER]
    else:
        if rollout.judge_config_id is None:
            return insufficient("a judge config on the rollout", tolerance=tol)
        judged = Counter(
            PairJudgement.objects.filter(
                pair__rollout=rollout,
                judge_id=rollout.judge_config_id,
                status=PairJudgement.Status.DONE,
                created__gte=start,
            ).values_list("verdict", flat=True)
        )
        worse, better = judged[PairJudgement.Verdict.WORSE], judged[PairJudgement.Verdict.BETTER]
    null_rate = (1 + tol) / (2 + tol)
    verdict = one_proportion(
        events=worse, n=worse + better, null_rate=null_rate, design=PAIR_DESIGN
    )
    return _judged(verdict, worse=worse, better=better)
