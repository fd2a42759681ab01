"""The cells of a campaign's readiness matrix: one rollout's gate, review, shadow and canary
evidence, each as green / amber / red with the words that say why (colour is never the only
signal). Reads only."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max

from comparisons.models import Label, ShadowPair
from comparisons.services.stats import pair_outcomes
from evaluations.models import Gate
from registry.models import AuditEvent, Rollout

# Fewer decided pairs than this and the review cell stays amber, losing or not: a handful of
# verdicts is too few to call the candidate worse (or better).
MIN_REVIEW_VERDICTS = 30
STATUS = Rollout.Status


@dataclass(frozen=True)
class Cell:
    level: str  # "ok" (green), "warn" (amber), "bad" (red), "idle" (grey: not reached yet)
    text: str

    @property
    def css(self) -> str:
        return {
            "ok": "status status-completed",
            "warn": "badge warning",
            "bad": "badge danger",
        }.get(self.level, "status")


NOT_REACHED = Cell("idle", "—")


@dataclass(frozen=True)
class Evidence:
    gate: Gate | None
    pairs: int
    verdicts: Counter[str]
    last_movement: datetime | None


def evidence(rollouts: Iterable[Rollout]) -> dict[int, Evidence]:
    """What the matrix needs of each rollout, in four queries plus one review read each."""
    rollouts = list(rollouts)
    ids = [r.pk for r in rollouts]
    gates: dict[int, Gate] = {}
    for row in Gate.objects.filter(rollout_id__in=ids).order_by("-created", "-id"):
        if row.rollout_id is not None:  # always, by the filter; the check narrows the type
            gates.setdefault(row.rollout_id, row)
    pairs = dict(
        ShadowPair.objects.filter(rollout_id__in=ids)
        .values("rollout_id")
        .annotate(n=Count("id"))
        .values_list("rollout_id", "n")
    )
    moved = dict(
        AuditEvent.objects.filter(
            object_type="rollouts.rollout", object_id__in=[str(r.code) for r in rollouts]
        )
        .values("object_id")
        .annotate(last=Max("created"))
        .values_list("object_id", "last")
    )
    out = {}
    for rollout in rollouts:
        gate = gates.get(rollout.pk)
        # A gate finishing is movement too, though its event is the gate's, not the rollout's.
        times = [t for t in (moved.get(str(rollout.code)), gate.finished if gate else None) if t]
        verdicts = Counter(
            o.verdict for o in pair_outcomes(rollout).values() if o.verdict is not None
        )
        out[rollout.pk] = Evidence(
            gate, pairs.get(rollout.pk, 0), verdicts, max(times, default=None)
        )
    return out


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def gate_cell(rollout: Rollout, gate: Gate | None) -> Cell:
    if gate is None or gate.candidate_id != rollout.candidate_id:
        if rollout.status in (STATUS.DRAFT, STATUS.GATE):
            return Cell("warn", "not run" if gate is None else "not run on this candidate")
        return Cell("idle", "no gate")  # an older rollout, from before gates
    verdict = gate.Verdict
    if gate.clears:
        acked = gate.verdict == verdict.NEEDS_ACK
        return Cell("ok", "acknowledged" if acked else "passed")
    if gate.verdict == verdict.BLOCKED:
        return Cell("bad", "blocked: a critical case regressed")
    if gate.verdict == verdict.NEEDS_ACK:
        return Cell("warn", "needs acknowledgement")
    if gate.verdict == verdict.RUNNING:
        return Cell("idle", "running")  # nothing to act on yet: grey, not amber
    return Cell("bad", f"{gate.get_verdict_display().lower()}: run it again")


def review_cell(verdicts: Counter[str]) -> Cell:
    n = sum(verdicts.values())
    if not n:
        return Cell("warn", "no verdicts yet")
    worse, better = verdicts[Label.Verdict.WORSE], verdicts[Label.Verdict.BETTER]
    text = f"{_count(n, 'verdict')}, {round(100 * worse / n)}% candidate worse"
    if n < MIN_REVIEW_VERDICTS:
        return Cell("warn", f"{text} (fewer than {MIN_REVIEW_VERDICTS})")
    if worse > better:
        return Cell("bad", text)
    return Cell("ok", text)


def shadow_cell(rollout: Rollout, pairs: int) -> Cell:
    if pairs:
        return Cell("ok", _count(pairs, "pair"))
    if rollout.status in Rollout.SHADOWING:
        return Cell("warn", "no pairs yet")
    return Cell("idle", "not started")


def canary_cell(rollout: Rollout) -> Cell:
    if rollout.status == STATUS.COMPLETED:
        return Cell("ok", "completed: the candidate serves 100%")
    if rollout.status == STATUS.CANARY:
        return Cell("warn", f"canary at {rollout.candidate_percent:g}%")
    if rollout.status in (STATUS.ROLLED_BACK, STATUS.ABORTED):
        return Cell("bad", rollout.get_status_display().lower())
    return Cell("idle", "not serving")
