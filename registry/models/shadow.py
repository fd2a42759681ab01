"""Shadow jobs: the outbox of shadow work, written by traffic capture with the request logs and
run by the comparisons layer's workers, which turn each into a shadow pair."""

from django.db import models
from django.db.models import Q

from .registry import ModelConfig
from .rollout import Rollout
from .traffic import RequestLog


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
    # A claim holds until then; the worker's heartbeat pushes it on while the call runs, so a
    # job whose worker died is re-queued by the sweep soon after (SHADOW_LEASE_SECONDS).
    lease_until = models.DateTimeField(null=True, blank=True)
    # When the sweep last re-sent its nudge: at most one extra message per job per period.
    renudged = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Created by the comparisons app; the table keeps its first name.
        db_table = "comparisons_shadowjob"
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
        db_table = "comparisons_shadowday"
        constraints = [
            models.UniqueConstraint(fields=["rollout", "day"], name="comparisons_shadowday_unique")
        ]

    def __str__(self) -> str:
        return f"{self.rollout_id} {self.day}: {self.queued} queued"
