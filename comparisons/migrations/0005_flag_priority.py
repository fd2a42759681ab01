"""Flags that separate and the queue's priority score (issue 8).

The pair keeps the baseline's tool calls and both finish reasons (the request log may be
purged), and a priority the queue is ordered by. Pairs still waiting in the queue get their
priority from the flags they already carry (old flag names are understood by
comparisons.flags), so the queue order holds across the upgrade.
"""

from django.db import migrations, models
from django.db.models import F, Q

from comparisons.flags import priority_score


def fill_priorities(apps, schema_editor):
    ShadowPair = apps.get_model("comparisons", "ShadowPair")
    waiting = ShadowPair.objects.filter(queued=True, label_count__lt=F("labels_wanted"))
    last = 0
    while True:
        batch = list(waiting.filter(id__gt=last).order_by("id")[:1000])
        if not batch:
            return
        for pair in batch:
            pair.priority = priority_score(flags=pair.flags or [], similarity=pair.similarity)
        ShadowPair.objects.bulk_update(batch, ["priority"])
        last = batch[-1].id


class Migration(migrations.Migration):
    dependencies = [("comparisons", "0004_shadow_jobs_moved_to_registry")]

    operations = [
        migrations.AddField(
            model_name="shadowpair",
            name="baseline_tool_calls",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="shadowpair",
            name="baseline_finish_reason",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
        migrations.AddField(
            model_name="shadowpair",
            name="candidate_finish_reason",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
        migrations.AddField(
            model_name="shadowpair",
            name="priority",
            field=models.IntegerField(default=0),
        ),
        migrations.RunPython(fill_priorities, migrations.RunPython.noop, elidable=True),
        migrations.RemoveIndex(model_name="shadowpair", name="comparisons_pair_queue_idx"),
        migrations.AddIndex(
            model_name="shadowpair",
            index=models.Index(
                models.OrderBy(F("priority"), descending=True),
                F("id"),
                condition=Q(("queued", True), ("label_count__lt", F("labels_wanted"))),
                name="comparisons_pair_queue_idx",
            ),
        ),
    ]
