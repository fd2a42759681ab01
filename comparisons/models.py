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
    # Identical pairs (same input, outputs and errors) share this hash (comparisons/grouping.py),
    # computed when the pair is scored: a reviewer labels one and the label covers the others of
    # the same rollout.
    group_key = models.CharField(max_length=64, blank=True, default="")
    # Issue 8 flags (comparisons/metrics.py): the baseline's tool calls and both finish reasons,
    # copied from the request log when the pair is made, since the log may be purged.
    baseline_tool_calls = models.JSONField(default=list, blank=True)
    baseline_finish_reason = models.CharField(max_length=32, blank=True, default="")
    candidate_finish_reason = models.CharField(max_length=32, blank=True, default="")
    # The review queue's order, highest first (comparisons/flags.py priority_score).
    priority = models.IntegerField(default=0)
    # The diff (marks as character ranges, mode, reason when none is shown) and the sanitised
    # Markdown HTML of both outputs, computed once (comparisons/services/diffs.py) since a 15 KB
    # pair costs ~1 s to diff; recomputed when empty or of an older version.
    diff = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rollout", "request_key"], name="comparisons_shadowpair_once_per_request"
            ),
        ]
        indexes = [
            # Pair lists of one rollout, newest first.
            models.Index(fields=["rollout", "-id"], name="comparisons_pair_rollout_idx"),
            # The review queue: queued pairs still short of labels, highest priority first,
            # then oldest first (comparisons/services/review.py queue_for).
            models.Index(
                F("priority").desc(),
                F("id"),
                condition=Q(queued=True) & Q(label_count__lt=F("labels_wanted")),
                name="comparisons_pair_queue_idx",
            ),
            # The identical pairs of one rollout that a label also covers.
            models.Index(
                fields=["rollout", "group_key"],
                condition=~Q(group_key=""),
                name="comparisons_pair_group_idx",
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
    # Set on the copies a label makes on the identical pairs of its rollout (group_key): they
    # follow the original's edits and go with its undo.
    covered_by = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="copies"
    )

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


class Adjudication(models.Model):
    """The final verdict on a pair whose reviewers disagreed, recorded by a third person (not one
    of its labellers). It replaces the disagreement in the statistics; the labels stay as they
    were. One per pair: the unique pair is what makes the second of two racing adjudicators
    lose (comparisons/services/adjudication.py)."""

    pair = models.OneToOneField(ShadowPair, on_delete=models.CASCADE, related_name="adjudication")
    adjudicator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # In candidate terms, like Label.verdict, whatever sides the adjudicator saw.
    verdict = models.CharField(max_length=10, choices=Label.Verdict.choices)
    note = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(verdict__in=["better", "same", "worse", "both_bad"]),
                name="comparisons_adjudication_verdict_known",
            ),
            # The note is the reason the verdict stands: an adjudication without one is refused.
            models.CheckConstraint(
                condition=~Q(note=""), name="comparisons_adjudication_note_given"
            ),
        ]

    def __str__(self) -> str:
        return f"adjudication of {self.pair_id}: {self.verdict}"


# Import batches and replay runs (issue 8) live in their own module; imported here so Django
# registers them with this app.
from comparisons.batches import ImportBatch, ImportedPair, ReplayRun  # noqa: E402, F401
