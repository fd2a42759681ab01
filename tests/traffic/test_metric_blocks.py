"""Ten-minute blocks (registry MetricBlock): written with the minutes, always their sum, and read
for whole blocks inside a window while the window's edges come from minutes, so a chart or a
guardrail over days reads a tenth of the rows and gets the same numbers."""

import importlib
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps

from registry.models import MetricBlock, MetricMinute
from traffic.metrics import arm_totals, rollout_series
from traffic.metrics.reads import ArmTotals, totals_of
from traffic.metrics.upsert import MinuteRow, upsert_minutes

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
FIELDS = ("requests", "errors", "errors_by_kind", "latency_hist", "refusals", "feedback_down")


@pytest.fixture
def rollout(feature, make_config, make_version):
    from rollouts.services import rollouts

    candidate = make_config("support v2", make_version("gpt-4o-2024-08-06"))
    return rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)


def _rows(rollout, seed: int, minutes: int = 95) -> list[MinuteRow]:
    """Random deltas over `minutes` minutes from T0, some minutes empty, both variants."""
    rng = random.Random(seed)
    rows = []
    for m in range(minutes):
        for variant in ("baseline", "candidate"):
            if rng.random() < 0.2:
                continue  # no traffic this minute
            requests = rng.randint(1, 40)
            errors = rng.randint(0, min(3, requests))
            kinds = {"timeout": errors} if errors else {}
            hist = [rng.randint(0, 3) for _ in range(23)]
            rows.append(
                MinuteRow(
                    rollout_id=rollout.pk,
                    variant=variant,
                    minute=T0 + timedelta(minutes=m),
                    requests=requests,
                    errors=errors,
                    errors_by_kind=kinds,
                    latency_hist=hist,
                    latency_sum_ms=float(sum(hist) * 100),
                    refusals=rng.randint(0, 2),
                    feedback_down=rng.randint(0, 1),
                )
            )
    return rows


def _minutes_between(rollout, variant: str, start: datetime, end: datetime) -> ArmTotals:
    """The reference: every minute row overlapping [start, end), summed in Python."""
    first = start.replace(second=0, microsecond=0)
    views = [
        ArmTotals(
            **{name: getattr(m, name) for name in FIELDS},
        )
        for m in MetricMinute.objects.filter(
            rollout=rollout, variant=variant, minute__gte=first, minute__lt=end
        )
    ]
    return totals_of(views)


def _same(a: ArmTotals, b: ArmTotals) -> bool:
    def hist(h):
        return list(h) + [0] * (23 - len(h))

    return all(getattr(a, f) == getattr(b, f) for f in FIELDS if f != "latency_hist") and hist(
        a.latency_hist
    ) == hist(b.latency_hist)


def test_every_block_is_the_sum_of_its_minutes_after_several_batches(rollout):
    rows = _rows(rollout, seed=1)
    # Three overlapping batches, as three gateway writers would send them.
    for part in (rows[::3], rows[1::3], rows[2::3]):
        upsert_minutes(sorted(part, key=lambda r: (r.rollout_id, r.variant, r.minute)))
    blocks = list(MetricBlock.objects.filter(rollout=rollout))
    assert len(blocks) == 20  # 95 minutes = 10 blocks (the last one partial), two variants
    for block in blocks:
        expected = _minutes_between(
            rollout, block.variant, block.block, block.block + timedelta(minutes=10)
        )
        assert _same(ArmTotals(**{f: getattr(block, f) for f in FIELDS}), expected), block


@pytest.mark.parametrize(
    "start, end",
    [
        (T0 + timedelta(minutes=3, seconds=20), T0 + timedelta(minutes=87, seconds=5)),
        (T0 + timedelta(minutes=10), T0 + timedelta(minutes=90)),  # on block edges
        (T0 + timedelta(minutes=12), T0 + timedelta(minutes=17)),  # inside one block
        (T0 + timedelta(minutes=29, seconds=59), None),  # open end
        (None, T0 + timedelta(minutes=41)),  # open start
    ],
    ids=["mid-block", "aligned", "within-a-block", "open-end", "open-start"],
)
def test_totals_over_a_window_equal_the_minutes_inside_it(rollout, start, end):
    upsert_minutes(_rows(rollout, seed=2))
    totals = arm_totals(rollout_id=rollout.pk, start=start, end=end)
    for variant in ("baseline", "candidate"):
        expected = _minutes_between(
            rollout, variant, start or T0 - timedelta(days=1), end or T0 + timedelta(days=1)
        )
        assert expected.requests > 0
        assert _same(totals[variant], expected), variant


def test_a_series_in_blocks_equals_the_series_in_minutes_summed(rollout):
    upsert_minutes(_rows(rollout, seed=3))
    start, end = T0 + timedelta(minutes=7), T0 + timedelta(minutes=93)
    coarse = rollout_series(rollout_id=rollout.pk, start=start, end=end, step=timedelta(minutes=20))
    fine = rollout_series(rollout_id=rollout.pk, start=start, end=end, step=None)
    for variant in ("baseline", "candidate"):
        assert coarse[variant], variant
        for bucket in coarse[variant]:
            inside = [
                v
                for v in fine[variant]
                if bucket.minute <= v.minute < bucket.minute + timedelta(minutes=20)
            ]
            assert _same(bucket, totals_of(inside)), bucket.minute
        assert sum(v.requests for v in coarse[variant]) == sum(v.requests for v in fine[variant])


def test_the_migration_builds_the_blocks_of_minutes_recorded_before_blocks(rollout):
    upsert_minutes(_rows(rollout, seed=4))
    expected = {
        (b.variant, b.block): (b.requests, b.errors, b.errors_by_kind, b.latency_hist)
        for b in MetricBlock.objects.filter(rollout=rollout)
    }
    MetricBlock.objects.all().delete()
    migration = importlib.import_module("registry.migrations.0016_metric_blocks")
    migration.fill_blocks(apps, None)
    rebuilt = {
        (b.variant, b.block): (b.requests, b.errors, b.errors_by_kind, b.latency_hist)
        for b in MetricBlock.objects.filter(rollout=rollout)
    }
    assert rebuilt == expected and len(rebuilt) == 20
