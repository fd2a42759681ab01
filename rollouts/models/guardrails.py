"""Guardrails: canary metrics judged candidate vs baseline with a sequential test; a critical
breach rolls back automatically."""

from django.db import models
from django.db.models import Q

from registry.models import Rollout

from .stages import Stage


class Guardrail(models.Model):
    class Metric(models.TextChoices):
        ERROR_RATE = "error_rate", "Error rate"
        LATENCY_P95 = "latency_p95", "Latency p95"
        NEGATIVE_FEEDBACK = "negative_feedback", "Negative feedback rate"
        REFUSAL_RATE = "refusal_rate", "Refusal rate"
        JSON_INVALID = "json_invalid", "Invalid JSON rate"
        REVIEWER_LOSS = "reviewer_loss", "Reviewer 'candidate worse' rate"
        JUDGE_LOSS = "judge_loss", "Judge 'candidate worse' rate"
        COST = "cost", "Cost per request"

    class Severity(models.TextChoices):
        CRITICAL = "critical", "Critical (rolls back)"
        ADVISORY = "advisory", "Advisory (notifies)"

    class State(models.TextChoices):
        INSUFFICIENT = "insufficient", "Insufficient evidence"
        # The stage met its minimums (time, samples) and the test still decides neither way:
        # the stage holds for a release manager's decision, never promotes on its own.
        INCONCLUSIVE = "inconclusive", "Inconclusive"
        OK = "ok", "Within tolerance"
        BREACH = "breach", "Breached"

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="guardrails")
    metric = models.CharField(max_length=24, choices=Metric.choices)
    # The candidate may be worse than the baseline by at most this relative change (0.2: 20%);
    # every metric above is "higher is worse".
    tolerance = models.FloatField(default=0.2)
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.CRITICAL)
    # The latest evaluation, for pages and the decision panel (history: GuardrailCheck).
    state = models.CharField(max_length=12, choices=State.choices, default=State.INSUFFICIENT)
    last_checked = models.DateTimeField(null=True, blank=True)
    last_evidence = models.JSONField(default=dict, blank=True)

    class Meta:
        app_label = "rollout_control"
        ordering = ["rollout", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["rollout", "metric"], name="rollout_control_guardrail_once"
            ),
            models.CheckConstraint(
                condition=Q(tolerance__gte=0) & Q(tolerance__lte=10),
                name="rollout_control_guardrail_tolerance_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} ≤ +{self.tolerance:.0%} ({self.severity})"


class GuardrailCheck(models.Model):
    """One evaluation that changed a guardrail's state (or breached): append-only evidence."""

    guardrail = models.ForeignKey(Guardrail, on_delete=models.CASCADE, related_name="checks")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=12, choices=Guardrail.State.choices)
    # The numbers behind the state: n and rate per arm, the statistic, the boundary.
    evidence = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "rollout_control"
        ordering = ["-created"]
        indexes = [
            # A guardrail's history on the rollout page, newest first.
            models.Index(fields=["guardrail", "-created"], name="rollout_control_gcheck_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.guardrail_id}: {self.state}"
