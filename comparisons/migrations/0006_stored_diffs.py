"""Diffs and renderings computed once per pair and kept (issue 8)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("comparisons", "0005_flag_priority")]

    operations: list = [
        # Nullable, no default: adding it rewrites no row, and pairs stored before it get their
        # diff on first view.
        migrations.AddField(
            model_name="shadowpair",
            name="diff",
            field=models.JSONField(blank=True, null=True),
        ),
    ]
