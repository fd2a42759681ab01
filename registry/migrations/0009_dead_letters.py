"""Dead letters for rows a batch write could not store (issue 7, section 3)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("rollouts", "0008_shadow_job_lease")]

    operations: list = []
