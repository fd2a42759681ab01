"""Reserved slot: filled in by the work that owns it (see its docstring once written)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("rollouts", "0014_canary_metrics_and_feature_settings")]

    operations = []
