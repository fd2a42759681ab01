"""Production traffic as the product sees it: request logs and end-user feedback."""

from django.db import models
from django.db.models import JSONField, Q, Value

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
    # Redacted like the messages.
    variables = models.JSONField(default=dict, blank=True)
    # The request's own parameters that no config pins (tools, tool_choice, stop, seed, ...;
    # traffic/passthrough.py): the shadow run replays them, so both configs answer the same call.
    # The database default too: a process still running the previous release (a rolling
    # deploy) or a raw COPY that does not name the column still inserts.
    params = models.JSONField(default=dict, db_default=Value({}, JSONField()), blank=True)
    # The unredacted input, kept only while a shadow job may still need it: the candidate must
    # answer exactly what the baseline answered. Cleared when the log's shadow jobs end (or at
    # once when none was planned); never shown on a page or in the admin.
    raw_messages = models.JSONField(null=True, blank=True, editable=False)
    raw_variables = models.JSONField(null=True, blank=True, editable=False)
    # The config a shadow run of this call uses, decided when the call was logged (null: the
    # call is not shadowed; traffic/requestlog.py says which are). Nothing queries by it, and the
    # gateway's insert path is hot, hence no index.
    shadow_config = models.ForeignKey(
        ModelConfig,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
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
    # Some value was altered to fit its column before the insert (NUL or a lone surrogate
    # replaced by U+FFFD, text truncated, a number clamped): the row is not verbatim.
    scrubbed = models.BooleanField(default=False)
    # SHA-256 of the canonical request (ingest record, gateway body): a reused request id with a
    # different body is refused (409). "" for ids the gateway generated and for older rows.
    body_digest = models.CharField(max_length=64, blank=True, default="")

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
            # The raw-input purge: the few logs still holding unredacted input.
            models.Index(
                fields=["created"],
                condition=Q(raw_messages__isnull=False),
                name="rollouts_reqlog_raw_idx",
            ),
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
