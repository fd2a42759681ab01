"""What the stepper and the approval form show: the stages, where the rollout is, what the active
stage waits for (time, samples per arm, approval), and whether Promote can be pressed. Every
decision comes from the services (plan, stages, promotion, decision); this only gathers it."""

from dataclasses import dataclass, field
from typing import Any

from registry.models import Rollout
from registry.roles import Role, has_role
from rollouts.guardrails.display import INCONCLUSIVE_NEEDS
from rollouts.guardrails.evaluate import inconclusive_guardrails
from rollouts.models import Approval, Guardrail, Stage
from rollouts.services.completion import completion_refusal
from rollouts.services.decision import Panel
from rollouts.services.plan import action_refusal, allowed_actions
from rollouts.services.promotion import promotion_blockers
from rollouts.services.stages import (
    Evidence,
    active_stage,
    next_stage,
    stage_evidence,
    stages_of,
)


@dataclass
class Promotion:
    """The approval form's state: what it promotes to and what stands in the way."""

    target: Stage | None = None
    blockers: list[str] = field(default_factory=list)
    # An admin may press Promote past the blockers by giving a reason; others may not press it.
    can_submit: bool = False
    needs_override: bool = False
    refusal: str = ""
    waiting_approvals: list[Approval] = field(default_factory=list)
    you_approved: bool = False
    # Guardrails inconclusive in the stage: the form asks to confirm promoting on them.
    inconclusive: list[Guardrail] = field(default_factory=list)

    @property
    def inconclusive_names(self) -> str:
        return ", ".join(g.get_metric_display() for g in self.inconclusive)

    @property
    def inconclusive_sentence(self) -> str:
        return INCONCLUSIVE_NEEDS[0].upper() + INCONCLUSIVE_NEEDS[1:] + "."


def stepper_context(rollout: Rollout, user: Any, panel: Panel) -> dict[str, Any]:
    stages = stages_of(rollout)
    current = active_stage(rollout)
    evidence: Evidence | None = stage_evidence(rollout, current) if current else None
    promotion = _promotion(rollout, user, panel, current)
    waits: list[str] = []
    if rollout.paused:
        waits.append(f"Paused since {rollout.paused:%Y-%m-%d %H:%M} UTC: resume to move on.")
    if evidence is not None and not evidence.met:
        waits.append(evidence.message[0].upper() + evidence.message[1:] + ".")
    if panel.red and promotion.target is not None:
        waits.append("The decision panel has red items: promotion waits (an admin may override).")
    if promotion.waiting_approvals:
        names = ", ".join(a.approver.username for a in promotion.waiting_approvals)
        waits.append(f"Approved by {names}; waits for a second release manager (two-person rule).")
    elif promotion.target is not None and evidence is not None and evidence.met:
        waits.append(_ready_text(promotion))
    actions = allowed_actions(rollout, user)
    # Counted as the live split counts them (rollouts/services/live.py): canary stages only, so
    # the page and the dashboard both say "stage 2 of 6" at 5%.
    canary = [s for s in stages if s.candidate_bp > 0]
    return {
        "stages": stages,
        "canary_number": canary.index(current) + 1 if current in canary else None,
        "canary_count": len(canary),
        "active": current,
        "evidence": evidence,
        "waits": waits,
        "promotion": promotion,
        "actions": actions,
        "complete_refusal": completion_refusal(rollout) if "complete" in actions else None,
        "planned": [
            {"stage": s, "hours": f"{s.min_duration.total_seconds() / 3600:g}"}
            for s in stages
            if s.status == Stage.Status.PLANNED
        ],
    }


def _ready_text(promotion: Promotion) -> str:
    percent = f"{promotion.target.percent:g}%" if promotion.target else "the next stage"
    n = len(promotion.inconclusive)
    if n:
        return (
            f"Holds for a release manager's decision: {n} guardrail{'s' if n != 1 else ''} "
            f"inconclusive ({promotion.inconclusive_names}). Hold longer, promote to {percent} "
            "with a note (confirming the inconclusive guardrails), or roll back."
        )
    return f"Ready: waits for a release manager's approval to go to {percent}."


def _promotion(rollout: Rollout, user: Any, panel: Panel, current: Stage | None) -> Promotion:
    result = Promotion()
    refusal = action_refusal(rollout, user, "promote")
    if current is None:
        result.refusal = refusal or "No stage is running."
        return result
    result.target = next_stage(rollout, current)
    result.inconclusive = inconclusive_guardrails({rollout.pk: current})[rollout.pk]
    if result.target is not None:
        result.waiting_approvals = list(
            Approval.objects.filter(to_stage=result.target).select_related("approver")
        )
        result.you_approved = any(a.approver_id == user.pk for a in result.waiting_approvals)
    if refusal:
        result.refusal = refusal
        return result
    result.blockers = promotion_blockers(rollout, current, [i.line for i in panel.reds])
    is_admin = has_role(user, Role.ADMIN)
    result.needs_override = bool(result.blockers)
    result.can_submit = not result.you_approved and (not result.blockers or is_admin)
    return result
