"""The stage plan of a rollout: which stage is active, what it waits for, and edits to the stages
that have not started. Promotion between stages is in rollouts/services/promotion.py.

Defaults (a release manager edits them on the rollout page until each stage starts):
shadow 1 h / 100 pairs, then 1% for 24 h (the issue's minimum for the first canary stage: a
full daily cycle of traffic), then 5, 10, 25, 50 and 100% for 4 h each (enough for an hourly
pattern and a shift of on-call to notice), every canary stage with at least 500 requests per
arm so a guardrail has the numbers to decide on.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q

from comparisons.models import ShadowPair
from registry.errors import Conflict
from registry.models import Rollout
from registry.services.audit import audit_record, db_now
from rollouts.models import Approval, Stage
from traffic.metrics import ArmTotals, arm_totals
from traffic.metrics.reads import arm_totals_many

# (percent, minimum duration, minimum samples per arm); the first row is shadow (0% served).
DEFAULT_PLAN: tuple[tuple[float, timedelta, int], ...] = (
    (0, timedelta(hours=1), 100),
    (1, timedelta(hours=24), 500),
    (5, timedelta(hours=4), 500),
    (10, timedelta(hours=4), 500),
    (25, timedelta(hours=4), 500),
    (50, timedelta(hours=4), 500),
    (100, timedelta(hours=4), 500),
)
ARMS = ("baseline", "candidate")


def stages_of(rollout: Rollout) -> list[Stage]:
    return list(Stage.objects.filter(rollout=rollout).order_by("position"))


def active_stage(rollout: Rollout) -> Stage | None:
    return Stage.objects.filter(rollout=rollout, status=Stage.Status.ACTIVE).first()


def next_stage(rollout: Rollout, after: Stage) -> Stage | None:
    return (
        Stage.objects.filter(
            rollout=rollout, status=Stage.Status.PLANNED, position__gt=after.position
        )
        .order_by("position")
        .first()
    )


def stage_plan_write(
    *, rollout: Rollout, plan: Sequence[tuple[float, timedelta, int]] = DEFAULT_PLAN
) -> bool:
    """Write a plan of (percent, minimum duration, minimum samples) rows, none started, unless
    the rollout has one already (then it is kept: False)."""
    if Stage.objects.filter(rollout=rollout).exists():
        return False
    Stage.objects.bulk_create(
        Stage(
            rollout=rollout,
            position=position,
            candidate_bp=round(percent * 100),
            min_duration=duration,
            min_samples=samples,
        )
        for position, (percent, duration, samples) in enumerate(plan)
    )
    return True


def stage_plan_create(*, rollout: Rollout) -> list[Stage]:
    """Write the default plan (unless the rollout has one) and start its first stage (shadow).
    Runs in the caller's transaction: rollout_start_shadow's."""
    now = db_now()
    stage_plan_write(rollout=rollout)
    if active_stage(rollout) is None:
        first = Stage.objects.filter(rollout=rollout, status=Stage.Status.PLANNED).first()
        if first is not None:
            Stage.objects.filter(pk=first.pk).update(status=Stage.Status.ACTIVE, started=now)
    return stages_of(rollout)


def stage_plan_end(*, rollout: Rollout) -> None:
    """The rollout ended: the running stage is done, the ones that never ran are skipped."""
    now = db_now()
    Stage.objects.filter(rollout=rollout, status=Stage.Status.ACTIVE).update(
        status=Stage.Status.DONE, ended=now
    )
    Stage.objects.filter(rollout=rollout, status=Stage.Status.PLANNED).update(
        status=Stage.Status.SKIPPED
    )


def stage_evidence_window(rollout: Rollout) -> tuple[datetime, datetime | None]:
    """From the start of the active stage to now (None), or the span of the last stage that ran
    once the rollout ended. Guardrails and the stage minimums count requests in this window."""
    stage = active_stage(rollout)
    if stage is None:
        stage = (
            Stage.objects.filter(rollout=rollout, started__isnull=False)
            .order_by("-position")
            .first()
        )
    if stage is None or stage.started is None:
        return rollout.created, rollout.ended
    return stage.started, stage.ended


def arm_counts(rollout: Rollout, start: datetime, end: datetime | None) -> dict[str, int]:
    """Requests per arm in the window, the one place stage minimums count samples: the
    per-minute roll-ups (traffic.metrics, whole minutes overlapping the window, so a stage that
    starts mid-minute also counts that minute's earlier requests).

    While the candidate serves nobody (shadow) its arm is the shadow pairs with an answer."""
    return _counts(rollout, arm_totals(rollout_id=rollout.pk, start=start, end=end), start, end)


def _counts(
    rollout: Rollout,
    totals: dict[str, ArmTotals],
    start: datetime,
    end: datetime | None,
    shadow_pairs: int | None = None,
) -> dict[str, int]:
    counts = {arm: int(totals[arm].requests) for arm in ARMS}
    if rollout.candidate_bp == 0:
        if shadow_pairs is None:
            pairs = ShadowPair.objects.filter(
                rollout=rollout, created__gte=start, candidate_error=""
            )
            shadow_pairs = (pairs if end is None else pairs.filter(created__lt=end)).count()
        counts["candidate"] = shadow_pairs
    return counts


def duration_text(span: timedelta) -> str:
    """'3 h 10 min', '2 d 4 h', '45 min', '30 s': how long to wait, in plain words."""
    seconds = max(0, int(span.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"


@dataclass(frozen=True)
class Evidence:
    """How far the active stage is from its minimums."""

    stage: Stage
    elapsed: timedelta
    samples: dict[str, int]
    paused: bool = False
    missing: dict[str, int] = field(default_factory=dict)

    @property
    def time_left(self) -> timedelta:
        return max(timedelta(0), self.stage.min_duration - self.elapsed)

    @property
    def met(self) -> bool:
        return not self.time_left and not any(self.missing.values())

    @property
    def message(self) -> str:
        """'insufficient evidence: 3 h 10 min and 120 more candidate requests to go'."""
        if self.met:
            return "The stage has met its minimum duration and sample size."
        parts = [duration_text(self.time_left)] if self.time_left else []
        noun = "pairs" if self.stage.is_shadow else "requests"
        parts += [f"{n} more {arm} {noun}" for arm, n in self.missing.items() if n]
        return f"insufficient evidence: {' and '.join(parts)} to go"

    def as_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage.position,
            "percent": self.stage.percent,
            "elapsed_seconds": int(self.elapsed.total_seconds()),
            "min_duration_seconds": int(self.stage.min_duration.total_seconds()),
            "samples": self.samples,
            "min_samples": self.stage.min_samples,
            "met": self.met,
        }


def stage_evidence(
    rollout: Rollout,
    stage: Stage,
    *,
    now: datetime | None = None,
    totals: dict[str, ArmTotals] | None = None,
) -> Evidence:
    """How far `stage` is from its minimums. `totals`: the arms' roll-ups since the stage
    started when the caller has read them already (the guardrails), so they are read once."""
    now = now or db_now()
    started = stage.started or now
    if totals is None:
        samples = arm_counts(rollout, started, None)
    else:
        samples = _counts(rollout, totals, started, None)
    return _evidence(rollout, stage, samples, now)


def stage_evidence_many(
    active: Sequence[tuple[Rollout, Stage]], *, now: datetime
) -> dict[int, Evidence]:
    """`stage_evidence` of several rollouts' active stages, by rollout id, in a fixed number of
    queries whatever their number (the dashboard): one grouped read of the roll-ups and one
    grouped count of the shadow pairs, each rollout over its own stage's window."""
    starts = {rollout.pk: stage.started or now for rollout, stage in active}
    totals = arm_totals_many({pk: (start, None) for pk, start in starts.items()}, error_kinds=False)
    shadow = [rollout for rollout, _stage in active if rollout.candidate_bp == 0]
    pairs: dict[int, int] = {}
    if shadow:
        windows = Q()
        for rollout in shadow:
            windows |= Q(rollout_id=rollout.pk, created__gte=starts[rollout.pk])
        pairs = dict(
            ShadowPair.objects.filter(windows, candidate_error="")
            .values("rollout")
            .annotate(n=Count("id"))
            .values_list("rollout", "n")
        )
    return {
        rollout.pk: _evidence(
            rollout,
            stage,
            _counts(
                rollout, totals[rollout.pk], starts[rollout.pk], None, pairs.get(rollout.pk, 0)
            ),
            now,
        )
        for rollout, stage in active
    }


def _evidence(rollout: Rollout, stage: Stage, samples: dict[str, int], now: datetime) -> Evidence:
    started = stage.started or now
    # A paused stage's clock stops at the pause (and restarts on resume: promotion.py).
    until = rollout.paused or now
    missing = {arm: max(0, stage.min_samples - samples[arm]) for arm in ARMS}
    return Evidence(
        stage=stage,
        elapsed=max(timedelta(0), until - started),
        samples=samples,
        paused=rollout.paused is not None,
        missing=missing,
    )


@dataclass(frozen=True)
class PlannedStage:
    percent: float
    min_duration: timedelta
    min_samples: int


def clean_plan(rows: list[PlannedStage], *, after_bp: int) -> list[PlannedStage]:
    """The remaining stages as edited: percentages strictly increasing above the running stage's,
    ending at 100; durations and samples not negative. Errors name the row and the field."""
    if not rows:
        raise ValidationError({"stages": "Keep at least the 100% stage."})
    previous = after_bp / 100
    for i, row in enumerate(rows, start=1):
        if not 0 < row.percent <= 100:
            raise ValidationError(
                {f"stages[{i}].percent": "Give a percentage above 0 and at most 100."}
            )
        if row.percent <= previous:
            raise ValidationError(
                {
                    f"stages[{i}].percent": f"{row.percent:g}% does not grow past {previous:g}%: "
                    "each stage serves more than the one before."
                }
            )
        if row.min_duration < timedelta(0):
            raise ValidationError({f"stages[{i}].min_duration": "Give 0 hours or more."})
        if row.min_samples < 0:
            raise ValidationError({f"stages[{i}].min_samples": "Give 0 requests or more."})
        previous = row.percent
    if rows[-1].percent != 100:
        raise ValidationError(
            {f"stages[{len(rows)}].percent": "The last stage serves 100%: end the plan there."}
        )
    return rows


@transaction.atomic
def stage_plan_update(
    *, rollout: Rollout, rows: list[PlannedStage], actor: Any, reason: str = ""
) -> list[Stage]:
    """Replace the stages that have not started with `rows`. The running stage stays as it
    started: its minimums were the promise its evidence is judged by."""
    locked = Rollout.objects.select_for_update().get(pk=rollout.pk)
    if locked.status not in (Rollout.Status.SHADOW, Rollout.Status.CANARY):
        raise Conflict(
            f"This rollout is {locked.get_status_display().lower()}: only a rollout in shadow "
            "or canary has a plan to edit."
        )
    current = active_stage(locked)
    if current is None:
        raise Conflict("No stage is running, so there is nothing left to plan.")
    rows = clean_plan(rows, after_bp=current.candidate_bp)
    if Approval.objects.filter(to_stage__rollout=locked, to_stage__status="planned").exists():
        raise Conflict(
            "A promotion to the next stage has an approval waiting for a second release manager;"
            " promote (or roll back) first, then edit the plan."
        )
    before = [_stage_json(s) for s in stages_of(locked)]
    Stage.objects.filter(rollout=locked, status=Stage.Status.PLANNED).delete()
    Stage.objects.bulk_create(
        Stage(
            rollout=locked,
            position=current.position + i,
            candidate_bp=round(row.percent * 100),
            min_duration=row.min_duration,
            min_samples=row.min_samples,
        )
        for i, row in enumerate(rows, start=1)
    )
    after = stages_of(locked)
    audit_record(
        actor=actor,
        action="rollout.edit_plan",
        obj=locked,
        before={"stages": before},
        after={"stages": [_stage_json(s) for s in after]},
        reason=reason,
        feature_key=locked.feature.key,
    )
    return after


def _stage_json(stage: Stage) -> dict[str, Any]:
    return {
        "position": stage.position,
        "percent": stage.percent,
        "min_duration_hours": round(stage.min_duration.total_seconds() / 3600, 2),
        "min_samples": stage.min_samples,
        "status": stage.status,
    }
