"""Reading the per-minute roll-ups: a rollout's series per variant, its totals per arm over a
window, and percentiles from latency histograms. Only MetricMinute is read, never RequestLog."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection

from registry.models import MetricBlock, MetricMinute
from registry.models.metrics import BLOCK_MINUTES, LATENCY_BUCKETS_MS

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


# Summed in SQL, so a week comes back as a few hundred groups: the histogram bucket by bucket
# (one extraction per bucket, far cheaper than unnesting), the error kinds from the rows that have
# errors only. Whole ten-minute blocks are read from MetricBlock and only the minutes at a
# window's edges from MetricMinute (a block is the sum of its minutes, written together).
_SCALARS = MetricMinute.COUNTERS
_SQL = {
    "postgresql": {
        "bucket": "(floor(extract(epoch from t) / {step})::bigint * {step})",
        "hist": "(latency_hist ->> {i})::bigint",
        "kinds": "jsonb_each_text(u.errors_by_kind)",
        "kind_value": "value::bigint",
    },
    "sqlite": {
        "bucket": "((CAST(strftime('%%s', t) AS INTEGER) / {step}) * {step})",
        "hist": "json_extract(latency_hist, '$[{i}]')",
        "kinds": "json_each(u.errors_by_kind)",
        "kind_value": "value",
    },
}
BLOCK = timedelta(minutes=BLOCK_MINUTES)
Window = tuple[datetime | None, datetime | None]


def _ceil_block(when: datetime) -> datetime:
    floor = when.replace(minute=when.minute - when.minute % BLOCK_MINUTES, second=0, microsecond=0)
    return floor if floor == when else floor + BLOCK


def _levels(
    start: datetime | None, end: datetime | None, blocks: bool
) -> tuple[list[Window], Window | None]:
    """The minute ranges and the block range that together cover every minute overlapping
    [start, end) exactly once: whole blocks inside, minutes at the edges (all minutes when
    blocks are not wanted or none fits)."""
    # In UTC: blocks are aligned to UTC ten-minute boundaries, whatever the caller's zone.
    first = start.astimezone(UTC).replace(second=0, microsecond=0) if start is not None else None
    end = end.astimezone(UTC) if end is not None else None
    if not blocks:
        return [(first, end)], None
    low = _ceil_block(first) if first is not None else None
    # A block is inside when its last minute starts before `end`.
    high = _ceil_block(end - BLOCK + timedelta(minutes=1)) if end is not None else None
    if low is not None and high is not None and high <= low:
        return [(first, end)], None
    minutes: list[Window] = []
    if first is not None and low is not None and first < low:
        minutes.append((first, low))
    if end is not None and high is not None and high < end:
        minutes.append((high, end))
    return minutes, (low, high)


def _range(column: str, window: Window, params: list[Any]) -> str:
    ops = connection.ops
    clauses = []
    if window[0] is not None:
        clauses.append(f"{column} >= %s")
        params.append(ops.adapt_datetimefield_value(window[0]))
    if window[1] is not None:
        clauses.append(f"{column} < %s")
        params.append(ops.adapt_datetimefield_value(window[1]))
    return " AND ".join(clauses) or "1 = 1"


def _source(windows: dict[int, Window], step: int | None) -> tuple[str, list[Any]]:
    """A UNION ALL of the minute and block rows covering each rollout's window, with the time
    column named `t`."""
    blocks = step is None or step % (BLOCK_MINUTES * 60) == 0
    columns = ", ".join(("rollout_id", "variant", *_SCALARS, "latency_hist", "errors_by_kind"))
    minute_where: list[str] = []
    block_where: list[str] = []
    minute_params: list[Any] = []
    block_params: list[Any] = []
    for pk, (start, end) in windows.items():
        minutes, block_range = _levels(start, end, blocks)
        for window in minutes:
            minute_params.append(pk)
            minute_where.append(f"(rollout_id = %s AND {_range('minute', window, minute_params)})")
        if block_range is not None:
            block_params.append(pk)
            block_where.append(
                f"(rollout_id = %s AND {_range('block', block_range, block_params)})"
            )
    parts = []
    if minute_where:
        parts.append(
            # Built from this module's constants; every value is a parameter.
            f"SELECT {columns}, minute AS t FROM {MetricMinute._meta.db_table} "  # noqa: S608
            f"WHERE {' OR '.join(minute_where)}"
        )
    if block_where:
        parts.append(
            f"SELECT {columns}, block AS t FROM {MetricBlock._meta.db_table} "  # noqa: S608
            f"WHERE {' OR '.join(block_where)}"
        )
    return " UNION ALL ".join(parts), minute_params + block_params


def _grouped(
    windows: dict[int, Window], step: int | None, *, error_kinds: bool = True
) -> dict[tuple[int, str, int], dict[str, object]]:
    """(rollout id, variant, bucket start in epoch seconds or 0 without step) -> the summed
    fields, over each rollout's window; two queries whatever the number of rollouts (one
    without `error_kinds`)."""
    sql = _SQL.get(connection.vendor)
    if sql is None:
        raise NotImplementedError(
            f"metric reads support PostgreSQL and SQLite, not {connection.vendor}"
        )
    out: dict[tuple[int, str, int], dict[str, object]] = {}
    if not windows:
        return out
    bucket = sql["bucket"].format(step=step) if step else "0"
    source, params = _source(windows, step)
    sums = ", ".join(f"sum({name})" for name in _SCALARS)
    hist = ", ".join(f"sum({sql['hist'].format(i=i)})" for i in range(HIST_LEN))
    with connection.cursor() as cursor:
        cursor.execute(
            # Built from this module's constants; every value is a parameter.
            f"SELECT rollout_id, variant, {bucket} AS b, {sums}, {hist} "  # noqa: S608
            f"FROM ({source}) u GROUP BY rollout_id, variant, b ORDER BY b, variant",
            params,
        )
        n = len(_SCALARS)
        for row in cursor.fetchall():
            values: dict[str, object] = dict(zip(_SCALARS, row[3 : 3 + n], strict=True))
            values["latency_hist"] = [int(v or 0) for v in row[3 + n :]]
            values["errors_by_kind"] = {}
            out[(int(row[0]), row[1], int(row[2]))] = values
        if error_kinds:
            cursor.execute(
                f"SELECT rollout_id, variant, {bucket} AS b, key, sum({sql['kind_value']}) "  # noqa: S608
                f"FROM ({source}) u, {sql['kinds']} WHERE u.errors > 0 "
                "GROUP BY rollout_id, variant, b, key",
                params,
            )
            for pk, variant, b, kind, count in cursor.fetchall():
                group = out.get((int(pk), variant, int(b)))
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
    return arm_totals_many({rollout_id: (start, end)})[rollout_id]


def arm_totals_many(
    windows: dict[int, Window], *, error_kinds: bool = True
) -> dict[int, dict[str, ArmTotals]]:
    """`arm_totals` of several rollouts, each over its own window (rollout id -> (start, end)),
    in one grouped query whatever their number (two with `error_kinds`): the dashboard counts
    every active stage's samples with it."""
    out = {pk: {variant: ArmTotals() for variant in VARIANTS} for pk in windows}
    for (pk, variant, _), values in _grouped(windows, None, error_kinds=error_kinds).items():
        if variant in out[pk]:
            out[pk][variant] = ArmTotals(**_fields(values))  # type: ignore[arg-type]
    return out


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
    for (_, variant, bucket), values in _grouped({rollout_id: (start, end)}, seconds).items():
        if variant in series:
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
