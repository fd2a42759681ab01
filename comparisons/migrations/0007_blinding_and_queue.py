"""Blinding everywhere and queue ergonomics (issue 8): identical pairs share a group key, and a
label copied onto them remembers the label it came from."""

import django.db.models.deletion
from django.db import migrations, models

from comparisons.grouping import pair_group_key


def fill_group_keys(apps, schema_editor):
    """Existing pairs get their key too, in batches, so old identical pairs group as well."""
    ShadowPair = apps.get_model("comparisons", "ShadowPair")
    last = 0
    while True:
        batch = list(ShadowPair.objects.filter(id__gt=last, group_key="").order_by("id")[:500])
        if not batch:
            return
        for pair in batch:
            pair.group_key = pair_group_key(pair)
        ShadowPair.objects.bulk_update(batch, ["group_key"])
        last = batch[-1].id


class Migration(migrations.Migration):
    dependencies = [("comparisons", "0006_stored_diffs")]

    operations = [
        migrations.AddField(
            model_name="shadowpair",
            name="group_key",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AddField(
            model_name="label",
            name="covered_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="copies",
                to="comparisons.label",
            ),
        ),
        migrations.AddIndex(
            model_name="shadowpair",
            index=models.Index(
                condition=models.Q(("group_key", ""), _negated=True),
                fields=["rollout", "group_key"],
                name="comparisons_pair_group_idx",
            ),
        ),
        migrations.RunPython(fill_group_keys, migrations.RunPython.noop, elidable=True),
    ]
