"""Per-minute roll-ups of a rollout's traffic, per variant: what the canary charts and the
guardrails read, so neither ever scans the request log."""

from django.db import models
from django.db.models import Q

from .rollout import Rollout

# Latency histogram bucket upper bounds in ms (the last bucket is everything above). Roughly
# logarithmic, so p50/p95/p99 read from the buckets are within a bucket's width of the truth.
LATENCY_BUCKETS_MS = (
    25, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1_000, 1_500, 2_000, 3_000, 4_000, 5_000,
    7_500, 10_000, 15_000, 20_000, 30_000, 60_000,
)  # fmt: skip


# The coarse level: the counts of ten consecutive minutes (aligned to the epoch, so to the hour),
# written by the same upsert as the minutes. A chart over days and a guardrail over a long stage
# read whole blocks and only the minutes at the window's edges: a week is 2,016 block rows per
# variant rather than 10,080 minute rows.
BLOCK_MINUTES = 10


class MetricCounts(models.Model):
    """The columns a roll-up row adds up, at either level."""

    class Variant(models.TextChoices):
        BASELINE = "baseline", "Baseline"
        CANDIDATE = "candidate", "Candidate"

    # The columns that add up: the upsert adds them, the reads sum them (traffic/metrics/).
    COUNTERS = (
        "requests",
        "errors",
        "latency_sum_ms",
        "prompt_tokens",
        "completion_tokens",
        "cost",
        "refusals",
        "json_checked",
        "json_invalid",
        "feedback_up",
        "feedback_down",
        "score_sum",
        "score_n",
    )

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="+")
    variant = models.CharField(max_length=10, choices=Variant.choices)
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    # {error_kind: count}
    errors_by_kind = models.JSONField(default=dict, blank=True)
    # Counts per LATENCY_BUCKETS_MS bucket, plus one overflow bucket (len = buckets + 1).
    latency_hist = models.JSONField(default=list, blank=True)
    latency_sum_ms = models.FloatField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=16, decimal_places=8, default=0)
    refusals = models.PositiveIntegerField(default=0)
    # Answers of a feature whose config asks for JSON, and how many of those did not parse.
    json_checked = models.PositiveIntegerField(default=0)
    json_invalid = models.PositiveIntegerField(default=0)
    feedback_up = models.PositiveIntegerField(default=0)
    feedback_down = models.PositiveIntegerField(default=0)
    score_sum = models.PositiveIntegerField(default=0)
    score_n = models.PositiveIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class MetricMinute(MetricCounts):
    minute = models.DateTimeField(help_text="Start of the UTC minute the requests started in.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rollout", "variant", "minute"], name="rollouts_metricminute_unique"
            ),
            models.CheckConstraint(
                condition=Q(errors__lte=models.F("requests")),
                name="rollouts_metricminute_errors_within_requests",
            ),
        ]
        indexes = [
            # Charts and guardrails: one rollout's minutes in a time range (the unique index's
            # (rollout, variant, minute) order serves per-variant reads; this one both variants).
            models.Index(fields=["rollout", "minute"], name="rollouts_metric_rollout_minute"),
        ]

    def __str__(self) -> str:
        return f"{self.rollout_id}/{self.variant}@{self.minute:%Y-%m-%d %H:%M}"


class MetricBlock(MetricCounts):
    """Ten minutes of one variant of one rollout: the sum of its MetricMinute rows, kept equal
    by the upsert that writes both in one statement's transaction."""

    block = models.DateTimeField(help_text="Start of the UTC ten-minute block.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rollout", "variant", "block"], name="rollouts_metricblock_unique"
            ),
            models.CheckConstraint(
                condition=Q(errors__lte=models.F("requests")),
                name="rollouts_metricblock_errors_within_requests",
            ),
        ]
        indexes = [
            # Charts and guardrails over days: one rollout's blocks in a time range.
            models.Index(fields=["rollout", "block"], name="rollouts_metric_rollout_block"),
        ]

    def __str__(self) -> str:
        return f"{self.rollout_id}/{self.variant}@{self.block:%Y-%m-%d %H:%M} (10 min)"
