"""Shadow jobs and days move to the registry app (traffic capture writes them); their tables
keep their names, so this changes Django's state only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("comparisons", "0003_queue_index"),
        ("rollouts", "0005_review_settings"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ShadowDay",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("day", models.DateField()),
                        ("queued", models.PositiveIntegerField(default=0)),
                        ("skipped_sample", models.PositiveIntegerField(default=0)),
                        ("skipped_cap", models.PositiveIntegerField(default=0)),
                        (
                            "rollout",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="shadow_days",
                                to="rollouts.rollout",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "comparisons_shadowday",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("rollout", "day"), name="comparisons_shadowday_unique"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ShadowJob",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("queued", "Queued"),
                                    ("claimed", "Claimed"),
                                    ("done", "Done"),
                                    ("failed", "Failed"),
                                ],
                                default="queued",
                                max_length=8,
                            ),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("claimed_at", models.DateTimeField(blank=True, null=True)),
                        ("renudged", models.DateTimeField(blank=True, null=True)),
                        ("finished", models.DateTimeField(blank=True, null=True)),
                        ("error", models.TextField(blank=True)),
                        ("created", models.DateTimeField(auto_now_add=True)),
                        (
                            "config",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="rollouts.modelconfig",
                            ),
                        ),
                        (
                            "request",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="shadow_jobs",
                                to="rollouts.requestlog",
                            ),
                        ),
                        (
                            "rollout",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="shadow_jobs",
                                to="rollouts.rollout",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "comparisons_shadowjob",
                        "indexes": [
                            models.Index(
                                condition=models.Q(("status__in", ["queued", "claimed"])),
                                fields=["created"],
                                name="comparisons_shadowjob_open_idx",
                            )
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("request", "config"),
                                name="comparisons_shadowjob_once_per_config",
                            )
                        ],
                    },
                ),
            ],
        ),
    ]
