"""Offline comparisons: a rollout that never routes traffic (issue 8)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("rollouts", "0011_review_feature_settings")]

    operations = [
        migrations.AlterField(
            model_name="rollout",
            name="status",
            field=models.CharField(
                choices=[
                    ("draft", "Draft"),
                    ("shadow", "Shadow"),
                    ("canary", "Canary"),
                    ("completed", "Completed"),
                    ("rolled_back", "Rolled back"),
                    ("aborted", "Aborted"),
                    ("offline", "Offline comparison"),
                ],
                default="draft",
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="rollout",
            constraint=models.CheckConstraint(
                condition=models.Q(("status", "offline"), _negated=True)
                | models.Q(("candidate_bp", 0), ("shadow_sample_bp", 0)),
                name="rollouts_rollout_offline_routes_nothing",
            ),
        ),
    ]
