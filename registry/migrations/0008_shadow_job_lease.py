"""Shadow jobs run under a lease with a heartbeat (issue 7, section 7)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("rollouts", "0007_request_log_fidelity")]

    operations: list = [
        migrations.AddField(
            model_name="shadowjob",
            name="lease_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
