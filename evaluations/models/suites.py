"""Eval suites and their cases: what a feature's outputs must do, written down as assertions."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from registry.models import Feature, ModelConfig


class Dimension(models.TextChoices):
    FORMAT = "format", "Format"
    TONE = "tone", "Tone"
    ACCURACY = "accuracy", "Accuracy / reasoning"
    SAFETY = "safety", "Safety"
    OTHER = "other", "Other"


class Suite(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    feature = models.ForeignKey(Feature, on_delete=models.PROTECT, related_name="suites")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # The user message of every case that gives variables rather than messages. Both `{var}`
    # and promptfoo's `{{ var }}` placeholders are filled (evaluations/cases.py).
    prompt = models.TextField(
        blank=True, help_text="User message template, e.g. 'Summarise: {{ticket}}' or '{ticket}'."
    )
    # A non-critical dimension whose pass rate drops by more than this many percentage points
    # needs a release manager's written acknowledgement before shadow.
    threshold_pp = models.FloatField(
        "acknowledgement threshold (percentage points)",
        default=5.0,
        help_text="A non-critical dimension dropping by more than this needs acknowledgement.",
    )
    # The pinned config that grades LLM-as-judge assertions of this suite.
    judge_config = models.ForeignKey(
        ModelConfig, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    active = models.BooleanField(default=True, help_text="Inactive suites are not gated on.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["feature__key", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["feature", "name"], name="evaluations_suite_unique_name"
            ),
            models.CheckConstraint(
                condition=Q(threshold_pp__gte=0) & Q(threshold_pp__lte=100),
                name="evaluations_suite_threshold_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.feature_id}/{self.name}"


class Case(models.Model):
    class Source(models.TextChoices):
        MANUAL = "manual", "Written here"
        PROMPTFOO = "promptfoo", "promptfoo import"
        JSONL = "jsonl", "JSONL import"
        PAIR = "pair", "From a reviewed pair"
        TRAFFIC = "traffic", "Sampled from traffic"

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    suite = models.ForeignKey(Suite, on_delete=models.CASCADE, related_name="cases")
    name = models.CharField(max_length=300)
    # Either explicit messages ([{role, content}]) or variables for the prompt template.
    messages = models.JSONField(default=list, blank=True)
    variables = models.JSONField(default=dict, blank=True)
    # A per-case prompt template (promptfoo: one case per prompt x test); else the suite's.
    prompt = models.TextField(blank=True)
    reference = models.TextField(blank=True, help_text="The expected or preferred output.")
    # Validated at save time (evaluations/assertions.py: clean_assertions).
    assertions = models.JSONField(default=list, blank=True)
    dimension = models.CharField(max_length=16, choices=Dimension.choices, default=Dimension.OTHER)
    critical = models.BooleanField(
        default=False, help_text="A critical case passing on baseline and failing blocks."
    )
    weight = models.FloatField(default=1.0)
    # promptfoo's test-level threshold: the weighted assertion score that passes the case.
    threshold = models.FloatField(null=True, blank=True)
    # Draft cases (sampled from traffic, not yet reviewed) never run in a gate.
    draft = models.BooleanField(default=False)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    # Where it came from: a pair's code, a request id, a promptfoo file and test index.
    source_ref = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["suite", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(weight__gte=0), name="evaluations_case_weight_ok"),
            models.CheckConstraint(
                condition=Q(threshold__isnull=True) | (Q(threshold__gte=0) & Q(threshold__lte=1)),
                name="evaluations_case_threshold_in_range",
            ),
            models.CheckConstraint(
                condition=Q(dimension__in=["format", "tone", "accuracy", "safety", "other"]),
                name="evaluations_case_dimension_known",
            ),
            # A production pair or request becomes a case of a suite once (rollouts/services/
            # golden.py checks first and says where it is; this holds under a race).
            models.UniqueConstraint(
                fields=["suite", "source", "source_ref"],
                condition=Q(source__in=["pair", "traffic"]),
                name="evaluations_case_production_once",
            ),
        ]
        indexes = [
            # The cases a run starts on: a suite's non-draft cases in order.
            models.Index(fields=["suite", "draft", "position"], name="evaluations_case_suite"),
        ]

    def __str__(self) -> str:
        return self.name
