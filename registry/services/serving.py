"""The serving ledger: record what serves a feature, and answer what served it at an instant."""

from dataclasses import dataclass
from datetime import datetime

from registry.models import AuditEvent, Feature, ModelConfig, ServingChange, ServingShare
from registry.models.serving import FULL


def serving_record(
    *, feature: Feature, shares: list[tuple[ModelConfig, str, int]], event: AuditEvent
) -> ServingChange:
    """Append the feature's new traffic split, effective at the audit event's instant."""
    if sum(bp for _, _, bp in shares) != FULL:
        raise ValueError("serving shares must add up to 100% (10,000 basis points)")
    change = ServingChange.objects.create(feature=feature, effective=event.created, event=event)
    ServingShare.objects.bulk_create(
        ServingShare(change=change, config=config, variant=variant, basis_points=bp)
        for config, variant, bp in shares
    )
    return change


@dataclass(frozen=True)
class Served:
    feature: Feature
    at: datetime
    change: ServingChange | None
    shares: list[ServingShare]

    def as_json(self) -> dict:
        return {
            "feature": self.feature.key,
            "at": self.at.isoformat(),
            "since": self.change.effective.isoformat() if self.change else None,
            "event_id": self.change.event_id if self.change else None,
            "configs": [
                {
                    "config": str(s.config.code),
                    "config_name": s.config.name,
                    "model_version": s.config.model_version.model_id,
                    "provider": s.config.model_version.provider.name,
                    "variant": s.variant,
                    "percent": s.percent,
                }
                for s in self.shares
            ],
        }


def served_at(*, feature: Feature, when: datetime) -> Served:
    """Which config(s) served `feature` at instant `when`, with percentages.

    A change takes effect at its own instant: asked exactly at a change, the new split answers.
    Before the feature's first change the answer has no configs.
    """
    change = (
        ServingChange.objects.filter(feature=feature, effective__lte=when)
        .order_by("-effective", "-id")
        .first()
    )
    shares = (
        list(
            change.shares.select_related("config__model_version__provider").order_by(
                "-basis_points", "id"
            )
        )
        if change
        else []
    )
    return Served(feature=feature, at=when, change=change, shares=shares)
