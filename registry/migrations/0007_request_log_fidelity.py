"""Request-log fidelity: pass-through parameters, raw input until the shadow job ends, the shadow config as a field (issue 7, section 1)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("rollouts", "0006_shadow_jobs_move_here")]

    operations = [
        migrations.AddField(
            model_name="requestlog",
            name="params",
            field=models.JSONField(
                blank=True, db_default=models.Value({}, models.JSONField()), default=dict
            ),
        ),
        migrations.AddField(
            model_name="requestlog",
            name="raw_messages",
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="requestlog",
            name="raw_variables",
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="requestlog",
            name="shadow_config",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="rollouts.modelconfig",
            ),
        ),
        migrations.AddIndex(
            model_name="requestlog",
            index=models.Index(
                condition=models.Q(("raw_messages__isnull", False)),
                fields=["created"],
                name="rollouts_reqlog_raw_idx",
            ),
        ),
    ]
