"""Shadow jobs run under a lease with a heartbeat (issue 7, section 7)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("rollouts", "0007_request_log_fidelity")]

    operations: list = []
