"""Reserved slot: filled in by the work that owns it (see its docstring once written)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("rollout_control", "0002_stages_approvals_guardrails")]

    operations = []
