"""The serving ledger: what served each feature from which instant, written with the audit event
that caused it, so "what served F at time T" is read from the record, not reconstructed."""

from django.db import models
from django.db.models import Q

from .audit import AuditEvent
from .registry import Feature, ModelConfig

FULL = 10_000  # basis points: the 10,000 assignment buckets


class ServingChange(models.Model):
    """From `effective` on, until the feature's next change, `shares` describe its traffic."""

    feature = models.ForeignKey(Feature, on_delete=models.PROTECT, related_name="serving_changes")
    effective = models.DateTimeField()
    event = models.OneToOneField(AuditEvent, on_delete=models.PROTECT, related_name="+")

    class Meta:
        indexes = [
            # served_at(): the newest change of one feature at or before an instant.
            models.Index(fields=["feature", "-effective", "-id"], name="rollouts_serving_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.feature_id} from {self.effective:%Y-%m-%d %H:%M:%S}"


class ServingShare(models.Model):
    class Variant(models.TextChoices):
        BASELINE = "baseline"
        CANDIDATE = "candidate"

    change = models.ForeignKey(ServingChange, on_delete=models.PROTECT, related_name="shares")
    config = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="+")
    variant = models.CharField(max_length=16, choices=Variant.choices)
    basis_points = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["change", "config"], name="rollouts_share_one_per_config"
            ),
            models.CheckConstraint(
                condition=Q(basis_points__gte=0) & Q(basis_points__lte=FULL),
                name="rollouts_share_basis_points_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.config_id} {self.variant} {self.percent}%"

    @property
    def percent(self) -> float:
        return self.basis_points / 100
