"""Reading the per-minute roll-ups: a rollout's series per variant, its totals per arm over a
window, and percentiles from latency histograms. Only MetricMinute is read, never RequestLog."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection

from registry.models import MetricMinute
from registry.models.metrics import LATENCY_BUCKETS_MS

VARIANTS = (MetricMinute.Variant.BASELINE.value, MetricMinute.Variant.CANDIDATE.value)
HIST_LEN = len(LATENCY_BUCKETS_MS) + 1  # the buckets and one overflow bucket


def merge_hist(into: list[int], other: Sequence[int]) -> list[int]:
    """Add `other` to `into` bucket by bucket (in place; either may be shorter), returns `into`."""
    if len(into) < len(other):
        into.extend([0] * (len(other) - len(into)))
    for i, n in enumerate(other):
        into[i] += int(n)
    return into


def percentile_from_hist(hist: Sequence[int], q: float) -> float | None:
    """The q-quantile (0 <= q <= 1: 0.95 is p95) of the latencies counted in `hist` (counts per
    LATENCY_BUCKETS_MS bucket, then the overflow bucket), in ms; None when it counts nothing.

    The rank q * n is placed inside its bucket by linear interpolation between the bucket's
    bounds (0 below the first), so the answer lies in the same bucket as the exact percentile:
    within one bucket's width of the truth. A rank in the overflow bucket answers the last
    bound (the latency is known only to be above it)."""
    if not 0 <= q <= 1:
        raise ValueError(f"q must be between 0 and 1 (0.95 for p95), not {q!r}")
    total = sum(hist)
    if total <= 0:
        return None
    rank = q * total
    below = 0
    for i, count in enumerate(hist):
        if count and below + count >= rank:
            if i >= len(LATENCY_BUCKETS_MS):
                return float(LATENCY_BUCKETS_MS[-1])
            low = 0.0 if i == 0 else float(LATENCY_BUCKETS_MS[i - 1])
            high = float(LATENCY_BUCKETS_MS[i])
            return low + (high - low) * max(rank - below, 0) / count
        below += count
    return float(LATENCY_BUCKETS_MS[-1])


@dataclass(frozen=True)
class ArmTotals:
    """One arm's (variant's) counts over a window; every field defaults to zero, so a pure
    function's test can build one with only what it needs."""

    requests: int = 0
    errors: int = 0
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    latency_hist: list[int] = field(default_factory=list)
    latency_sum_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens: int = 0  # prompt + completion
    cost: Decimal = Decimal(0)  # USD of the calls whose prices and token counts were known
    refusals: int = 0
    json_checked: int = 0  # answers of a config that asks for JSON
    json_invalid: int = 0  # ... that did not parse
    # Feedback: down = thumbs down or a score of 1-2 (Feedback.negative), up = any other.
    feedback_up: int = 0
    feedback_down: int = 0
    score_sum: int = 0
    score_n: int = 0

    @property
    def latency_n(self) -> int:
        return sum(self.latency_hist)

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def refusal_rate(self) -> float | None:
        return self.refusals / self.requests if self.requests else None

    @property
    def json_invalid_rate(self) -> float | None:
        return self.json_invalid / self.json_checked if self.json_checked else None

    @property
    def feedback_n(self) -> int:
        return self.feedback_up + self.feedback_down

    @property
    def negative_feedback_rate(self) -> float | None:
        return self.feedback_down / self.feedback_n if self.feedback_n else None

    @property
    def mean_score(self) -> float | None:
        return self.score_sum / self.score_n if self.score_n else None

    @property
    def latency_mean_ms(self) -> float | None:
        return self.latency_sum_ms / self.latency_n if self.latency_n else None

    def latency_percentile(self, q: float) -> float | None:
        return percentile_from_hist(self.latency_hist, q)

    @property
    def p50(self) -> float | None:
        return self.latency_percentile(0.50)

    @property
    def p95(self) -> float | None:
        return self.latency_percentile(0.95)

    @property
    def p99(self) -> float | None:
        return self.latency_percentile(0.99)


@dataclass(frozen=True)
class MinuteView(ArmTotals):
    """One variant's counts in one minute (or, from a series with a `step`, one bucket of
    minutes starting at `minute`)."""

    minute: datetime = datetime(1970, 1, 1, tzinfo=UTC)


# Summed in SQL, so a week of minutes (20,000 rows) comes back as a few hundred groups: the
# histogram bucket by bucket (one extraction per bucket, far cheaper than unnesting), the error
# kinds from the minutes that have errors only.
_SCALARS = MetricMinute.COUNTERS
_SQL = {
    "postgresql": {
        "bucket": "(floor(extract(epoch from minute) / {step})::bigint * {step})",
        "hist": "(latency_hist ->> {i})::bigint",
        "kinds": "jsonb_each_text(errors_by_kind)",
        "kind_value": "value::bigint",
    },
    "sqlite": {
        "bucket": "((CAST(strftime('%%s', minute) AS INTEGER) / {step}) * {step})",
        "hist": "json_extract(latency_hist, '$[{i}]')",
        "kinds": "json_each(errors_by_kind)",
        "kind_value": "value",
    },
}


def _where(rollout_id: int, start: datetime | None, end: datetime | None) -> tuple[str, list[Any]]:
    """Every minute that overlaps [start, end): a minute counts from its first second."""
    ops = connection.ops
    clauses: list[str] = ["rollout_id = %s"]
    params: list[Any] = [rollout_id]
    if start is not None:
        clauses.append("minute >= %s")
        params.append(ops.adapt_datetimefield_value(start.replace(second=0, microsecond=0)))
    if end is not None:
        clauses.append("minute < %s")
        params.append(ops.adapt_datetimefield_value(end))
    return " AND ".join(clauses), params


def _grouped(
    rollout_id: int, start: datetime | None, end: datetime | None, step: int | None
) -> dict[tuple[str, int], dict[str, object]]:
    """(variant, bucket start in epoch seconds, 0 without step) -> the summed fields."""
    sql = _SQL.get(connection.vendor)
    if sql is None:
        raise NotImplementedError(
            f"metric reads support PostgreSQL and SQLite, not {connection.vendor}"
        )
    bucket = sql["bucket"].format(step=step) if step else "0"
    where, params = _where(rollout_id, start, end)
    sums = ", ".join(f"sum({name})" for name in _SCALARS)
    hist = ", ".join(f"sum({sql['hist'].format(i=i)})" for i in range(HIST_LEN))
    table = MetricMinute._meta.db_table
    out: dict[tuple[str, int], dict[str, object]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            # Built from this module's constants; every value is a parameter.
            f"SELECT variant, {bucket} AS b, {sums}, {hist} FROM {table} WHERE {where} "  # noqa: S608
            "GROUP BY variant, b ORDER BY b, variant",
            params,
        )
        n = len(_SCALARS)
        for row in cursor.fetchall():
            values: dict[str, object] = dict(zip(_SCALARS, row[2 : 2 + n], strict=True))
            values["latency_hist"] = [int(v or 0) for v in row[2 + n :]]
            values["errors_by_kind"] = {}
            out[(row[0], int(row[1]))] = values
        cursor.execute(
            f"SELECT variant, {bucket} AS b, key, sum({sql['kind_value']}) FROM {table}, "  # noqa: S608
            f"{sql['kinds']} WHERE {where} AND errors > 0 GROUP BY variant, b, key",
            params,
        )
        for variant, b, kind, count in cursor.fetchall():
            group = out.get((variant, int(b)))
            if group is not None:
                group["errors_by_kind"][kind] = int(count)  # type: ignore[index]
    return out


def _fields(values: dict[str, object]) -> dict[str, object]:
    out = dict(values)
    for name in _SCALARS:
        if name not in ("latency_sum_ms", "cost"):
            out[name] = int(out[name] or 0)  # type: ignore[call-overload]
    out["latency_sum_ms"] = float(out["latency_sum_ms"] or 0)  # type: ignore[arg-type]
    cost = out["cost"] or 0
    out["cost"] = cost if isinstance(cost, Decimal) else Decimal(str(cost))
    out["tokens"] = out["prompt_tokens"] + out["completion_tokens"]  # type: ignore[operator]
    return out


def arm_totals(
    *, rollout_id: int, start: datetime | None, end: datetime | None
) -> dict[str, ArmTotals]:
    """Per variant ("baseline", "candidate": both always present, zeros without data), the sums
    over the minutes overlapping [start, end) (None: unbounded). What the guardrails judge."""
    found = _grouped(rollout_id, start, end, None)
    return {
        variant: ArmTotals(**_fields(found[(variant, 0)])) if (variant, 0) in found else ArmTotals()  # type: ignore[arg-type]
        for variant in VARIANTS
    }


def rollout_series(
    *,
    rollout_id: int,
    start: datetime | None,
    end: datetime | None,
    step: timedelta | None = None,
) -> dict[str, list[MinuteView]]:
    """Per variant (both keys always present), the minutes overlapping [start, end) in time
    order; only minutes with data appear (a gap is no traffic). With `step` (a whole number of
    minutes), consecutive minutes are summed into buckets aligned to the epoch, each labelled
    by its first minute: what a chart over days draws."""
    if step is not None and (step < timedelta(minutes=1) or step.total_seconds() % 60):
        raise ValueError(f"step must be a whole number of minutes, not {step}")
    seconds = int(step.total_seconds()) if step is not None else 60
    series: dict[str, list[MinuteView]] = {variant: [] for variant in VARIANTS}
    for (variant, bucket), values in _grouped(rollout_id, start, end, seconds).items():
        minute = datetime.fromtimestamp(bucket, tz=UTC)
        series[variant].append(MinuteView(minute=minute, **_fields(values)))  # type: ignore[arg-type]
    return series


def totals_of(views: Iterable[ArmTotals]) -> ArmTotals:
    """The sum of several minutes (or arms), as one ArmTotals."""
    out = ArmTotals()
    names = [f.name for f in fields(ArmTotals)]
    for view in views:
        changes: dict[str, object] = {}
        for name in names:
            a, b = getattr(out, name), getattr(view, name)
            if name == "errors_by_kind":
                changes[name] = {k: a.get(k, 0) + b.get(k, 0) for k in a.keys() | b.keys()}
            elif name == "latency_hist":
                changes[name] = merge_hist(list(a), b)
            else:
                changes[name] = a + b
        out = replace(out, **changes)  # type: ignore[arg-type]
    return out
