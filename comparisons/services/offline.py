"""Offline comparisons: a feature and two named configs compared on imported or replayed pairs,
with no traffic at all. Stored as a Rollout in the OFFLINE status, which routing, the
one-active-rollout-per-feature rule and every rollout transition pass by."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from registry.models import Feature, ModelConfig, Rollout
from registry.services.audit import audit_record, snapshot
from registry.services.registry import lock_config


@transaction.atomic
def offline_comparison_create(
    *,
    feature: Feature,
    baseline: ModelConfig,
    candidate: ModelConfig,
    actor: Any,
    name: str,
    review_sample_percent: float = 100.0,
    double_review_percent: float = 10.0,
    blinded: bool = True,
) -> Rollout:
    """Any two configs may be compared (say, the served one against a candidate, or two
    candidates); both are locked, since the pairs will name them."""
    if baseline.pk == candidate.pk:
        raise ValidationError({"candidate": "Pick a candidate config other than the baseline."})
    if not name.strip():
        raise ValidationError({"name": "Name the comparison, e.g. 'support: 4o vs 4.1 (March)'."})
    for field, value in (
        ("review_sample_percent", review_sample_percent),
        ("double_review_percent", double_review_percent),
    ):
        if not 0 <= value <= 100:
            raise ValidationError({field: "Give a percentage from 0 to 100."})
    lock_config(baseline)
    lock_config(candidate)
    rollout = Rollout.objects.create(
        feature=feature,
        baseline=baseline,
        candidate=candidate,
        status=Rollout.Status.OFFLINE,
        candidate_bp=0,
        shadow_sample_bp=0,
        shadow_daily_cap=0,
        review_sample_bp=round(review_sample_percent * 100),
        double_review_bp=round(double_review_percent * 100),
        blinded=blinded,
        note=name.strip(),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="offline_comparison.create",
        obj=rollout,
        before=None,
        after=snapshot(rollout),
        reason=name.strip(),
        feature_key=feature.key,
    )
    # No routing_changed(): nothing routes to an offline comparison.
    return rollout
