"""One verdict per pair and adjudication (issue 8)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("comparisons", "0007_blinding_and_queue"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Adjudication",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "verdict",
                    models.CharField(
                        choices=[
                            ("better", "Candidate better"),
                            ("same", "Same"),
                            ("worse", "Candidate worse"),
                            ("both_bad", "Both bad"),
                        ],
                        max_length=10,
                    ),
                ),
                ("note", models.TextField()),
                ("created", models.DateTimeField(auto_now_add=True)),
                (
                    "adjudicator",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "pair",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="adjudication",
                        to="comparisons.shadowpair",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("verdict__in", ["better", "same", "worse", "both_bad"])
                        ),
                        name="comparisons_adjudication_verdict_known",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("note", ""), _negated=True),
                        name="comparisons_adjudication_note_given",
                    ),
                ],
            },
        ),
    ]
