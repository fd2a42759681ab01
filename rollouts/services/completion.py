"""Completion: the candidate becomes the feature's served config; and one-click revert while the
previous config is pinned. Both reuse registry's feature_switch_config, the one place that
moves a served config, pins the previous one and writes the serving ledger."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from registry.errors import Conflict, DomainError
from registry.models import Feature, Rollout
from registry.models.serving import FULL
from registry.services.audit import db_now
from registry.services.registry import feature_switch_config
from rollouts.services.rollouts import _transition
from rollouts.services.stages import active_stage, next_stage, stage_evidence, stage_plan_end

STATUS = Rollout.Status


def completion_refusal(rollout: Rollout) -> str | None:
    """Why `rollout` may not complete now, or None."""
    if rollout.status != STATUS.CANARY or rollout.candidate_bp != FULL:
        return "A rollout completes from its 100% stage; promote it there first."
    if rollout.paused:
        return "The rollout is paused: resume it before completing."
    stage = active_stage(rollout)
    if stage is None or next_stage(rollout, stage) is not None:
        return "Complete from the last stage of the plan."
    evidence = stage_evidence(rollout, stage)
    if not evidence.met:
        return f"The last stage has {evidence.message}."
    return None


@transaction.atomic
def rollout_complete(*, rollout: Rollout, actor: Any, note: str) -> Rollout:
    """End the rollout: the candidate serves the feature outright, the baseline stays pinned as
    the rollback target for ROLLBACK_PIN_DAYS."""
    if not note.strip():
        raise ValidationError(
            {"note": "Write a note: why the candidate is ready. The audit keeps it."}
        )
    locked = Rollout.objects.select_for_update().select_related("feature").get(pk=rollout.pk)
    refusal = completion_refusal(locked)
    if refusal:
        raise DomainError(refusal)
    rollout, _ = _transition(
        locked,
        allowed=(STATUS.CANARY,),
        actor=actor,
        action="rollout.complete",
        reason=note,
        expect={"candidate_bp": FULL, "paused__isnull": True},
        status=STATUS.COMPLETED,
        # The served config becomes the candidate itself, so the rollout routes nothing now.
        candidate_bp=0,
        ended=db_now(),
    )
    stage_plan_end(rollout=rollout)
    # After the status change: a feature with an active rollout refuses a switch.
    feature_switch_config(
        feature=Feature.objects.get(pk=rollout.feature_id),
        config=rollout.candidate,
        actor=actor,
        reason=f"Rollout completed: {note}",
    )
    return rollout


@transaction.atomic
def feature_revert_to_previous(*, feature: Feature, actor: Any, reason: str) -> Feature:
    """Serve the previous config again, all traffic at once, while it is pinned. The config it
    replaces becomes the previous one in turn, so the revert can itself be undone."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why you revert; the audit keeps it."})
    current = Feature.objects.select_for_update().get(pk=feature.pk)
    if current.previous_config_id is None or current.pinned_until is None:
        raise DomainError(f"'{current.key}' has no previous config to revert to.")
    if current.pinned_until <= db_now():
        raise DomainError(
            f"The previous config's pin ended on {current.pinned_until:%Y-%m-%d %H:%M} UTC; "
            "start a rollout to move back to it."
        )
    if current.served_config_id != feature.served_config_id:
        raise Conflict(f"'{current.key}' changed while you were reading it; reload and try again.")
    previous = current.previous_config
    if previous is None:  # checked above by id; this keeps the type honest
        raise DomainError(f"'{current.key}' has no previous config to revert to.")
    return feature_switch_config(
        feature=current,
        config=previous,
        actor=actor,
        reason=f"Revert to the previous config: {reason}",
    )
