"""Writing the per-minute roll-ups as request logs and feedback are stored.

Both writers call in the transaction that stores the rows, so a batch the database refuses
(then split, retried, dead-lettered) rolls its roll-up back with it: a minute counts exactly
the rows that were stored, each once. Only rows of a rollout count.
"""

import json
import logging
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from django.db import transaction

from registry.dbfaults import DB_FAULTS, describe
from registry.models import Feedback, ModelConfig, RequestLog
from registry.models.metrics import LATENCY_BUCKETS_MS

from .reads import HIST_LEN
from .upsert import MinuteRow, upsert_minutes

log = logging.getLogger("traffic.metrics")

JSON_FORMATS = frozenset(
    {ModelConfig.ResponseFormat.JSON_OBJECT, ModelConfig.ResponseFormat.JSON_SCHEMA}
)
# Refusals open an answer; scanning a 200 kB answer whole costs milliseconds on the gateway's
# writer thread for nothing, so the detector reads this much of it.
REFUSAL_SCAN_CHARS = 20_000
_CENT = Decimal("0.00000001")  # the cost column's precision


def minute_of(when: datetime) -> datetime:
    """The start of the UTC minute `when` falls in: the roll-up row a request belongs to."""
    return when.astimezone(UTC).replace(second=0, microsecond=0)


def latency_bucket(latency_ms: float) -> int:
    """Index of the histogram bucket of one latency (upper bounds inclusive; past the last bound,
    the overflow bucket)."""
    return bisect_left(LATENCY_BUCKETS_MS, latency_ms)


@dataclass(frozen=True, slots=True)
class _ConfigFacts:
    json: bool  # the config asks for a JSON answer
    input_price: Decimal | None
    output_price: Decimal | None


@dataclass(slots=True)
class _Minute:
    requests: int = 0
    errors: int = 0
    errors_by_kind: Counter[str] = field(default_factory=Counter)
    hist: list[int] = field(default_factory=lambda: [0] * HIST_LEN)
    latency_sum_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = Decimal(0)
    refusals: int = 0
    json_checked: int = 0
    json_invalid: int = 0

    def add(self, row: RequestLog, facts: _ConfigFacts | None) -> None:
        self.requests += 1
        if row.error_kind:
            self.errors += 1
            self.errors_by_kind[row.error_kind] += 1
        if row.latency_ms is not None:
            self.hist[latency_bucket(row.latency_ms)] += 1
            self.latency_sum_ms += row.latency_ms
        self.prompt_tokens += row.prompt_tokens or 0
        self.completion_tokens += row.completion_tokens or 0
        if (
            facts is not None
            and row.prompt_tokens is not None
            and row.completion_tokens is not None
            and facts.input_price is not None
            and facts.output_price is not None
        ):
            spent = (
                facts.input_price * row.prompt_tokens + facts.output_price * row.completion_tokens
            )
            self.cost += spent / Decimal(1_000_000)
        output = row.output or ""
        if output and _refused(output):
            self.refusals += 1
        # A failed call has no answer to judge; an empty answer of a JSON config is invalid.
        if facts is not None and facts.json and not row.error_kind:
            self.json_checked += 1
            if not _parses(output):
                self.json_invalid += 1

    def as_row(self, key: tuple[int, str, datetime]) -> MinuteRow:
        hist = self.hist if any(self.hist) else []
        return MinuteRow(
            rollout_id=key[0],
            variant=key[1],
            minute=key[2],
            requests=self.requests,
            errors=self.errors,
            errors_by_kind=dict(self.errors_by_kind),
            latency_hist=hist,
            latency_sum_ms=self.latency_sum_ms,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost=self.cost.quantize(_CENT),
            refusals=self.refusals,
            json_checked=self.json_checked,
            json_invalid=self.json_invalid,
        )


def _refused(output: str) -> bool:
    from traffic.refusals import is_refusal

    return is_refusal(output[:REFUSAL_SCAN_CHARS])


def _parses(output: str) -> bool:
    try:
        json.loads(output)
    except ValueError:
        return False
    return True


def _config_facts(config_ids: set[int]) -> dict[int, _ConfigFacts]:
    # One small query per batch: prices may change (the catalog sync), configs do not.
    return {
        pk: _ConfigFacts(json=fmt in JSON_FORMATS, input_price=inp, output_price=outp)
        for pk, fmt, inp, outp in ModelConfig.objects.filter(pk__in=config_ids).values_list(
            "pk", "response_format", "model_version__input_price", "model_version__output_price"
        )
    }


def minutes_of(rows: Iterable[RequestLog]) -> list[MinuteRow]:
    """The roll-up deltas of these rows, one per (rollout, variant, minute), in key order (the
    order the upsert locks them in, the same in every writer: no deadlock between two)."""
    mine = [(r.rollout_id, r) for r in rows if r.rollout_id is not None]
    if not mine:
        return []
    facts = _config_facts({r.config_id for _, r in mine})
    groups: dict[tuple[int, str, datetime], _Minute] = {}
    for rollout_id, row in mine:
        key = (rollout_id, row.variant, minute_of(row.started))
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Minute()
        group.add(row, facts.get(row.config_id))
    return [groups[key].as_row(key) for key in sorted(groups)]


def record_minutes(rows: Iterable[RequestLog]) -> int:
    """Add freshly stored request-log rows (each stored once, never a duplicate) to their
    minutes, by the request's `started` (late data lands in its own minute). Call it in the
    transaction that stores them. Returns how many minute rows were written.

    The roll-up runs in a savepoint: if it fails for any reason but an unreachable database,
    the request logs are still stored (the data plane never waits on its metrics) and the loss
    is logged; a database outage is raised, so the caller's retry stores both later."""
    deltas = minutes_of(rows)
    if not deltas:
        return 0
    try:
        with transaction.atomic():
            upsert_minutes(deltas)
    except DB_FAULTS:
        raise
    except Exception as exc:
        log.error(
            "metric roll-ups of %d requests not recorded (%s); the request logs are stored",
            sum(d.requests for d in deltas),
            describe(exc),
        )
        return 0
    return len(deltas)


def record_feedback(*, request: RequestLog, kind: str, value: int) -> bool:
    """Add one feedback to the minute its request started in. Call it in the transaction that
    stores the Feedback row. False (nothing written) for a request outside any rollout."""
    if request.rollout_id is None:
        return False
    negative = Feedback(kind=kind, value=value).negative
    score = kind == Feedback.Kind.SCORE
    upsert_minutes(
        [
            MinuteRow(
                rollout_id=request.rollout_id,
                variant=request.variant,
                minute=minute_of(request.started),
                feedback_up=0 if negative else 1,
                feedback_down=1 if negative else 0,
                score_sum=value if score else 0,
                score_n=1 if score else 0,
            )
        ]
    )
    return True
