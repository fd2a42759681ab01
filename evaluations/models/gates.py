"""The eval gate: a baseline run and a candidate run per suite, started together, and the
verdict of evaluations/gate.py over them."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from registry.models import Feature, ModelConfig, Rollout


class Gate(models.Model):
    class Verdict(models.TextChoices):
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        # A non-critical dimension dropped past the suite's threshold: proceed only with a note.
        NEEDS_ACK = "needs_ack", "Needs acknowledgement"
        BLOCKED = "blocked", "Blocked"
        # A critical case has no scored result on one side (provider errors): run it again.
        INCOMPLETE = "incomplete", "Incomplete"
        CANCELLED = "cancelled", "Cancelled"

    # Verdicts that let a rollout enter shadow (NEEDS_ACK only once acknowledged).
    CLEARS = (Verdict.PASSED,)

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    feature = models.ForeignKey(Feature, on_delete=models.PROTECT, related_name="gates")
    # A gate of a rollout, or a standalone one started by a deployment pipeline.
    rollout = models.ForeignKey(
        Rollout, on_delete=models.PROTECT, null=True, blank=True, related_name="gates"
    )
    baseline = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="+")
    candidate = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="+")
    trials = models.PositiveSmallIntegerField(default=1)
    verdict = models.CharField(max_length=16, choices=Verdict.choices, default=Verdict.RUNNING)
    # What evaluations/gate.py found: cases, dimensions with deltas and intervals, reasons.
    report = models.JSONField(default=dict, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged = models.DateTimeField(null=True, blank=True)
    ack_note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(candidate=F("baseline")), name="evaluations_gate_candidate_differs"
            ),
            models.CheckConstraint(
                condition=Q(acknowledged__isnull=True) | Q(verdict="needs_ack"),
                name="evaluations_gate_ack_only_when_needed",
            ),
            # Two release managers pressing "Run the gate" at once start one gate, not two.
            models.UniqueConstraint(
                fields=["rollout"],
                condition=Q(verdict="running", rollout__isnull=False),
                name="evaluations_gate_one_running_per_rollout",
            ),
        ]
        indexes = [
            # The rollout page and the shadow check: a rollout's latest gate.
            models.Index(fields=["rollout", "-created"], name="evaluations_gate_rollout"),
        ]

    def __str__(self) -> str:
        return f"gate {self.code} ({self.verdict})"

    @property
    def clears(self) -> bool:
        """Whether a rollout may enter shadow on this gate."""
        return self.verdict == self.Verdict.PASSED or (
            self.verdict == self.Verdict.NEEDS_ACK and self.acknowledged is not None
        )
