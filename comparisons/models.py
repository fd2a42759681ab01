"""Shadow jobs (the outbox of shadow work) and the shadow pairs they produce."""

import uuid

from django.db import models
from django.db.models import Q

from rollouts.models import ModelConfig, RequestLog, Rollout


class ShadowJob(models.Model):
    """Run one production request on the other config. Written in the same transaction as its
    request log; the Celery message is only a nudge, the row is the truth."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        CLAIMED = "claimed"
        DONE = "done"
        FAILED = "failed"

    request = models.ForeignKey(RequestLog, on_delete=models.CASCADE, related_name="shadow_jobs")
    rollout = models.ForeignKey(Rollout, on_delete=models.PROTECT, related_name="shadow_jobs")
    config = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # When the sweep last re-sent its nudge: at most one extra message per job per period.
    renudged = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # A redelivered message or a double sweep can never make a second job or pair.
            models.UniqueConstraint(
                fields=["request", "config"], name="comparisons_shadowjob_once_per_config"
            ),
        ]
        indexes = [
            # The sweep: jobs still queued or claimed, oldest first.
            models.Index(
                fields=["created"],
                condition=Q(status__in=["queued", "claimed"]),
                name="comparisons_shadowjob_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"shadow job {self.pk} ({self.status})"


class ShadowDay(models.Model):
    """Per rollout and UTC day: shadow calls made and skipped, so nothing is dropped silently."""

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="shadow_days")
    day = models.DateField()
    queued = models.PositiveIntegerField(default=0)
    skipped_sample = models.PositiveIntegerField(default=0)
    skipped_cap = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rollout", "day"], name="comparisons_shadowday_unique")
        ]

    def __str__(self) -> str:
        return f"{self.rollout_id} {self.day}: {self.queued} queued"


class ShadowPair(models.Model):
    """One production input with the baseline output (served or not) and the candidate output."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rollout = models.ForeignKey(Rollout, on_delete=models.PROTECT, related_name="pairs")
    request = models.ForeignKey(RequestLog, on_delete=models.SET_NULL, null=True, related_name="+")
    messages = models.JSONField(help_text="The input, redacted (kept when the log is purged)")
    baseline_config = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="+")
    candidate_config = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="+")
    served_variant = models.CharField(max_length=10)
    baseline_output = models.TextField(blank=True)
    candidate_output = models.TextField(blank=True)
    baseline_error = models.CharField(max_length=300, blank=True)
    candidate_error = models.CharField(max_length=300, blank=True)
    baseline_latency_ms = models.FloatField(null=True)
    candidate_latency_ms = models.FloatField(null=True)
    baseline_tokens = models.PositiveIntegerField(null=True)
    candidate_tokens = models.PositiveIntegerField(null=True)
    candidate_tool_calls = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    # The request this pair came from, kept as text so the pair outlives the purged log.
    request_key = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rollout", "request_key"], name="comparisons_shadowpair_once_per_request"
            ),
        ]
        indexes = [
            # Pair lists of one rollout, newest first.
            models.Index(fields=["rollout", "-id"], name="comparisons_pair_rollout_idx"),
        ]

    def __str__(self) -> str:
        return f"pair {self.code}"
