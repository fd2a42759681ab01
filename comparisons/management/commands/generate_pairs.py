"""Fill a database with many synthetic shadow pairs (for the review benchmark). Uses COPY on
PostgreSQL; never run it against a database whose pairs matter."""

import random
import uuid

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from psycopg.types.json import Jsonb

from comparisons.models import Label, ShadowPair
from rollouts.models import Rollout

WORDS = [
    "order",
    "refund",
    "parcel",
    "invoice",
    "account",
    "password",
    "shipping",
    "delay",
    "customer",
    "support",
]


class Command(BaseCommand):
    help = "Generate N synthetic shadow pairs for a rollout (benchmarks only)."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=1_000_000)
        parser.add_argument("--rollout", help="Rollout code (default: the newest active one)")
        parser.add_argument("--labelled", type=float, default=0.02, help="Share with a label.")

    def handle(self, *args, count, rollout, labelled, **options):
        rollouts = Rollout.objects.filter(status__in=Rollout.SHADOWING)
        target = rollouts.filter(code=rollout).first() if rollout else rollouts.first()
        if target is None:
            raise CommandError("Needs a rollout in shadow or canary: run seed_demo first.")
        if connection.vendor != "postgresql":
            raise CommandError("generate_pairs writes with COPY: point DATABASE_URL at PostgreSQL.")
        rng = random.Random(1)  # noqa: S311 - synthetic data, not security
        fields = [f for f in ShadowPair._meta.concrete_fields if f.name != "id"]
        columns = ", ".join(f.column for f in fields)
        with transaction.atomic(), connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY comparisons_shadowpair ({columns}) FROM STDIN") as copy:
                for n in range(count):
                    copy.write_row([_value(f, _row(n, rng, target)) for f in fields])
            self._labels(target, labelled, rng)
        self.stdout.write(f"{count} pairs added to rollout {target.code}")

    def _labels(self, rollout, share, rng):
        from django.contrib.auth.models import User

        reviewer, _ = User.objects.get_or_create(username="bench-reviewer")
        ids = ShadowPair.objects.filter(rollout=rollout).values_list("pk", flat=True)
        chosen = [pk for pk in ids.iterator(chunk_size=50_000) if rng.random() < share]
        Label.objects.bulk_create(
            (
                Label(
                    pair_id=pk,
                    reviewer=reviewer,
                    verdict=rng.choice(["better", "same", "worse"]),
                    dimensions=[rng.choice(Label.DIMENSIONS)],
                )
                for pk in chosen
            ),
            batch_size=5000,
            ignore_conflicts=True,
        )
        ShadowPair.objects.filter(pk__in=chosen).update(label_count=1)


def _row(n, rng, rollout) -> dict:
    base = " ".join(rng.choice(WORDS) for _ in range(40))
    cand = " ".join(rng.choice(WORDS) for _ in range(40))
    flagged = rng.random() < 0.2
    return {
        "code": uuid.uuid4(),
        "rollout": rollout.pk,
        "request": None,
        "messages": [{"role": "user", "content": f"question {n}"}],
        "baseline_config": rollout.baseline_id,
        "candidate_config": rollout.candidate_id,
        "served_variant": "baseline",
        "baseline_output": base,
        "candidate_output": cand,
        "baseline_error": "",
        "candidate_error": "",
        "baseline_latency_ms": 300.0,
        "candidate_latency_ms": 350.0,
        "baseline_tokens": 50,
        "candidate_tokens": 55,
        "candidate_tool_calls": [],
        "request_key": f"gen-{uuid.uuid4().hex}",
        "similarity": round(rng.random(), 4),
        "metrics": {},
        "flags": ["low_similarity"] if flagged else [],
        "flagged": flagged,
        "queued": flagged or rng.random() < 0.1,
        "labels_wanted": 1,
        "label_count": 0,
    }


def _value(field, row):
    from django.db.models import JSONField
    from django.utils import timezone

    if field.name == "created":
        return timezone.now()
    value = row[field.name]
    return Jsonb(value) if isinstance(field, JSONField) else value
