"""What the guardrails partial (templates/rollouts/_guardrails.html) and the decision panel show:
each guardrail's state as green / amber / red with its numbers, and its recent history."""

from dataclasses import dataclass, field
from typing import Any

from registry.models import Rollout
from rollouts.models import Guardrail, GuardrailCheck

STATE = Guardrail.State
COLOUR: dict[str, str] = {
    STATE.OK: "green",
    STATE.INSUFFICIENT: "amber",
    STATE.INCONCLUSIVE: "amber",
    STATE.BREACH: "red",
}
HISTORY_SHOWN = 10
# What an inconclusive guardrail waits for (its evidence's `needs`, the card, the panel).
INCONCLUSIVE_NEEDS = (
    "the stage met its minimums; the test shows neither a breach nor the candidate within "
    "tolerance: a release manager decides — hold longer, promote with a note, or roll back"
)


def _pct(rate: Any) -> str:
    return "n/a" if rate is None else f"{rate:.2%}"


def _points(value: Any) -> str:
    return "n/a" if value is None else f"{value * 100:+.2f}"


@dataclass(frozen=True)
class Row:
    guardrail: Guardrail
    colour: str
    summary: str  # one plain sentence with the numbers
    candidate: str  # "2.40% of 3,100"
    baseline: str
    bound: str  # the always-valid interval of the excess, in percentage points
    needs: str  # what "insufficient" still waits for; for "inconclusive", what the test said
    history: list[tuple[GuardrailCheck, str]] = field(default_factory=list)

    @property
    def line(self) -> str:
        return f"{self.guardrail.get_metric_display()}: {self.summary}"


def _arm(arm: dict[str, Any] | None) -> str:
    if not arm or not arm.get("n"):
        return "no data"
    return f"{_pct(arm.get('rate'))} of {arm['n']:,}"


def _summary(guardrail: Guardrail, evidence: dict[str, Any]) -> str:
    if guardrail.last_checked is None:
        return "not evaluated yet (the canary's first minute)."
    tolerated = evidence.get("tolerated_rate")
    limit = f"tolerated up to {_pct(tolerated)}" if tolerated is not None else "no tolerated level"
    if guardrail.state == STATE.BREACH:
        return f"breached: the candidate is shown above the tolerated level ({limit})."
    if guardrail.state == STATE.OK:
        return (
            f"within tolerance: the candidate is shown at or below the tolerated level ({limit})."
        )
    if guardrail.state == STATE.INCONCLUSIVE:
        return f"inconclusive ({limit}): {INCONCLUSIVE_NEEDS}."
    return f"insufficient evidence ({limit}); needs {evidence.get('needs') or 'more data'}."


def _history_line(check: GuardrailCheck) -> str:
    evidence = check.evidence or {}
    arms = f"candidate {_arm(evidence.get('candidate'))}"
    if (evidence.get("baseline") or {}).get("n"):
        arms += f", baseline {_arm(evidence.get('baseline'))}"
    return (
        f"stage {check.stage.position + 1} ({check.stage.percent:g}%): "
        f"{check.get_state_display().lower()}; {arms}"
    )


def _row(guardrail: Guardrail, checks: list[GuardrailCheck]) -> Row:
    evidence = guardrail.last_evidence or {}
    low, high = evidence.get("low"), evidence.get("high")
    bound = "n/a" if low is None or high is None else f"[{_points(low)}, {_points(high)}] points"
    threshold = evidence.get("threshold_ms")
    baseline = _arm(evidence.get("baseline"))
    if guardrail.metric in (Guardrail.Metric.REVIEWER_LOSS, Guardrail.Metric.JUDGE_LOSS):
        # One sample: "worse" among worse + better; the baseline column says what it is held to.
        baseline = f"held to {_pct(evidence.get('tolerated_rate'))} worse"
    candidate = _arm(evidence.get("candidate"))
    if threshold:
        candidate += f" above {threshold:,} ms"
        baseline += f" above {threshold:,} ms" if evidence.get("baseline", {}).get("n") else ""
    return Row(
        guardrail=guardrail,
        colour=COLOUR.get(guardrail.state, "amber"),
        summary=_summary(guardrail, evidence),
        candidate=candidate,
        baseline=baseline,
        bound=bound,
        needs=_needs(guardrail.state, evidence),
        history=[(check, _history_line(check)) for check in checks],
    )


def _needs(state: str, evidence: dict[str, Any]) -> str:
    if state == STATE.INSUFFICIENT:
        return str(evidence.get("needs", ""))
    if state == STATE.INCONCLUSIVE:
        return str(evidence.get("test_needs", ""))
    return ""


def guardrails_context(rollout: Rollout) -> dict[str, Any]:
    """Context of the partial: `guardrail_rows` (one Row per guardrail), `guardrail_reds`
    (the breached ones, for the decision panel) and `guardrail_alpha`."""
    guardrails = list(Guardrail.objects.filter(rollout=rollout).order_by("metric"))
    # One bounded query per guardrail (a handful): an advisory breach that lasts adds a check
    # every minute, so the history is never read whole.
    rows = [
        _row(g, list(g.checks.select_related("stage").order_by("-created", "-id")[:HISTORY_SHOWN]))
        for g in guardrails
    ]
    alpha = next(
        (r.guardrail.last_evidence.get("alpha") for r in rows if r.guardrail.last_evidence), None
    )
    return {
        "guardrail_rows": rows,
        "guardrail_reds": [r for r in rows if r.colour == "red"],
        "guardrail_alpha": alpha,
        "guardrail_rollout": rollout,
    }
