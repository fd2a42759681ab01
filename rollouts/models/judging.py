"""The judge's verdicts on shadow pairs, kept apart from human labels (never mixed into the
review statistics; compared with them as agreement)."""

from django.db import models

from comparisons.models import ShadowPair
from registry.models import ModelConfig


class PairJudgement(models.Model):
    class Verdict(models.TextChoices):
        BETTER = "better", "Candidate better"
        SAME = "same", "Same"
        WORSE = "worse", "Candidate worse"

    class Status(models.TextChoices):
        DONE = "done", "Judged"
        ERROR = "error", "Judge failed"

    pair = models.ForeignKey(ShadowPair, on_delete=models.CASCADE, related_name="+")
    judge = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DONE)
    # The verdict after both orders; orders that disagree make a tie ("same").
    verdict = models.CharField(max_length=8, choices=Verdict.choices, blank=True)
    # Each order's own verdict and reasoning: [{order: "baseline_first"|..., verdict, reasoning}].
    orders = models.JSONField(default=list)
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "rollout_control"
        constraints = [
            models.UniqueConstraint(fields=["pair", "judge"], name="rollout_control_judged_once"),
        ]

    def __str__(self) -> str:
        return f"{self.pair_id}: {self.verdict or self.status}"
