"""Shadow jobs and days now belong to the registry app (rollouts.0006); state only."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("rollouts", "0006_shadow_jobs_move_here"),
        ("comparisons", "0003_queue_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="shadowjob",
                    name="config",
                ),
                migrations.RemoveField(
                    model_name="shadowjob",
                    name="request",
                ),
                migrations.RemoveField(
                    model_name="shadowjob",
                    name="rollout",
                ),
                migrations.DeleteModel(
                    name="ShadowDay",
                ),
                migrations.DeleteModel(
                    name="ShadowJob",
                ),
            ],
        ),
    ]
