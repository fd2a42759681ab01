"""Shadow pairs (made from the shadow jobs in registry.models.shadow), labels, reservations."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from registry.models import ModelConfig, RequestLog, Rollout


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
    # Automatic comparison (comparisons/metrics.py), computed when the pair is stored.
    similarity = models.FloatField(null=True)
    metrics = models.JSONField(default=dict, blank=True)
    flags = models.JSONField(default=list, blank=True)
    flagged = models.BooleanField(default=False)
    # In the review queue: every flagged pair, plus a random sample of the others.
    queued = models.BooleanField(default=False)
    # How many reviewers should label it (2 for the agreement sample), and how many have.
    labels_wanted = models.PositiveSmallIntegerField(default=1)
    label_count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rollout", "request_key"], name="comparisons_shadowpair_once_per_request"
            ),
        ]
        indexes = [
            # Pair lists of one rollout, newest first.
            models.Index(fields=["rollout", "-id"], name="comparisons_pair_rollout_idx"),
            # The review queue: queued pairs still short of labels, flagged first, oldest first.
            models.Index(
                F("flagged").desc(),
                F("id"),
                condition=Q(queued=True) & Q(label_count__lt=F("labels_wanted")),
                name="comparisons_pair_queue_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"pair {self.code}"


class Label(models.Model):
    """One reviewer's verdict on one pair, always in candidate terms (even when blinded)."""

    class Verdict(models.TextChoices):
        BETTER = "better", "Candidate better"
        SAME = "same", "Same"
        WORSE = "worse", "Candidate worse"
        BOTH_BAD = "both_bad", "Both bad"

    DIMENSIONS = ("format", "tone", "accuracy", "safety", "other")

    pair = models.ForeignKey(ShadowPair, on_delete=models.CASCADE, related_name="labels")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    dimensions = models.JSONField(default=list, blank=True)
    critical = models.BooleanField(default=False)
    comment = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pair", "reviewer"], name="comparisons_label_once"),
            models.CheckConstraint(
                condition=Q(verdict__in=["better", "same", "worse", "both_bad"]),
                name="comparisons_label_verdict_known",
            ),
        ]
        indexes = [
            # "My last label" (undo) and reviewer throughput.
            models.Index(fields=["reviewer", "-id"], name="comparisons_label_reviewer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id} on {self.pair_id}: {self.verdict}"


class Reservation(models.Model):
    """A pair held for one reviewer for a few minutes, so two reviewers do not label the same
    pair when one label is wanted."""

    pair = models.ForeignKey(ShadowPair, on_delete=models.CASCADE, related_name="reservations")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    expires = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pair", "reviewer"], name="comparisons_reserve_once")
        ]

    def __str__(self) -> str:
        return f"{self.pair_id} for {self.reviewer_id} until {self.expires:%H:%M}"
