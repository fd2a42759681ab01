"""Runs: a suite against one config, N trials per case, one result row per case x trial."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from registry.models import ModelConfig

from .suites import Case, Suite


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    ENDED = (Status.COMPLETED, Status.CANCELLED)

    class Side(models.TextChoices):
        NONE = "", "Standalone"
        BASELINE = "baseline", "Baseline"
        CANDIDATE = "candidate", "Candidate"

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    suite = models.ForeignKey(Suite, on_delete=models.PROTECT, related_name="runs")
    config = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="+")
    trials = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    gate = models.ForeignKey(
        "evaluations.Gate", on_delete=models.CASCADE, null=True, blank=True, related_name="runs"
    )
    side = models.CharField(max_length=16, choices=Side.choices, default=Side.NONE, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=Q(trials__gte=1) & Q(trials__lte=20), name="evaluations_run_trials_range"
            ),
            # A gate compares exactly one baseline and one candidate run per suite.
            models.UniqueConstraint(
                fields=["gate", "suite", "side"],
                condition=Q(gate__isnull=False),
                name="evaluations_run_one_per_gate_side",
            ),
            models.CheckConstraint(
                condition=Q(gate__isnull=True, side="")
                | (Q(gate__isnull=False) & Q(side__in=["baseline", "candidate"])),
                name="evaluations_run_side_with_gate",
            ),
        ]
        indexes = [
            # The sweep: runs still going.
            models.Index(
                fields=["status"],
                condition=Q(status__in=["queued", "running"]),
                name="evaluations_run_live",
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.code} ({self.status})"

    @property
    def ended(self) -> bool:
        return self.status in self.ENDED


class CaseResult(models.Model):
    """One trial of one case in one run. Created `pending` when the run starts; a worker claims
    it (`running`, with a lease) and writes its terminal status once, by compare-and-set, so a
    redelivered task neither runs it twice nor counts it twice."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        PASS = "pass", "Pass"
        FAIL = "fail", "Fail"
        # The provider (or the judge) did not answer: neither a pass nor a fail.
        ERROR = "error", "Error"
        CANCELLED = "cancelled", "Cancelled"

    OPEN = (Status.PENDING, Status.RUNNING)
    SCORED = (Status.PASS, Status.FAIL)

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="results")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="results")
    trial = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    output = models.TextField(blank=True)
    tool_calls = models.JSONField(default=list, blank=True)
    finish_reason = models.CharField(max_length=32, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    # One entry per assertion: {type, passed, score, reason, metric?, weight, judge?}.
    outcomes = models.JSONField(default=list, blank=True)
    score = models.FloatField(null=True, blank=True)
    error_kind = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "case", "trial"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "case", "trial"], name="evaluations_caseresult_unique_trial"
            ),
        ]
        indexes = [
            # Claiming work and counting progress: a run's results by status.
            models.Index(fields=["run", "status"], name="evaluations_result_run_status"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}#{self.trial}: {self.status}"
