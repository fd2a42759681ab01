"""One INSERT ... ON CONFLICT DO UPDATE for a batch of minute deltas, and one for the ten-minute
blocks they fall in: counters are added, the error-kind counts and the latency histogram are
merged key by key (PostgreSQL: jsonb functions; SQLite: json1), all under the row lock the
conflict takes, so concurrent writers never lose an update, and in one transaction, so a block
always equals the sum of its minutes."""

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from registry.models import MetricBlock, MetricMinute
from registry.models.metrics import BLOCK_MINUTES

from .reads import merge_hist

# (table, time column) of each level.
MINUTES = (MetricMinute._meta.db_table, "minute")
BLOCKS = (MetricBlock._meta.db_table, "block")
# Rows per statement: a gateway batch of 2,000 requests spans a few minutes, so this is rarely
# reached; it bounds the statement's size when it is (a late backlog after an outage).
CHUNK = 500


@dataclass(frozen=True, slots=True)
class MinuteRow:
    """What one (rollout, variant, minute) gains from one batch."""

    rollout_id: int
    variant: str
    minute: datetime
    requests: int = 0
    errors: int = 0
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    latency_hist: list[int] = field(default_factory=list)
    latency_sum_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = Decimal(0)
    refusals: int = 0
    json_checked: int = 0
    json_invalid: int = 0
    feedback_up: int = 0
    feedback_down: int = 0
    score_sum: int = 0
    score_n: int = 0


_ADDED = MetricMinute.COUNTERS
# Merge expressions: `old` is the stored row, `new` the excluded one. Each skips the work when
# the delta is empty (most batches have no errors; feedback has no latencies).
_MERGE = {
    "postgresql": {
        "errors_by_kind": (
            "CASE WHEN EXCLUDED.errors_by_kind = '{{}}'::jsonb THEN {old}.errors_by_kind ELSE ("
            "SELECT coalesce(jsonb_object_agg(k, n), '{{}}'::jsonb) FROM ("
            "SELECT k, sum(v::bigint) AS n FROM ("
            "SELECT key AS k, value AS v FROM jsonb_each_text({old}.errors_by_kind) UNION ALL "
            "SELECT key, value FROM jsonb_each_text(EXCLUDED.errors_by_kind)) e GROUP BY k) s"
            ") END"
        ),
        "latency_hist": (
            "CASE WHEN EXCLUDED.latency_hist = '[]'::jsonb THEN {old}.latency_hist ELSE ("
            "SELECT coalesce(jsonb_agg(n ORDER BY i), '[]'::jsonb) FROM ("
            "SELECT i, sum(v::bigint) AS n FROM ("
            "SELECT i, v FROM jsonb_array_elements_text({old}.latency_hist) "
            "WITH ORDINALITY AS a(v, i) UNION ALL "
            "SELECT i, v FROM jsonb_array_elements_text(EXCLUDED.latency_hist) "
            "WITH ORDINALITY AS b(v, i)) u GROUP BY i) s"
            ") END"
        ),
    },
    "sqlite": {
        "errors_by_kind": (
            "CASE WHEN excluded.errors_by_kind = '{{}}' THEN {old}.errors_by_kind ELSE ("
            "SELECT coalesce(json_group_object(k, n), '{{}}') FROM ("
            "SELECT key AS k, sum(value) AS n FROM ("
            "SELECT key, value FROM json_each({old}.errors_by_kind) UNION ALL "
            "SELECT key, value FROM json_each(excluded.errors_by_kind)) GROUP BY key)"
            ") END"
        ),
        # json_each gives an array's index as its key; the ordered subquery feeds the aggregate
        # in index order (SQLite before 3.44 has no ORDER BY inside an aggregate).
        "latency_hist": (
            "CASE WHEN excluded.latency_hist = '[]' THEN {old}.latency_hist ELSE ("
            "SELECT json_group_array(n) FROM ("
            "SELECT key AS k, sum(value) AS n FROM ("
            "SELECT key, value FROM json_each({old}.latency_hist) UNION ALL "
            "SELECT key, value FROM json_each(excluded.latency_hist)) GROUP BY key ORDER BY key)"
            ") END"
        ),
    },
}


def _sql(vendor: str, rows: int, level: tuple[str, str]) -> str:
    try:
        merge = _MERGE[vendor]
    except KeyError:
        raise NotImplementedError(
            f"metric roll-ups support PostgreSQL and SQLite, not {vendor}"
        ) from None
    table, column = level
    t = f'"{table}"'
    columns = ("rollout_id", "variant", column, *_ADDED, "errors_by_kind", "latency_hist")
    json_param = "%s::jsonb" if vendor == "postgresql" else "%s"
    one = "(" + ", ".join(["%s"] * (len(columns) - 2) + [json_param, json_param, "%s"]) + ")"
    sets = [f"{name} = {t}.{name} + EXCLUDED.{name}" for name in _ADDED]
    sets += [f"{name} = {merge[name].format(old=t)}" for name in ("errors_by_kind", "latency_hist")]
    sets.append("updated = EXCLUDED.updated")
    return (
        # Built from this module's constants; every value is a parameter.
        f"INSERT INTO {t} ({', '.join(columns)}, updated) VALUES {', '.join([one] * rows)} "  # noqa: S608
        f"ON CONFLICT (rollout_id, variant, {column}) DO UPDATE SET {', '.join(sets)}"
    )


def block_of(minute: datetime) -> datetime:
    """The start of the ten-minute block a minute belongs to."""
    return minute.replace(minute=minute.minute - minute.minute % BLOCK_MINUTES)


def _blocks(rows: list[MinuteRow]) -> list[MinuteRow]:
    """The minutes' deltas summed per block, in key order."""
    groups: dict[tuple[int, str, datetime], list[MinuteRow]] = {}
    for row in rows:
        groups.setdefault((row.rollout_id, row.variant, block_of(row.minute)), []).append(row)
    out = []
    for key in sorted(groups):
        members = groups[key]
        if len(members) == 1:
            out.append(replace(members[0], minute=key[2]))
            continue
        sums: dict[str, Any] = {name: sum(getattr(m, name) for m in members) for name in _ADDED}
        kinds: Counter[str] = Counter()
        hist: list[int] = []
        for m in members:
            kinds.update(m.errors_by_kind)
            merge_hist(hist, m.latency_hist)
        out.append(
            MinuteRow(
                rollout_id=key[0],
                variant=key[1],
                minute=key[2],
                errors_by_kind=dict(kinds),
                latency_hist=hist,
                **sums,
            )
        )
    return out


def _params(row: MinuteRow, now: str | datetime | None) -> list[Any]:
    # The adapter Django uses for a DateTimeField (SQLite stores naive UTC text).
    minute = connection.ops.adapt_datetimefield_value(row.minute)
    values: list[Any] = [row.rollout_id, row.variant, minute]
    values += [getattr(row, name) for name in _ADDED]
    values += [json.dumps(row.errors_by_kind), json.dumps(row.latency_hist), now]
    return values


def upsert_minutes(rows: list[MinuteRow]) -> None:
    """Add the deltas to their minute rows and to their blocks (created at zero when missing).
    Give each key once, in key order: PostgreSQL refuses a key twice in one statement, and one
    order in every writer (minutes, then blocks, each in key order) keeps two concurrent
    batches from deadlocking. Call in a transaction, so minutes and blocks move together."""
    if not rows:
        return
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        for level, deltas in ((MINUTES, rows), (BLOCKS, _blocks(rows))):
            for start in range(0, len(deltas), CHUNK):
                chunk = deltas[start : start + CHUNK]
                params: list[Any] = []
                for row in chunk:
                    params += _params(row, now)
                cursor.execute(_sql(connection.vendor, len(chunk), level), params)
