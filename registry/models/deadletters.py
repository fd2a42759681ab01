"""Dead letters: rows a batch write could not store, kept with the database's error so that
logging never silently stops (one bad row must not block the rows behind it)."""

from django.db import models


class DeadLetter(models.Model):
    class Source(models.TextChoices):
        GATEWAY = "gateway"
        INGEST = "ingest"

    source = models.CharField(max_length=8, choices=Source.choices)
    # The application's request id as far as it fits; "" when it had none.
    request_id = models.CharField(max_length=100, blank=True)
    # What the row would have held: redacted columns only, never raw input or secrets.
    payload = models.JSONField(default=dict)
    # The database's one-line reason (no DETAIL line: PostgreSQL repeats the row's values there).
    error = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The health endpoint and operators: the newest dead letters first.
            models.Index(fields=["-created"], name="rollouts_deadletter_new_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source}/{self.request_id or '-'}: {self.error[:60]}"
