"""Production traffic as the product sees it: request logs and end-user feedback."""

from django.db import models
from django.db.models import Q

from .registry import Feature, ModelConfig
from .rollout import Rollout


class RequestLog(models.Model):
    class Source(models.TextChoices):
        GATEWAY = "gateway"
        INGEST = "ingest"

    class Variant(models.TextChoices):
        BASELINE = "baseline"
        CANDIDATE = "candidate"

    feature = models.ForeignKey(Feature, on_delete=models.PROTECT, related_name="+")
    # The application's id for the call: the idempotency key of ingest.
    request_id = models.CharField(max_length=100)
    unit_key = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    config = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="+")
    variant = models.CharField(max_length=10, choices=Variant.choices)
    rollout = models.ForeignKey(Rollout, on_delete=models.PROTECT, null=True, related_name="+")
    messages = models.JSONField(help_text="Input messages, redacted")
    # Values for the config's prompt template, so a shadow run can render the other config's.
    variables = models.JSONField(default=dict, blank=True)
    output = models.TextField(blank=True)
    finish_reason = models.CharField(max_length=32, blank=True)
    tool_calls = models.JSONField(default=list, blank=True)
    error_kind = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    latency_ms = models.FloatField(null=True)
    prompt_tokens = models.PositiveIntegerField(null=True)
    completion_tokens = models.PositiveIntegerField(null=True)
    started = models.DateTimeField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["feature", "request_id"], name="rollouts_requestlog_unique_request"
            ),
            models.CheckConstraint(
                condition=Q(latency_ms__isnull=True) | Q(latency_ms__gte=0),
                name="rollouts_requestlog_latency_positive",
            ),
        ]
        indexes = [
            # The retention purge: oldest logs first.
            models.Index(fields=["created"], name="rollouts_reqlog_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.feature_id}/{self.request_id}"


class Feedback(models.Model):
    class Kind(models.TextChoices):
        THUMBS = "thumbs"  # value -1 or 1
        SCORE = "score"  # value 1..5

    request = models.ForeignKey(RequestLog, on_delete=models.CASCADE, related_name="feedback")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.SmallIntegerField()
    comment = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="thumbs", value__in=[-1, 1])
                | Q(kind="score", value__gte=1, value__lte=5),
                name="rollouts_feedback_value_fits_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}={self.value} on {self.request_id}"

    @property
    def negative(self) -> bool:
        return self.value < 0 if self.kind == self.Kind.THUMBS else self.value <= 2
