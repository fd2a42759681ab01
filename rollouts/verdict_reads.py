"""Reading the per-minute verdict counts (VerdictMinute): a rollout's series per source, summed
into buckets in SQL, like traffic.metrics.reads.rollout_series does for the request metrics.
Only VerdictMinute is read, never labels, judgements or the request log."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection

from rollouts.models import VerdictMinute

SOURCES = (VerdictMinute.Source.REVIEWER.value, VerdictMinute.Source.JUDGE.value)
_BUCKET = {
    "postgresql": "(floor(extract(epoch from minute) / {step})::bigint * {step})",
    "sqlite": "((CAST(strftime('%%s', minute) AS INTEGER) / {step}) * {step})",
}


@dataclass(frozen=True)
class VerdictView:
    """One source's verdicts on the pairs of one bucket of minutes starting at `minute`."""

    minute: datetime
    better: int = 0
    same: int = 0
    worse: int = 0
    both_bad: int = 0

    @property
    def decided(self) -> int:
        """Pairs where one answer won: the denominator of the "candidate worse" share."""
        return self.better + self.worse

    @property
    def worse_share(self) -> float | None:
        return self.worse / self.decided if self.decided else None


def verdict_series(
    *,
    rollout_id: int,
    start: datetime | None,
    end: datetime | None,
    step: timedelta | None = None,
) -> dict[str, list[VerdictView]]:
    """Per source ("reviewer", "judge": both keys always present), the minutes overlapping
    [start, end) in time order; only minutes with verdicts appear. With `step` (a whole number
    of minutes), minutes are summed into epoch-aligned buckets labelled by their first minute."""
    if step is not None and (step < timedelta(minutes=1) or step.total_seconds() % 60):
        raise ValueError(f"step must be a whole number of minutes, not {step}")
    bucket = _BUCKET.get(connection.vendor)
    if bucket is None:
        raise NotImplementedError(
            f"verdict reads support PostgreSQL and SQLite, not {connection.vendor}"
        )
    seconds = int(step.total_seconds()) if step is not None else 60
    ops = connection.ops
    clauses: list[str] = ["rollout_id = %s"]
    params: list[Any] = [rollout_id]
    if start is not None:
        clauses.append("minute >= %s")
        params.append(ops.adapt_datetimefield_value(start.replace(second=0, microsecond=0)))
    if end is not None:
        clauses.append("minute < %s")
        params.append(ops.adapt_datetimefield_value(end))
    counts = ", ".join(f"sum({name})" for name in VerdictMinute.COUNTS)
    table = VerdictMinute._meta.db_table
    series: dict[str, list[VerdictView]] = {source: [] for source in SOURCES}
    with connection.cursor() as cursor:
        cursor.execute(
            # Built from this module's constants; every value is a parameter.
            f"SELECT source, {bucket.format(step=seconds)} AS b, {counts} FROM {table} "  # noqa: S608
            f"WHERE {' AND '.join(clauses)} GROUP BY source, b ORDER BY b, source",
            params,
        )
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    for source, b, *values in rows:
        view = VerdictView(datetime.fromtimestamp(int(b), tz=UTC), *(int(v or 0) for v in values))
        series.setdefault(source, []).append(view)
    return series
