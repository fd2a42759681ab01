"""The decision panel: the evidence a release manager reads before a promotion, each item green,
amber or red with its numbers and one plain sentence. Red blocks Promote (an admin may override
with a reason); what was shown is stored with the approval (Approval.evidence).

Reads only; pure rules on top of the gate, the review statistics, the judge and the guardrails.
"""

from dataclasses import dataclass, field
from typing import Any

from comparisons.services.stats import Rate, ReviewStats, rollout_review_stats
from evaluations.models import Gate
from evaluations.services.gates import latest_gate
from registry.models import Rollout
from rollouts.guardrails.display import INCONCLUSIVE_NEEDS
from rollouts.judging import judge_summary
from rollouts.models import Guardrail

GREEN, AMBER, RED, GREY = "green", "amber", "red", "grey"
# Below this many pairs with a verdict, review rates are too wide to lean on.
REVIEW_MIN_PAIRS = 30
JUDGE_MIN_PAIRS = 30


@dataclass(frozen=True)
class Item:
    key: str
    title: str
    color: str
    line: str
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def chip(self) -> str:
        """The status chip class of the app's stylesheet that carries this colour."""
        return {
            GREEN: "status-gate-passed",
            AMBER: "status-gate-needs_ack",
            RED: "status-gate-blocked",
        }.get(self.color, "status-gate-cancelled")

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "color": self.color,
            "line": self.line,
            "numbers": self.numbers,
        }


@dataclass(frozen=True)
class Panel:
    items: list[Item]

    @property
    def red(self) -> bool:
        return any(i.color == RED for i in self.items)

    @property
    def reds(self) -> list[Item]:
        return [i for i in self.items if i.color == RED]

    @property
    def amber(self) -> bool:
        return any(i.color == AMBER for i in self.items)

    def as_json(self) -> dict[str, Any]:
        return {"red": self.red, "items": [i.as_json() for i in self.items]}


def _pct(rate: Rate) -> str:
    return f"{rate.rate:.0%} (95% interval {rate.low:.0%} to {rate.high:.0%})"


def _rate_json(rate: Rate) -> dict[str, Any]:
    return {
        "count": rate.count,
        "n": rate.total,
        "rate": round(rate.rate, 4),
        "low": round(rate.low, 4),
        "high": round(rate.high, 4),
    }


def gate_item(rollout: Rollout, gate: Gate | None) -> Item:
    if gate is None:
        return Item("gate", "Eval gate", RED, "No eval gate has run on this candidate.")
    numbers = {"verdict": gate.verdict, "acknowledged": gate.acknowledged is not None}
    if gate.candidate_id != rollout.candidate_id or gate.baseline_id != rollout.baseline_id:
        return Item("gate", "Eval gate", RED, "The candidate changed since the gate ran.", numbers)
    if gate.verdict == Gate.Verdict.PASSED:
        return Item("gate", "Eval gate", GREEN, "Passed: no critical case got worse.", numbers)
    if gate.verdict == Gate.Verdict.NEEDS_ACK and gate.acknowledged:
        return Item(
            "gate",
            "Eval gate",
            AMBER,
            f"A dimension dropped past its threshold; accepted with a note: “{gate.ack_note}”.",
            numbers,
        )
    return Item(
        "gate", "Eval gate", RED, f"The gate is {gate.get_verdict_display().lower()}.", numbers
    )


def review_item(stats: ReviewStats) -> Item:
    win, loss, n = stats.win, stats.loss, stats.pairs_with_verdict
    numbers = {
        "pairs_with_verdict": n,
        "better": _rate_json(win),
        "worse": _rate_json(loss),
        "critical": len(stats.critical),
        "disagreements": stats.disagreements,
    }
    title = "Human review"
    if stats.critical:
        return Item(
            "review",
            title,
            RED,
            f"{len(stats.critical)} critical finding{'s' if len(stats.critical) > 1 else ''} "
            "by reviewers: read them before going further.",
            numbers,
        )
    if n == 0:
        return Item("review", title, AMBER, "No pair has a verdict yet.", numbers)
    summary = f"candidate worse on {_pct(loss)} of {n} pairs, better on {win.rate:.0%}"
    # Worse significantly more often than better, or on half the pairs once n says something.
    if loss.low > win.high or (n >= 10 and loss.rate >= 0.5):
        return Item("review", title, RED, f"Reviewers prefer the baseline: {summary}.", numbers)
    if n < REVIEW_MIN_PAIRS:
        return Item(
            "review",
            title,
            AMBER,
            f"Too few pairs to lean on ({n} of {REVIEW_MIN_PAIRS}): {summary}.",
            numbers,
        )
    if loss.rate > win.rate or stats.disagreements:
        extra = f"; {stats.disagreements} disagreement(s) await adjudication"
        return Item(
            "review",
            title,
            AMBER,
            f"Mixed: {summary}{extra if stats.disagreements else ''}.",
            numbers,
        )
    return Item("review", title, GREEN, f"No sign the candidate is worse: {summary}.", numbers)


def judge_item(summary: dict[str, Any]) -> Item:
    if summary.get("config") is None:
        return Item("judge", "Judge", GREY, "No judge configured (optional).")
    rates = summary["rates"]
    worse, better, judged = rates["worse"], rates["better"], summary["judged"]
    numbers = {
        "judge": summary["model_id"],
        "judged": judged,
        "errors": summary["errors"],
        "pending": summary["pending"],
        "better": _rate_json(better),
        "worse": _rate_json(worse),
    }
    if judged == 0:
        return Item("judge", "Judge", AMBER, "The judge has not graded any pair yet.", numbers)
    line = f"judge finds the candidate worse on {_pct(worse)} of {judged} pairs"
    if worse.low > better.high:
        return Item("judge", "Judge", RED, f"The judge prefers the baseline: {line}.", numbers)
    if judged < JUDGE_MIN_PAIRS or worse.rate > better.rate or summary["errors"]:
        return Item("judge", "Judge", AMBER, f"Not conclusive: {line}.", numbers)
    return Item("judge", "Judge", GREEN, f"No sign the candidate is worse: {line}.", numbers)


def guardrail_items(rollout: Rollout) -> list[Item]:
    rows = list(Guardrail.objects.filter(rollout=rollout).order_by("metric"))
    if not rows:
        return [
            Item(
                "guardrails",
                "Guardrails",
                GREY if rollout.candidate_bp == 0 else AMBER,
                "No guardrail is set yet; they watch the canary once the candidate serves.",
            )
        ]
    items = []
    for g in rows:
        numbers = {"state": g.state, "severity": g.severity, "evidence": g.last_evidence}
        title = f"Guardrail: {g.get_metric_display()}"
        if g.state == Guardrail.State.BREACH:
            color = RED if g.severity == Guardrail.Severity.CRITICAL else AMBER
            line = f"Breached: the candidate is worse by more than {g.tolerance:.0%}."
        elif g.state == Guardrail.State.OK:
            color, line = GREEN, f"Within tolerance (at most {g.tolerance:.0%} worse)."
        elif g.state == Guardrail.State.INCONCLUSIVE:
            # Amber, not red: it holds the promotion for a confirmed decision, not a block.
            color, line = AMBER, f"Inconclusive: {INCONCLUSIVE_NEEDS}."
        else:
            color, line = AMBER, "Insufficient evidence: too few requests to decide yet."
        items.append(Item(f"guardrail:{g.metric}", title, color, line, numbers))
    return items


def decision_panel(rollout: Rollout) -> Panel:
    return Panel(
        items=[
            gate_item(rollout, latest_gate(rollout)),
            review_item(rollout_review_stats(rollout)),
            judge_item(judge_summary(rollout)),
            *guardrail_items(rollout),
        ]
    )
