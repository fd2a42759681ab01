"""Promotion from one stage to the next, with approvals; pause and resume.

A promotion is one transaction: lock the rollout row, re-read the stage, check note, evidence,
decision panel, inconclusive guardrails and the two-person rule, record the approval with the
panel as shown, move the stages and the candidate's share by compare-and-set, write the audit
event and the serving ledger. An inconclusive guardrail holds the stage for a human: the approver
confirms promoting on it (`accept_inconclusive`), and the approval records that they did.

Two release managers promoting at once: the second waits on the row lock, then finds the
stage moved and is told who promoted it.
"""

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from registry.errors import Conflict, DomainError
from registry.models import Rollout
from registry.roles import Role, has_role
from registry.routing_state import routing_changed
from registry.services.audit import audit_record, db_now, snapshot
from rollouts.guardrails.evaluate import guardrails_ensure, inconclusive_guardrails
from rollouts.models import Approval, Stage
from rollouts.services.decision import decision_panel
from rollouts.services.rollouts import _record_split, _transition
from rollouts.services.stages import active_stage, next_stage, stage_evidence, stage_plan_create

STATUS = Rollout.Status
MOVING = (STATUS.SHADOW, STATUS.CANARY)


def _who_promoted(stage: Stage) -> str:
    approval = Approval.objects.filter(to_stage=stage).select_related("approver").first()
    name = approval.approver.username if approval else "someone else"
    return f"Already promoted to {stage.percent:g}% by {name}; reload to see the new stage."


def _locked(rollout: Rollout, expected_position: int | None) -> tuple[Rollout, Stage]:
    """Lock the row and check it is where the caller saw it; the loser of a race learns why."""
    locked = Rollout.objects.select_for_update().select_related("feature").get(pk=rollout.pk)
    if locked.status not in MOVING:
        raise Conflict(
            f"This rollout is {locked.get_status_display().lower()} now, so it cannot be "
            "promoted; reload to see its current state."
        )
    stage = active_stage(locked)
    if stage is None:  # in shadow since before stage plans existed
        stage_plan_create(rollout=locked)
        stage = active_stage(locked)
        if stage is None:
            raise DomainError("This rollout has no stage to promote from.")
    moved = expected_position is not None and expected_position != stage.position
    if moved or locked.candidate_bp != rollout.candidate_bp:
        raise Conflict(_who_promoted(stage))
    return locked, stage


def promotion_blockers(rollout: Rollout, stage: Stage, panel_red: list[str]) -> list[str]:
    """What an admin's override would have to overrule: unmet minimums and red panel items."""
    blockers = []
    evidence = stage_evidence(rollout, stage)
    if not evidence.met:
        blockers.append(evidence.message[0].upper() + evidence.message[1:] + ".")
    blockers += [f"Red on the decision panel: {line}" for line in panel_red]
    return blockers


def inconclusive_refusal(names: list[str]) -> str:
    """The error of a promotion that did not confirm the inconclusive guardrails."""
    return (
        f"Inconclusive guardrail{'s' if len(names) != 1 else ''}: {', '.join(names)}. The stage "
        "met its minimums and the test decides neither way; tick the box to confirm you "
        "promote on this evidence, or hold the stage longer."
    )


@transaction.atomic
def rollout_promote(
    *,
    rollout: Rollout,
    actor: User,
    note: str,
    override_reason: str = "",
    expected_position: int | None = None,
    accept_inconclusive: bool = False,
) -> Approval:
    """Approve the move to the next stage. Returns the approval; the rollout moved unless the
    two-person rule still waits for a second release manager (`rollout` is refreshed). With a
    guardrail inconclusive in the stage, `accept_inconclusive` must confirm it (an admin's
    override does not: it overrules blockers, this is a decision to state)."""
    if not note.strip():
        raise ValidationError({"note": "Write a note: why promote now. The audit keeps it."})
    if not getattr(actor, "pk", None):
        raise DomainError("A promotion needs the approval of a signed-in release manager.")
    override_reason = override_reason.strip()
    if override_reason and not has_role(actor, Role.ADMIN):
        raise DomainError("Only an admin may override the evidence; leave the override empty.")
    locked, stage = _locked(rollout, expected_position)
    if locked.paused:
        raise DomainError("The rollout is paused: resume it before promoting.")
    target = next_stage(locked, stage)
    if target is None:
        raise DomainError("This is the last stage: complete the rollout instead of promoting.")
    panel = decision_panel(locked)
    blockers = promotion_blockers(locked, stage, [i.line for i in panel.reds])
    if blockers and not override_reason:
        raise DomainError(" ".join(blockers) + " An admin may override with a reason.")
    held = [g.get_metric_display() for g in inconclusive_guardrails({locked.pk: stage})[locked.pk]]
    if held and not accept_inconclusive:
        raise ValidationError({"accept_inconclusive": inconclusive_refusal(held)})
    if Approval.objects.filter(to_stage=target, approver=actor).exists():
        raise Conflict(
            "You approved this promotion already; a second release manager must approve it "
            "(two-person rule)."
        )
    approval = Approval.objects.create(
        rollout=locked,
        from_stage=stage,
        to_stage=target,
        approver=actor,
        note=note.strip(),
        evidence={
            **panel.as_json(),
            "stage": stage_evidence(locked, stage).as_json(),
            "blockers": blockers,
            "inconclusive": {"guardrails": held, "accepted": bool(held) and accept_inconclusive},
        },
        override_reason=override_reason,
    )
    if override_reason:
        audit_record(
            actor=actor,
            action="approval.override",
            obj=approval,
            before=None,
            after={"to_percent": target.percent, "overruled": blockers},
            reason=override_reason,
            feature_key=locked.feature.key,
        )
    if not _two_person_satisfied(locked, target):
        audit_record(
            actor=actor,
            action="approval.create",
            obj=approval,
            before=None,
            after={"to_percent": target.percent, "waits_for": "a second release manager"},
            reason=note,
            feature_key=locked.feature.key,
        )
        return approval
    _move(locked, stage, target, actor=actor, note=note)
    rollout.refresh_from_db()
    return approval


def _two_person_satisfied(rollout: Rollout, target: Stage) -> bool:
    """With the rule on, the starter's approval alone does not promote: someone else's must."""
    if not rollout.feature.two_person_rule or rollout.created_by_id is None:
        return True
    approvers = Approval.objects.filter(to_stage=target).values_list("approver_id", flat=True)
    return any(a != rollout.created_by_id for a in approvers)


def _move(rollout: Rollout, stage: Stage, target: Stage, *, actor: Any, note: str) -> None:
    now = db_now()
    # One active stage at a time (a constraint): end the current one before starting the next.
    if not Stage.objects.filter(pk=stage.pk, status=Stage.Status.ACTIVE).update(
        status=Stage.Status.DONE, ended=now
    ):
        raise Conflict(_who_promoted(target))
    Stage.objects.filter(pk=target.pk).update(status=Stage.Status.ACTIVE, started=now)
    rollout, event = _transition(
        rollout,
        allowed=MOVING,
        actor=actor,
        action="rollout.promote",
        reason=note,
        expect={"candidate_bp": stage.candidate_bp, "paused__isnull": True},
        status=STATUS.CANARY,
        candidate_bp=target.candidate_bp,
    )
    _record_split(rollout, event)
    # The guardrails watch from the first served request, not from the next minute's beat.
    guardrails_ensure(rollout)


def _pause_change(rollout: Rollout, *, actor: Any, reason: str, pause: bool) -> Rollout:
    before = snapshot(rollout)
    now = db_now()
    query = Rollout.objects.filter(pk=rollout.pk, status__in=MOVING, paused__isnull=pause)
    if not query.update(paused=now if pause else None):
        current = Rollout.objects.get(pk=rollout.pk)
        if current.status not in MOVING:
            raise Conflict(f"This rollout is {current.get_status_display().lower()}: no pause.")
        raise Conflict("The rollout is paused already." if pause else "The rollout is not paused.")
    if not pause:
        # The stage's clock and sample count restart: what happened before the pause is what
        # someone wanted to stop and look at, so it does not count toward the stage's minimum.
        Stage.objects.filter(rollout=rollout, status=Stage.Status.ACTIVE).update(started=now)
    rollout.refresh_from_db()
    audit_record(
        actor=actor,
        action="rollout.pause" if pause else "rollout.resume",
        obj=rollout,
        before=before,
        after=snapshot(rollout),
        reason=reason,
        feature_key=rollout.feature.key,
    )
    routing_changed()
    return rollout


@transaction.atomic
def rollout_pause(*, rollout: Rollout, actor: Any, reason: str) -> Rollout:
    """Hold the rollout where it is: the split stays, nothing promotes, the stage clock stops."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why you pause; the audit keeps it."})
    return _pause_change(rollout, actor=actor, reason=reason, pause=True)


@transaction.atomic
def rollout_resume(*, rollout: Rollout, actor: Any, reason: str = "") -> Rollout:
    """Move again; the active stage starts over (time and samples)."""
    return _pause_change(rollout, actor=actor, reason=reason, pause=False)
