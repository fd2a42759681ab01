"""The stage plan of a rollout and the approvals that move it from one stage to the next."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from registry.models import Rollout


class Stage(models.Model):
    """One step of the plan: shadow (0% served), then a canary percentage. Editable until the
    stage starts; a stage runs at least `min_duration` and until each arm has `min_samples`."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        ACTIVE = "active", "Active"
        DONE = "done", "Done"
        # The rollout ended (rolled back, aborted, completed early) before the stage ran.
        SKIPPED = "skipped", "Skipped"

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="stages")
    position = models.PositiveSmallIntegerField()
    # Share of units served by the candidate in basis points (0 = shadow only).
    candidate_bp = models.PositiveIntegerField()
    min_duration = models.DurationField(default=timedelta(hours=24))
    # Requests per arm (baseline and candidate) before the stage's evidence counts.
    min_samples = models.PositiveIntegerField(default=500)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PLANNED)
    started = models.DateTimeField(null=True, blank=True)
    ended = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "rollout_control"
        ordering = ["rollout", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["rollout", "position"], name="rollout_control_stage_position_once"
            ),
            # One stage runs at a time.
            models.UniqueConstraint(
                fields=["rollout"],
                condition=Q(status="active"),
                name="rollout_control_stage_one_active",
            ),
            models.CheckConstraint(
                condition=Q(candidate_bp__lte=10_000), name="rollout_control_stage_share_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rollout_id} stage {self.position + 1}: {self.candidate_bp / 100:g}%"

    @property
    def percent(self) -> float:
        return self.candidate_bp / 100

    @property
    def is_shadow(self) -> bool:
        return self.candidate_bp == 0


class Approval(models.Model):
    """A release manager's approval of a promotion, with the evidence they were shown."""

    rollout = models.ForeignKey(Rollout, on_delete=models.PROTECT, related_name="approvals")
    # The stage being left and the stage being entered.
    from_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField()
    # The decision panel as the approver saw it (gate, review, judge, guardrails, charts' numbers).
    evidence = models.JSONField(default=dict)
    # Set when an admin promoted past red evidence or an unmet minimum; the reason is audited.
    override_reason = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "rollout_control"
        ordering = ["-created"]
        constraints = [
            # One approval per approver per promotion (a second approver adds another row).
            models.UniqueConstraint(
                fields=["to_stage", "approver"], name="rollout_control_approval_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.approver_id} approved {self.to_stage_id}"
