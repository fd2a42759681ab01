"""Dead letters for rows a batch write could not store (issue 7, section 3)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("rollouts", "0008_shadow_job_lease")]

    operations: list = [
        migrations.AddField(
            model_name="requestlog",
            name="scrubbed",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="requestlog",
            name="body_digest",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.CreateModel(
            name="DeadLetter",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        choices=[("gateway", "Gateway"), ("ingest", "Ingest")], max_length=8
                    ),
                ),
                ("request_id", models.CharField(blank=True, max_length=100)),
                ("payload", models.JSONField(default=dict)),
                ("error", models.TextField()),
                ("created", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "indexes": [models.Index(fields=["-created"], name="rollouts_deadletter_new_idx")],
            },
        ),
    ]
