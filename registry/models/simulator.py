"""The built-in simulator's staged regressions: a prepared fault for one simulated model version,
switched on and off while everything runs (`manage.py simulator_regression on|off|status`).

In the database, not in settings or process memory, because the simulator answers in every web
process and the switch is thrown from another one; each process re-reads the table about once a
second (traffic/simulator/regressions.py). Simulator-only: no real provider ever reads it.
"""

from django.db import models
from django.db.models import Q

# The simulator's failure statuses (traffic/simulator/behaviours.py FAILURE_STATUSES).
FAILURE_STATUSES = (500, 429, 503)


class SimulatorRegression(models.Model):
    # A simulated model id (traffic/simulator/behaviours.py BEHAVIOURS), e.g. sim-chat-2025-06-01.
    model_id = models.CharField(max_length=200, unique=True)
    on = models.BooleanField(default=False)
    # Applied on top of the model's behaviour while on: at least this share of distinct inputs
    # fails with failure_status, and refuses with refusal_rate; every answer is this much slower.
    failure_rate = models.FloatField(default=0.25)
    failure_status = models.PositiveSmallIntegerField(default=500)
    extra_latency_ms = models.PositiveIntegerField(default=300)
    refusal_rate = models.FloatField(default=0.05)
    # When it was last switched on or off.
    switched = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "rollouts"
        ordering = ["model_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(failure_rate__gte=0) & Q(failure_rate__lte=1),
                name="rollouts_simregression_failure_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(refusal_rate__gte=0) & Q(refusal_rate__lte=1),
                name="rollouts_simregression_refusal_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(failure_status__in=FAILURE_STATUSES),
                name="rollouts_simregression_failure_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_id}: staged regression {'on' if self.on else 'off'}"
