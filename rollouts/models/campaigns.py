"""Upgrade campaigns: one model version replaced across every feature that uses it."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from registry.models import Feature, ModelConfig, ModelVersion, Rollout


class Campaign(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    from_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    to_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    deadline = models.DateField(null=True, blank=True)
    # A feature whose rollout has not moved for this many days is listed as stalled.
    stale_days = models.PositiveSmallIntegerField(default=7)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "rollout_control"
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(to_version=F("from_version")),
                name="rollout_control_campaign_versions_differ",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CampaignMember(models.Model):
    """One feature of a campaign: its own candidate config (prompts may differ) and rollout."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="members")
    feature = models.ForeignKey(Feature, on_delete=models.PROTECT, related_name="+")
    candidate = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="+")
    rollout = models.ForeignKey(
        Rollout, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Why a feature could not start (it had an active rollout, say); shown in the matrix.
    problem = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "rollout_control"
        ordering = ["feature__key"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "feature"], name="rollout_control_member_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.feature_id}"
