"""Pairs that did not come from live shadow traffic: import batches and replay runs.

Kept apart from comparisons/models.py (imported at its end, so Django registers these models
with the app): the pair itself is an ordinary ShadowPair; these rows say where it came from.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from registry.models import Rollout

# A previewed upload keeps its records (not yet redacted: redaction runs when the pairs are
# made) until it is confirmed; one left unconfirmed this long is deleted by the hourly purge.
STAGED_IMPORT_HOURS = 24


class ImportBatch(models.Model):
    """One import of pairs produced elsewhere. A page upload is first staged (`pending`, the
    validated records kept in `staged`) and only creates its pairs when confirmed; the command
    and the API create at once. Pairs are created all together or not at all."""

    class Source(models.TextChoices):
        PAGE = "page", "Upload page"
        COMMAND = "command", "Management command"
        API = "api", "API"

    class Status(models.TextChoices):
        PENDING = "pending", "Previewed, not imported"
        IMPORTED = "imported", "Imported"

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rollout = models.ForeignKey(Rollout, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=8, choices=Source.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.IMPORTED)
    file_name = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    # Who, when no user: "token:<name>" for the API, "command" for manage.py.
    actor_label = models.CharField(max_length=150, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    records = models.PositiveIntegerField(default=0)
    pairs = models.PositiveIntegerField(default=0)
    unpinned = models.PositiveIntegerField(default=0)
    flagged = models.PositiveIntegerField(default=0)
    queued = models.PositiveIntegerField(default=0)
    # Pairs in which the feature's redaction changed some text before it was stored.
    redacted = models.PositiveIntegerField(default=0)
    # The validated records of a pending (previewed) upload; cleared once imported.
    staged = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "imported"]),
                name="comparisons_importbatch_status_known",
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(staged__isnull=True),
                name="comparisons_importbatch_staged_only_pending",
            ),
            models.CheckConstraint(
                condition=Q(pairs__lte=F("records")) & Q(unpinned__lte=F("pairs")),
                name="comparisons_importbatch_counts_add_up",
            ),
        ]
        indexes = [
            # A rollout's import history, newest first.
            models.Index(fields=["rollout", "-id"], name="comparisons_import_rollout_idx"),
        ]

    def __str__(self) -> str:
        return f"import {self.code} ({self.pairs} pairs)"


class ImportedPair(models.Model):
    """What an imported pair carries beyond a shadow pair: the model ids it was produced with
    (as given, checked by the pinning rule), and the producer's metadata."""

    pair = models.OneToOneField(
        "comparisons.ShadowPair", on_delete=models.CASCADE, related_name="imported"
    )
    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="items")
    line = models.PositiveIntegerField(help_text="Line (file) or index (API) of the record")
    baseline_model = models.CharField(max_length=200)
    candidate_model = models.CharField(max_length=200)
    # History cannot be re-pinned: a floating id is imported as is and marked, never refused.
    unpinned = models.BooleanField(default=False)
    unpinned_note = models.CharField(max_length=500, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.pair_id} from {self.batch_id}"


class ReplayRun(models.Model):
    """Logged production requests of a feature run again now on BOTH configs (the log keeps
    only redacted input, so the baseline is re-run too and the pair compares like with like).
    The row is the truth: `cursor` is the next request to replay, advanced compare-and-set."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rollout = models.ForeignKey(Rollout, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    # What was asked for: since, until (ISO), sample, only_flagged, only_negative.
    filters = models.JSONField(default=dict)
    # RequestLog ids picked when the run was created, in replay order.
    request_ids = models.JSONField(default=list)
    total = models.PositiveIntegerField(default=0)
    cursor = models.PositiveIntegerField(default=0)
    # Of the requests replayed: pairs stored, and pairs where a config's call failed (stored
    # too, flagged as errors), and requests skipped (purged meanwhile, or paired already).
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done"]),
                name="comparisons_replayrun_status_known",
            ),
            models.CheckConstraint(
                condition=Q(cursor__lte=F("total"))
                & Q(done__lte=F("cursor") - F("skipped"))
                & Q(failed__lte=F("done")),
                name="comparisons_replayrun_progress_in_range",
            ),
        ]
        indexes = [
            # A rollout's replay runs, newest first.
            models.Index(fields=["rollout", "-id"], name="comparisons_replay_rollout_idx"),
        ]

    def __str__(self) -> str:
        return f"replay {self.code} ({self.cursor}/{self.total})"

    @property
    def percent(self) -> int:
        return round(100 * self.cursor / self.total) if self.total else 100
