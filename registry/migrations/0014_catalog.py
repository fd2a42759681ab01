"""Reserved slot: filled in by the work that owns it (see its docstring once written)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("rollouts", "0013_gate_status_catalog_judge")]

    operations = []
