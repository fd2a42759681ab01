"""What each active rollout waits for, and what waits for the signed-in person: the dashboard's
"active rollouts" and "needs me" cards.

A stage is ready for approval once it has run its minimum duration and each arm has its minimum
sample, by the stage's own rule (`stage_evidence`); with a guardrail inconclusive it waits for a
release manager's decision instead (rollouts/guardrails/evaluate.py). Reads only, in a fixed
number of queries whatever the number of active rollouts (test_dashboard_queries.py)."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, F
from django.urls import reverse

from comparisons.models import ShadowPair
from comparisons.services.review import waiting_count
from evaluations.models import Gate
from registry.models import Rollout
from registry.roles import Role, has_role
from rollouts.guardrails.evaluate import inconclusive_guardrails
from rollouts.models import Stage

from .live import Split, live_splits
from .stages import Evidence, duration_text, stage_evidence_many

STATUS = Rollout.Status
VERDICT = Gate.Verdict


@dataclass(frozen=True)
class Wait:
    # gate_running, gate_blocked, gate_ack, gate_passed, run_gate, paused, time, samples,
    # reviews, approval, complete
    kind: str
    text: str


@dataclass(frozen=True)
class ActiveRollout:
    rollout: Rollout
    split: Split
    stage: Stage | None
    next_stage: Stage | None
    gate: Gate | None
    waits: tuple[Wait, ...]

    @property
    def ready_for_approval(self) -> bool:
        return any(w.kind in ("approval", "complete") for w in self.waits)


@dataclass(frozen=True)
class Need:
    text: str
    url: str


def _gate_wait(gate: Gate | None, rollout: Rollout) -> Wait:
    if rollout.status == STATUS.DRAFT or gate is None:
        return Wait("run_gate", "a release manager to run the eval gate")
    if gate.candidate_id != rollout.candidate_id:
        return Wait("run_gate", "the gate to run again on the changed candidate")
    if gate.verdict == VERDICT.RUNNING:
        return Wait("gate_running", "the eval gate, running now")
    if gate.verdict == VERDICT.BLOCKED:
        return Wait("gate_blocked", "a new candidate: the gate blocked this one")
    if gate.verdict == VERDICT.NEEDS_ACK and gate.acknowledged is None:
        return Wait("gate_ack", "a release manager to acknowledge the gate")
    if gate.clears:
        return Wait("gate_passed", "a release manager to start shadow (the gate passed)")
    return Wait("run_gate", f"the gate to run again (it was {gate.get_verdict_display().lower()})")


def _stage_waits(
    rollout: Rollout,
    stage: Stage | None,
    next_stage: Stage | None,
    *,
    evidence: Evidence | None,
    inconclusive: int,
    to_review: int,
) -> list[Wait]:
    waits: list[Wait] = []
    if rollout.paused is not None:
        return [Wait("paused", "a release manager to resume it (paused)")]
    if stage is not None and evidence is not None:
        # The stage's own evidence rule (rollouts/services/stages.py), so the dashboard and the
        # promote button never disagree on whether a stage is ready.
        if evidence.time_left:
            left = duration_text(evidence.time_left)
            waits.append(Wait("time", f"time: {left} left of the stage's minimum"))
        noun = "pairs" if stage.is_shadow else "requests"
        for arm, n in evidence.missing.items():
            if n:
                have = evidence.samples.get(arm, 0)
                waits.append(
                    Wait("samples", f"samples: {have} of {stage.min_samples} {arm} {noun}")
                )
    if to_review:
        waits.append(Wait("reviews", f"{to_review} pair{'s' if to_review != 1 else ''} to review"))
    if any(w.kind in ("time", "samples") for w in waits):
        return waits
    if next_stage is not None and inconclusive:
        # Held for a human, not "ready": promoting means confirming the open question.
        waits.append(
            Wait(
                "approval",
                f"a release manager's decision: {inconclusive} guardrail"
                f"{'s' if inconclusive != 1 else ''} inconclusive (hold longer, promote to "
                f"{next_stage.percent:g}% with a note, or roll back)",
            )
        )
    elif next_stage is not None:
        waits.append(Wait("approval", f"approval to promote to {next_stage.percent:g}%"))
    elif stage is not None and stage.candidate_bp == 10_000:
        waits.append(Wait("complete", "a release manager to complete the rollout"))
    else:
        # No stage plan (a rollout from before plans): the next step is a human decision.
        waits.append(Wait("approval", "approval of the next canary step"))
    return waits


def active_rollouts(*, now: datetime) -> list[ActiveRollout]:
    rollouts = list(
        Rollout.objects.filter(status__in=Rollout.ACTIVE)
        .select_related(
            "feature__served_config__model_version",
            "baseline__model_version",
            "candidate__model_version",
            "created_by",
        )
        .order_by("-created")
    )
    if not rollouts:
        return []
    ids = [r.pk for r in rollouts]
    splits = live_splits(r.feature for r in rollouts)
    plans: dict[int, list[Stage]] = {}
    for planned in Stage.objects.filter(rollout__in=ids).order_by("rollout", "position"):
        plans.setdefault(planned.rollout_id, []).append(planned)
    gates: dict[int, Gate] = {}
    for found in Gate.objects.filter(rollout__in=ids).order_by("-created", "-id"):
        if found.rollout_id is not None:
            gates.setdefault(found.rollout_id, found)  # the latest gate of each rollout
    to_review = dict(
        ShadowPair.objects.filter(rollout__in=ids, queued=True, label_count__lt=F("labels_wanted"))
        .values("rollout")
        .annotate(n=Count("id"))
        .values_list("rollout", "n")
    )
    active = {
        r.pk: next((s for s in plans.get(r.pk, []) if s.status == Stage.Status.ACTIVE), None)
        for r in rollouts
    }
    # Batched, not per rollout: every waiting stage's samples in one grouped read (stages.py),
    # the inconclusive guardrails of every canary in one query.
    waiting = [
        (r, stage)
        for r in rollouts
        if (stage := active[r.pk]) is not None and r.status in (STATUS.SHADOW, STATUS.CANARY)
    ]
    evidence = stage_evidence_many([(r, s) for r, s in waiting if r.paused is None], now=now)
    held = inconclusive_guardrails({r.pk: s for r, s in waiting if r.status == STATUS.CANARY})
    result = []
    for rollout in rollouts:
        stage = active[rollout.pk]
        after = [
            s
            for s in plans.get(rollout.pk, [])
            if stage is not None and s.position > stage.position and s.status == "planned"
        ]
        gate = gates.get(rollout.pk)
        if rollout.status in (STATUS.DRAFT, STATUS.GATE):
            waits = [_gate_wait(gate, rollout)]
        else:
            waits = _stage_waits(
                rollout,
                stage,
                after[0] if after else None,
                evidence=evidence.get(rollout.pk),
                inconclusive=len(held.get(rollout.pk, [])),
                to_review=to_review.get(rollout.pk, 0),
            )
        result.append(
            ActiveRollout(
                rollout=rollout,
                split=splits[rollout.feature.key],
                stage=stage,
                next_stage=after[0] if after else None,
                gate=gate,
                waits=tuple(waits),
            )
        )
    return result


def needs_me(user: User | AnonymousUser, active: list[ActiveRollout]) -> list[Need]:
    """What waits for this person: approvals and gates for release managers, pairs for
    reviewers. A viewer gets an empty list."""
    needs: list[Need] = []
    if has_role(user, Role.RELEASE_MANAGER):
        for item in active:
            r = item.rollout
            url = reverse("rollout_detail", args=[r.code])
            name = f"{r.feature.key} → {r.candidate.name}"
            for wait in item.waits:
                if wait.kind in ("approval", "complete"):
                    if r.feature.two_person_rule and r.created_by_id == user.pk:
                        text = f"{name}: waits for another release manager (two-person rule)"
                    else:
                        text = f"{name}: {wait.text}"
                    needs.append(Need(text, url))
                elif wait.kind in ("gate_blocked", "gate_ack", "gate_passed", "paused"):
                    needs.append(Need(f"{name}: {wait.text}", url))
    if has_role(user, Role.REVIEWER):
        n = waiting_count(user)
        if n:
            more = "+" if n > 1000 else ""
            needs.append(
                Need(
                    f"{min(n, 1000)}{more} pair{'s' if n != 1 else ''} to review",
                    reverse("review_queue"),
                )
            )
    return needs
