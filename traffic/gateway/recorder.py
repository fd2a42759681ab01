"""The gateway's write-behind log: records are buffered in memory and written in batches by a
background thread, request logs and their shadow jobs together in one transaction.

The hot path only appends to a deque. A process that crashes loses what it had not flushed yet:
at most FLUSH_SECONDS (0.2 s) of gateway records. Ingested records are never buffered here.

Logging never silently stops: every row is bounded to its columns first (traffic/insertable.py);
a batch the database still refuses is split until the refused records stand alone, and those go
to the dead-letter table (registry DeadLetter) with the database's reason, counted in stats(),
the log and GET /api/v1/health. Only an unreachable database makes records wait.
"""

import atexit
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction

from registry import observability
from registry.dbfaults import DB_FAULTS, describe
from registry.models import DeadLetter, RequestLog
from registry.services.audit import db_now
from traffic.assignment import Route
from traffic.insertable import clean_json, make_insertable
from traffic.metrics import record_minutes
from traffic.outbox import plan_shadow_jobs
from traffic.providers import CallResult
from traffic.requestlog import LoggedCall, request_log_build

log = logging.getLogger("traffic.gateway")

FLUSH_SECONDS = 0.2
# How long a shutdown waits for the batch the background thread is writing.
EXIT_WAIT_SECONDS = 10.0
MAX_BATCH = 2000
# While the database is unreachable records wait here; beyond this many the oldest are dropped
# rather than exhausting memory, counted in stats() and logged (once per outage).
MAX_BUFFERED = 200_000
# Between write attempts while the database is unreachable: a restarted database gets its
# backlog within this, and a down one sees one connection attempt per period, not a storm.
RETRY_SECONDS = 1.0


@dataclass(slots=True)
class GatewayRecord:
    route: Route
    variant: str
    config_id: int
    request_id: str
    unit_key: str
    messages: list[dict[str, Any]]  # as the client sent them, unredacted
    variables: dict[str, Any]
    params: dict[str, Any]  # the replayed pass-through parameters (traffic/passthrough.py)
    result: CallResult
    started: float  # time.time() when the request arrived
    # traffic.requestids.body_digest of the client's body when the client chose the request id
    # ("" for an id the gateway made up: it cannot collide).
    body_digest: str = ""


class Recorder:
    def __init__(self) -> None:
        self._buffer: deque[GatewayRecord] = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.dropped = 0  # records pushed out of a full buffer since the process started
        self._dropped_reported = 0
        self._failing_since: float | None = None  # time.time() of the first failed write
        self._last_error = ""
        # Held while a batch is out of the buffer and being written, so that flush() from
        # another thread (a shutdown, a test) waits for the batch the background thread holds.
        self._writing = threading.Lock()
        self._in_flight: list[GatewayRecord] = []  # the batch being written, for stats()
        # (feature id, request id) -> body digest, for records with a client-chosen id that are
        # buffered or being written: the gateway refuses a reuse with another body (409) before
        # the first row reaches the database.
        self._pending: dict[tuple[int, str], str] = {}
        self.written = 0  # rows stored
        self.duplicates = 0  # records whose request id was already logged with the same body
        self.dead_lettered = 0  # records stored in the dead-letter table instead
        self.lost = 0  # records neither stored nor dead-lettered (logged as errors)
        self._last_write: float | None = None  # time.monotonic() of the last stored batch

    def add(self, record: GatewayRecord) -> None:
        # `while`: a batch put back after a failed write may have pushed the buffer past it.
        while len(self._buffer) >= MAX_BUFFERED:
            self._forget([self._buffer.popleft()])
            self.dropped += 1
            observability.recorder_outcomes(dropped=1)
            if self.dropped == self._dropped_reported + 1:
                log.error(
                    "gateway log buffer full (%d records): dropping the oldest unwritten "
                    "request logs until the database accepts writes again",
                    MAX_BUFFERED,
                )
        if record.body_digest:
            self._pending.setdefault(
                (record.route.feature_id, record.request_id), record.body_digest
            )
        self._buffer.append(record)
        if self._thread is None or not self._thread.is_alive():
            self._start()

    def database_down(self) -> bool:
        """Whether the last write found the database unreachable (and none succeeded since)."""
        return self._failing_since is not None

    def pending_digest(self, feature_id: int, request_id: str) -> str | None:
        """The body digest of a buffered (not yet stored) record with this client-chosen id."""
        return self._pending.get((feature_id, request_id))

    def _forget(self, records: list[GatewayRecord]) -> None:
        for record in records:
            key = (record.route.feature_id, record.request_id)
            if record.body_digest and self._pending.get(key) == record.body_digest:
                del self._pending[key]

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="gateway-recorder", daemon=True
                )
                self._thread.start()

    def stats(self) -> dict[str, object]:
        """What an operator needs to see: the backlog, its bound, what overflowed, and since when
        writes are failing (None while they succeed)."""
        return {
            "buffered": len(self._buffer),
            "max_buffered": MAX_BUFFERED,
            "dropped": self.dropped,
            "failing_since": self._failing_since,
            "last_error": self._last_error,
            "in_flight": len(self._in_flight),
            "oldest_buffered_age_seconds": self._oldest_age(),
            "written": self.written,
            "duplicates": self.duplicates,
            "dead_lettered": self.dead_lettered,
            "lost": self.lost,
            "last_write_age_seconds": None
            if self._last_write is None
            else round(time.monotonic() - self._last_write, 3),
        }

    def _oldest_age(self) -> float | None:
        """Seconds the oldest unwritten record (in flight or buffered) has waited."""
        in_flight = self._in_flight
        try:
            oldest = in_flight[0] if in_flight else self._buffer[0]
        except IndexError:  # empty, or emptied by the writer since we looked
            return None
        return round(max(time.time() - oldest.started, 0.0), 3)

    def _run(self) -> None:
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            observability.recorder_backlog(waiting=len(self._buffer) + len(self._in_flight))
            try:
                self.flush()
            except DB_FAULTS as exc:
                # The thread's connection is broken now; without closing it every retry would
                # fail the same way even after the database is back.
                connection.close()
                self._write_failed(exc)
                time.sleep(RETRY_SECONDS)
            except Exception as exc:
                log.exception("gateway records not written yet; retrying")
                self._last_error = describe(exc)
                time.sleep(RETRY_SECONDS)
            else:
                self._write_succeeded()

    def _write_failed(self, exc: BaseException) -> None:
        self._last_error = describe(exc)
        if self._failing_since is None:
            self._failing_since = time.time()
            log.warning(
                "database unreachable (%s): holding gateway request logs in memory "
                "(%d now, at most %d) until it is back",
                self._last_error,
                len(self._buffer),
                MAX_BUFFERED,
            )

    def _write_succeeded(self) -> None:
        lost = self.dropped - self._dropped_reported
        if self._failing_since is None and not lost:
            return
        if self._failing_since is not None:
            log.warning(
                "database reachable again after %.1f s: buffered gateway request logs written",
                time.time() - self._failing_since,
            )
        if lost:
            log.error("%d gateway request logs were dropped from the full buffer", lost)
        self._dropped_reported = self.dropped
        self._failing_since = None
        self._last_error = ""

    def flush(self, *, timeout: float | None = None) -> int:
        """Write everything buffered now, after the batch the background thread may be writing
        (waiting at most `timeout` seconds for it, else TimeoutError). Returns how many rows
        were stored.

        1. Take up to MAX_BATCH records and write them in one transaction with their shadow jobs.
        2. If the database refuses the batch (a value it cannot store, a constraint), split it in
           halves and write each; a refused record alone goes to the dead-letter table with the
           error. One bad row never blocks the rows behind it.
        3. Only an unreachable database stops the flush: what was not stored yet goes back to the
           front of the buffer, in order, and the fault is raised for the retry loop.
        """
        if not self._writing.acquire(timeout=-1 if timeout is None else timeout):
            raise TimeoutError(f"a gateway log batch was still being written after {timeout} s")
        try:
            return self._flush_locked()
        finally:
            self._writing.release()

    def _flush_locked(self) -> int:
        stored = dead = 0
        first_error = ""
        while self._buffer:
            batch = [self._buffer.popleft() for _ in range(min(MAX_BATCH, len(self._buffer)))]
            self._in_flight = batch
            parts = [batch]  # a stack: the first half is written first, order is kept
            part: list[GatewayRecord] = []
            try:
                while parts:
                    part = parts.pop()
                    try:
                        outcome = _write(part)
                    except DB_FAULTS:
                        raise
                    except Exception as exc:  # any refusal splits, never retries
                        if len(part) > 1:
                            middle = len(part) // 2
                            parts += [part[middle:], part[:middle]]
                            continue
                        outcome = _write_alone(part[0], exc)
                    stored += outcome.stored
                    dead += outcome.dead
                    first_error = first_error or outcome.error
                    self._counted(outcome)
                    self._forget(part)
                    part = []
            except DB_FAULTS:
                unwritten = part + [r for p in reversed(parts) for r in p]
                self._buffer.extendleft(reversed(unwritten))
                raise
            finally:
                self._in_flight = []
                if dead:
                    # Counts and the database's reason only: a payload may hold user text.
                    log.warning(
                        "%d gateway request logs could not be stored and are in the "
                        "dead-letter table (%s); GET /api/v1/health counts them",
                        dead,
                        first_error,
                    )
                    dead, first_error = 0, ""
        return stored

    def _counted(self, outcome: "_Outcome") -> None:
        self.written += outcome.stored
        self.duplicates += outcome.duplicates
        self.dead_lettered += outcome.dead
        self.lost += outcome.lost
        observability.recorder_outcomes(
            outcome.stored, outcome.duplicates, outcome.dead, outcome.lost
        )
        if outcome.stored:
            self._last_write = time.monotonic()


@dataclass(slots=True)
class _Outcome:
    stored: int = 0
    duplicates: int = 0
    dead: int = 0
    lost: int = 0
    error: str = ""  # the first dead letter's reason, for the log


def _row(record: GatewayRecord, now: datetime) -> RequestLog:
    result = record.result
    return request_log_build(
        call=LoggedCall(
            route=record.route,
            source=RequestLog.Source.GATEWAY,
            variant=record.variant,
            config_id=record.config_id,
            current=True,
            request_id=record.request_id,
            unit_key=record.unit_key,
            messages=record.messages,
            variables=record.variables,
            params=record.params,
            output=result.output,
            finish_reason=result.finish_reason or "",
            tool_calls=result.tool_calls,
            error_kind=str(result.error_kind),
            error=result.error,
            latency_ms=result.latency_ms,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            started=datetime.fromtimestamp(record.started, tz=now.tzinfo),
        )
    )


# The dead letter of a record whose client-chosen id was already logged with another body (two
# requests in flight at once, or in two gateway processes, so neither saw the other's row).
REUSED = "request_id reused with a different body; the first body's row was kept"


def _reused(first: str, other: str) -> bool:
    return bool(first) and bool(other) and first != other


def _write(batch: list[GatewayRecord]) -> _Outcome:
    now = db_now()
    rows: dict[tuple[int, str], RequestLog] = {}
    reused: list[RequestLog] = []
    duplicates = 0
    for record in batch:
        row = _row(record, now)
        row.body_digest = record.body_digest
        make_insertable(row)
        key = (row.feature_id, row.request_id)
        first = rows.get(key)
        if first is None:
            rows[key] = row
        elif _reused(first.body_digest, row.body_digest):
            reused.append(row)
        else:
            duplicates += 1
    with transaction.atomic():
        existing: dict[tuple[int, str], str] = {}
        for feature_id in {k[0] for k in rows}:
            ids = [k[1] for k in rows if k[0] == feature_id]
            existing.update(
                ((feature_id, rid), digest)
                for rid, digest in RequestLog.objects.filter(
                    feature_id=feature_id, request_id__in=ids
                ).values_list("request_id", "body_digest")
            )
        fresh = []
        for key, row in rows.items():
            if key not in existing:
                fresh.append(row)
            elif _reused(existing[key], row.body_digest):
                reused.append(row)
            else:
                duplicates += 1
        RequestLog.objects.bulk_create(fresh)
        plan_shadow_jobs(fresh, today=now.date())
        # In the batch's transaction: a batch refused and split rolls its roll-up back too, so
        # a minute counts the rows stored, each once (dead letters and duplicates never).
        record_minutes(fresh)
        DeadLetter.objects.bulk_create(
            _letter(row.request_id, _payload(row), REUSED) for row in reused
        )
    if duplicates:
        log.warning(
            "%d gateway records reused a request id with the same body and were not logged again",
            duplicates,
        )
    return _Outcome(
        stored=len(fresh), duplicates=duplicates, dead=len(reused), error=REUSED if reused else ""
    )


# What a dead letter keeps of a row: the columns a page may show (redacted by the builder),
# never the raw input kept for shadow runs nor the pass-through parameters.
PAYLOAD_FIELDS = (
    "feature_id",
    "request_id",
    "unit_key",
    "source",
    "config_id",
    "variant",
    "rollout_id",
    "messages",
    "variables",
    "output",
    "finish_reason",
    "tool_calls",
    "error_kind",
    "error",
    "latency_ms",
    "prompt_tokens",
    "completion_tokens",
    "started",
)
# A dead letter is for finding out what went wrong, not a second copy of a 5 MB answer.
PAYLOAD_TEXT_LIMIT = 10_000


def _payload(row: RequestLog) -> dict[str, Any]:
    payload = {}
    for name in PAYLOAD_FIELDS:
        value = getattr(row, name)
        payload[name] = value.isoformat() if isinstance(value, datetime) else value
    return _bounded(clean_json(payload))


def _bounded(value: Any) -> Any:
    if isinstance(value, str):
        return value[:PAYLOAD_TEXT_LIMIT]
    if isinstance(value, list):
        return [_bounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _bounded(v) for k, v in value.items()}
    return value


def _letter(request_id: str, payload: dict[str, Any], error: str) -> DeadLetter:
    return DeadLetter(
        source=DeadLetter.Source.GATEWAY,
        request_id=clean_json(request_id)[:100],
        payload=payload,
        error=error[:1000],
    )


def _write_alone(record: GatewayRecord, exc: Exception) -> _Outcome:
    """A record the database refused on its own. A unique violation means another gateway
    process stored the same request id in the meantime: written again, it is then seen as a
    duplicate (or a reuse with another body). Anything else is a dead letter."""
    if isinstance(exc, IntegrityError):
        try:
            return _write([record])
        except DB_FAULTS:
            raise
        except Exception as again:  # refused again: the row itself is at fault
            exc = again
    return _dead_letter(record, exc)


def _dead_letter(record: GatewayRecord, exc: Exception) -> _Outcome:
    """Store the record the database refused alone. The error is its first line only:
    PostgreSQL's DETAIL line repeats the row's values."""
    error = describe(exc)
    try:
        payload = _payload(make_insertable(_row(record, db_now())))
    except DB_FAULTS:
        raise
    except Exception:  # the builder failed: keep what identifies the call
        payload = {"feature_id": record.route.feature_id, "config_id": record.config_id}
    try:
        _letter(record.request_id, payload, error).save()
    except DB_FAULTS:
        raise
    except Exception as second:  # not even the dead letter fits
        log.error(
            "a gateway request log was lost: neither it (%s) nor its dead letter (%s) could be "
            "stored",
            error,
            describe(second),
        )
        return _Outcome(lost=1)
    return _Outcome(dead=1, error=error)


def stored_digest(*, feature_id: int, request_id: str) -> str | None:
    """The body digest of the stored log with this request id; None if there is none, or if the
    database cannot be reached (the call is then answered, and the writer checks again)."""
    try:
        return (
            RequestLog.objects.filter(feature_id=feature_id, request_id=request_id)
            .values_list("body_digest", flat=True)
            .first()
        )
    except DB_FAULTS:
        connection.close()  # this thread's connection is broken; the next use reconnects
        return None


recorder = Recorder()


def stats() -> dict[str, object]:
    """The process's recorder stats (see Recorder.stats)."""
    return recorder.stats()


# Also called by the ASGI lifespan's shutdown (rollout_site/asgi.py): uvicorn re-raises the
# SIGTERM it handled once it has shut down, and a process killed by a signal runs no atexit.
@atexit.register
def flush_at_exit() -> None:
    try:
        # Bounded: a database that hangs must not hang the shutdown too.
        recorder.flush(timeout=EXIT_WAIT_SECONDS)
    except Exception:
        log.exception("%d gateway records lost at exit", len(recorder._buffer))
