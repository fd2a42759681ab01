"""Rollout transitions. Each is a compare-and-set on the status, audited, recorded in the serving
ledger when traffic moves, and visible to assignment and the gateway as soon as it commits."""

from django.core.exceptions import ValidationError
from django.db import transaction

from registry.errors import Conflict, DomainError
from registry.models import AuditEvent, Feature, ModelConfig, Rollout
from registry.models.serving import FULL, ServingShare
from registry.routing_state import routing_changed
from registry.services.audit import audit_record, db_now, snapshot
from registry.services.registry import lock_config
from registry.services.serving import serving_record

STATUS = Rollout.Status


def _transition(
    rollout: Rollout, *, allowed: tuple[str, ...], actor, action: str, reason: str, **changes
) -> tuple[Rollout, AuditEvent]:
    """Move `rollout` out of one of `allowed` statuses, or tell the caller why not. Returns the
    refreshed rollout and the audit event written in the same transaction."""
    before = snapshot(rollout)
    updated = Rollout.objects.filter(pk=rollout.pk, status__in=allowed).update(**changes)
    if not updated:
        current = Rollout.objects.get(pk=rollout.pk)
        raise Conflict(
            f"This rollout is {current.get_status_display().lower()} now, so it cannot "
            f"{action.split('.')[-1].replace('_', ' ')}; reload to see its current state."
        )
    rollout.refresh_from_db()
    event = audit_record(
        actor=actor,
        action=action,
        obj=rollout,
        before=before,
        after=snapshot(rollout),
        reason=reason,
        feature_key=rollout.feature.key,
    )
    routing_changed()
    return rollout, event


def _record_split(rollout: Rollout, event: AuditEvent) -> None:
    shares = [(rollout.baseline, ServingShare.Variant.BASELINE, FULL - rollout.candidate_bp)]
    if rollout.candidate_bp:
        shares.append((rollout.candidate, ServingShare.Variant.CANDIDATE, rollout.candidate_bp))
    serving_record(feature=rollout.feature, shares=[s for s in shares if s[2]], event=event)


@transaction.atomic
def rollout_create(
    *,
    feature: Feature,
    candidate: ModelConfig,
    actor,
    note: str = "",
    shadow_sample_percent: float = 100.0,
    shadow_daily_cap: int = 10_000,
    review_sample_percent: float = 10.0,
    double_review_percent: float = 10.0,
    blinded: bool = True,
) -> Rollout:
    feature = Feature.objects.select_for_update().get(pk=feature.pk)
    if candidate.pk == feature.served_config_id:
        raise ValidationError({"candidate": f"'{candidate}' already serves '{feature}'."})
    for name, value in (
        ("shadow_sample_percent", shadow_sample_percent),
        ("review_sample_percent", review_sample_percent),
        ("double_review_percent", double_review_percent),
    ):
        if not 0 <= value <= 100:
            raise ValidationError({name: "Give a percentage from 0 to 100."})
    active = Rollout.objects.filter(feature=feature, status__in=Rollout.ACTIVE).first()
    if active:
        raise DomainError(
            f"'{feature}' already has an active rollout (to '{active.candidate}'); finish, roll "
            "back or abort it first."
        )
    lock_config(candidate)
    rollout = Rollout.objects.create(
        feature=feature,
        baseline=feature.served_config,
        candidate=candidate,
        note=note,
        shadow_sample_bp=round(shadow_sample_percent * 100),
        shadow_daily_cap=shadow_daily_cap,
        review_sample_bp=round(review_sample_percent * 100),
        double_review_bp=round(double_review_percent * 100),
        blinded=blinded,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="rollout.create",
        obj=rollout,
        before=None,
        after=snapshot(rollout),
        reason=note,
        feature_key=feature.key,
    )
    routing_changed()
    return rollout


@transaction.atomic
def rollout_start_shadow(*, rollout: Rollout, actor, reason: str = "") -> Rollout:
    rollout, _ = _transition(
        rollout,
        allowed=(STATUS.DRAFT,),
        actor=actor,
        action="rollout.start_shadow",
        reason=reason,
        status=STATUS.SHADOW,
    )
    return rollout


@transaction.atomic
def rollout_set_canary(*, rollout: Rollout, percent: float, actor, reason: str = "") -> Rollout:
    """Serve the candidate to `percent` of units. The share only grows: shrinking is a rollback."""
    if not 0 < percent <= 100:
        raise ValidationError({"percent": "Give a canary percentage above 0 and at most 100."})
    bp = round(percent * 100)
    if bp < rollout.candidate_bp:
        raise ValidationError(
            {
                "percent": f"The canary serves {rollout.candidate_percent}% already; it only grows "
                "(roll back to return traffic to the baseline)."
            }
        )
    rollout, event = _transition(
        rollout,
        allowed=(STATUS.SHADOW, STATUS.CANARY),
        actor=actor,
        action="rollout.set_canary",
        reason=reason,
        status=STATUS.CANARY,
        candidate_bp=bp,
    )
    _record_split(rollout, event)
    return rollout


@transaction.atomic
def rollout_rollback(*, rollout: Rollout, actor, reason: str) -> Rollout:
    """All traffic back to the baseline at once, no deploy."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why you roll back; the audit keeps it."})
    was_serving = rollout.candidate_bp > 0
    rollout, event = _transition(
        rollout,
        allowed=Rollout.ACTIVE,
        actor=actor,
        action="rollout.rollback",
        reason=reason,
        status=STATUS.ROLLED_BACK,
        candidate_bp=0,
        ended=db_now(),
    )
    if was_serving:
        _record_split(rollout, event)
    return rollout


@transaction.atomic
def rollout_abort(*, rollout: Rollout, actor, reason: str = "") -> Rollout:
    """Stop a rollout that never served the candidate (draft or shadow)."""
    rollout, _ = _transition(
        rollout,
        allowed=(STATUS.DRAFT, STATUS.SHADOW),
        actor=actor,
        action="rollout.abort",
        reason=reason,
        status=STATUS.ABORTED,
        ended=db_now(),
    )
    return rollout
