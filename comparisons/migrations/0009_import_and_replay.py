"""Imported pairs and replays (issue 8)."""

import uuid

import django.db.models.deletion
import django.db.models.expressions
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("comparisons", "0008_verdicts_per_pair"),
        ("rollouts", "0012_offline_comparisons"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ImportBatch",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("code", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("page", "Upload page"),
                            ("command", "Management command"),
                            ("api", "API"),
                        ],
                        max_length=8,
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("pending", "Previewed, not imported"), ("imported", "Imported")],
                        default="imported",
                        max_length=8,
                    ),
                ),
                ("file_name", models.CharField(blank=True, max_length=200)),
                ("actor_label", models.CharField(blank=True, max_length=150)),
                ("created", models.DateTimeField(auto_now_add=True)),
                ("records", models.PositiveIntegerField(default=0)),
                ("pairs", models.PositiveIntegerField(default=0)),
                ("unpinned", models.PositiveIntegerField(default=0)),
                ("flagged", models.PositiveIntegerField(default=0)),
                ("queued", models.PositiveIntegerField(default=0)),
                ("redacted", models.PositiveIntegerField(default=0)),
                ("staged", models.JSONField(blank=True, editable=False, null=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "rollout",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="rollouts.rollout",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="ImportedPair",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "line",
                    models.PositiveIntegerField(
                        help_text="Line (file) or index (API) of the record"
                    ),
                ),
                ("baseline_model", models.CharField(max_length=200)),
                ("candidate_model", models.CharField(max_length=200)),
                ("unpinned", models.BooleanField(default=False)),
                ("unpinned_note", models.CharField(blank=True, max_length=500)),
                ("metadata", models.JSONField(blank=True, default=dict)),
                (
                    "batch",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="items",
                        to="comparisons.importbatch",
                    ),
                ),
                (
                    "pair",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="imported",
                        to="comparisons.shadowpair",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="ReplayRun",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("code", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                (
                    "status",
                    models.CharField(
                        choices=[("queued", "Queued"), ("running", "Running"), ("done", "Done")],
                        default="queued",
                        max_length=8,
                    ),
                ),
                ("filters", models.JSONField(default=dict)),
                ("request_ids", models.JSONField(default=list)),
                ("total", models.PositiveIntegerField(default=0)),
                ("cursor", models.PositiveIntegerField(default=0)),
                ("done", models.PositiveIntegerField(default=0)),
                ("failed", models.PositiveIntegerField(default=0)),
                ("skipped", models.PositiveIntegerField(default=0)),
                ("created", models.DateTimeField(auto_now_add=True)),
                ("updated", models.DateTimeField(auto_now=True)),
                ("finished", models.DateTimeField(blank=True, null=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "rollout",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="rollouts.rollout",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="importbatch",
            index=models.Index(fields=["rollout", "-id"], name="comparisons_import_rollout_idx"),
        ),
        migrations.AddConstraint(
            model_name="importbatch",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["pending", "imported"])),
                name="comparisons_importbatch_status_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="importbatch",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("status", "pending"), ("staged__isnull", True), _connector="OR"
                ),
                name="comparisons_importbatch_staged_only_pending",
            ),
        ),
        migrations.AddConstraint(
            model_name="importbatch",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("pairs__lte", models.F("records")), ("unpinned__lte", models.F("pairs"))
                ),
                name="comparisons_importbatch_counts_add_up",
            ),
        ),
        migrations.AddIndex(
            model_name="replayrun",
            index=models.Index(fields=["rollout", "-id"], name="comparisons_replay_rollout_idx"),
        ),
        migrations.AddConstraint(
            model_name="replayrun",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["queued", "running", "done"])),
                name="comparisons_replayrun_status_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="replayrun",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("cursor__lte", models.F("total")),
                    (
                        "done__lte",
                        django.db.models.expressions.CombinedExpression(
                            models.F("cursor"), "-", models.F("skipped")
                        ),
                    ),
                    ("failed__lte", models.F("done")),
                ),
                name="comparisons_replayrun_progress_in_range",
            ),
        ),
    ]
