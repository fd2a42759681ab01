"""Rollouts: one attempt to move a feature from its baseline config to a candidate config."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from .registry import Feature, ModelConfig
from .serving import FULL


class Rollout(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        # The eval gate runs (or has run) on baseline and candidate; shadow waits for its verdict.
        GATE = "gate", "Gate"
        SHADOW = "shadow", "Shadow"
        CANARY = "canary", "Canary"
        COMPLETED = "completed", "Completed"
        ROLLED_BACK = "rolled_back", "Rolled back"
        ABORTED = "aborted", "Aborted"
        # A feature + two configs compared on imported or replayed pairs only. Never routed:
        # it is not in ACTIVE, so routing, the one-active-per-feature rule and every
        # transition (each names the statuses it leaves) pass it by.
        OFFLINE = "offline", "Offline comparison"

    ACTIVE = (Status.DRAFT, Status.GATE, Status.SHADOW, Status.CANARY)
    # Statuses in which production requests also run on the other config.
    SHADOWING = (Status.SHADOW, Status.CANARY)
    # Statuses whose pairs are reviewed (and may receive imported or replayed pairs): a draft
    # collects evidence before any live shadow traffic, an offline comparison only that.
    REVIEWING = (Status.DRAFT, Status.GATE, Status.SHADOW, Status.CANARY, Status.OFFLINE)

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    feature = models.ForeignKey(Feature, on_delete=models.PROTECT, related_name="rollouts")
    baseline = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="+")
    candidate = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    # Share of units served by the candidate, in the 10,000 assignment buckets.
    candidate_bp = models.PositiveIntegerField(default=0)
    # Share of production requests that also run on the other config (basis points).
    shadow_sample_bp = models.PositiveIntegerField(default=FULL)
    shadow_daily_cap = models.PositiveIntegerField(
        default=10_000, help_text="At most this many shadow calls per UTC day."
    )
    # Review: a sample of unflagged pairs joins the flagged ones in the queue; some pairs ask
    # for two reviewers, to measure agreement; outputs show as A/B in random order when blinded.
    review_sample_bp = models.PositiveIntegerField(default=1000)
    double_review_bp = models.PositiveIntegerField(default=1000)
    blinded = models.BooleanField(default=True)
    # Optional: a pinned config that also judges this rollout's shadow pairs (both orders). Its
    # verdicts are kept apart from human labels (rollouts/judging.py).
    judge_config = models.ForeignKey(
        ModelConfig, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)
    # A paused canary keeps its split but does not move: no promotion, no stage timer.
    paused = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    ended = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            # One live attempt per feature: two would fight over the same traffic.
            models.UniqueConstraint(
                fields=["feature"],
                condition=Q(status__in=["draft", "gate", "shadow", "canary"]),
                name="rollouts_rollout_one_active_per_feature",
            ),
            models.CheckConstraint(
                condition=~Q(candidate=F("baseline")), name="rollouts_rollout_candidate_differs"
            ),
            models.CheckConstraint(
                condition=Q(candidate_bp__lte=FULL)
                & Q(shadow_sample_bp__lte=FULL)
                & Q(review_sample_bp__lte=FULL)
                & Q(double_review_bp__lte=FULL),
                name="rollouts_rollout_shares_in_range",
            ),
            # Only a canary serves the candidate to anyone.
            models.CheckConstraint(
                condition=Q(status="canary") | Q(candidate_bp=0),
                name="rollouts_rollout_served_only_in_canary",
            ),
            # An offline comparison routes nothing: no serving share, no shadow sampling.
            models.CheckConstraint(
                condition=~Q(status="offline") | Q(candidate_bp=0, shadow_sample_bp=0),
                name="rollouts_rollout_offline_routes_nothing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.feature_id}: {self.baseline_id} → {self.candidate_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def is_offline(self) -> bool:
        return self.status == self.Status.OFFLINE

    @property
    def candidate_percent(self) -> float:
        return self.candidate_bp / 100


class RoutingState(models.Model):
    """One row whose generation grows with every routing change (rollouts, switches, tokens).
    Processes compare it with the generation of their cached routing table."""

    generation = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"routing generation {self.generation}"
