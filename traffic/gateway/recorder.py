"""The gateway's write-behind log: records are buffered in memory and written in batches by a
background thread, request logs and their shadow jobs together in one transaction.

The hot path only appends to a deque. A process that crashes loses what it had not flushed yet:
at most FLUSH_SECONDS (0.2 s) of gateway records. Ingested records are never buffered here.
"""

import atexit
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from django.db import transaction

from registry.models import RequestLog
from registry.services.audit import db_now
from traffic.assignment import Route
from traffic.outbox import plan_shadow_jobs
from traffic.providers import CallResult

log = logging.getLogger("traffic.gateway")

FLUSH_SECONDS = 0.2
MAX_BATCH = 2000
# While the database is unreachable records wait here; beyond this many the oldest are dropped
# (and counted in the log) rather than exhausting memory.
MAX_BUFFERED = 200_000


@dataclass(slots=True)
class GatewayRecord:
    route: Route
    variant: str
    config_id: int
    request_id: str
    unit_key: str
    messages: list
    variables: dict
    result: CallResult
    started: float  # time.time() when the request arrived


class Recorder:
    def __init__(self) -> None:
        self._buffer: deque[GatewayRecord] = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.dropped = 0

    def add(self, record: GatewayRecord) -> None:
        if len(self._buffer) >= MAX_BUFFERED:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append(record)
        if self._thread is None or not self._thread.is_alive():
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="gateway-recorder", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                log.exception("gateway records not written yet; retrying")
                time.sleep(1)

    def flush(self) -> int:
        """Write everything buffered now. Returns how many records were written."""
        written = 0
        while self._buffer:
            batch = [self._buffer.popleft() for _ in range(min(MAX_BATCH, len(self._buffer)))]
            try:
                _write(batch)
            except Exception:
                self._buffer.extendleft(reversed(batch))  # keep order; retried next round
                raise
            written += len(batch)
        return written


def _row(record: GatewayRecord, now) -> RequestLog:
    redact = record.route.redactor
    result = record.result
    row = RequestLog(
        feature_id=record.route.feature_id,
        request_id=record.request_id,
        unit_key=record.unit_key,
        source=RequestLog.Source.GATEWAY,
        config_id=record.config_id,
        variant=record.variant,
        rollout_id=record.route.rollout_id,
        messages=redact.messages(record.messages),
        variables=record.variables,
        output=redact.text(result.output),
        finish_reason=result.finish_reason or "",
        tool_calls=result.tool_calls,
        error_kind=str(result.error_kind),
        error=redact.text(result.error),
        latency_ms=result.latency_ms,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        started=now.fromtimestamp(record.started, tz=now.tzinfo),
    )
    other = record.route.other(record.variant)
    # Only answers worth comparing get a shadow run: a failed served call has no pair to judge.
    row.shadow_config_id = other.id if other is not None and result.ok else None
    return row


def _write(batch: list[GatewayRecord]) -> None:
    now = db_now()
    rows = {}
    for record in batch:
        rows.setdefault((record.route.feature_id, record.request_id), _row(record, now))
    with transaction.atomic():
        existing = set()
        for feature_id in {k[0] for k in rows}:
            ids = [k[1] for k in rows if k[0] == feature_id]
            existing.update(
                (feature_id, rid)
                for rid in RequestLog.objects.filter(
                    feature_id=feature_id, request_id__in=ids
                ).values_list("request_id", flat=True)
            )
        fresh = [row for key, row in rows.items() if key not in existing]
        if len(fresh) < len(batch):
            log.warning(
                "%d gateway records reused a request id and were not logged again",
                len(batch) - len(fresh),
            )
        RequestLog.objects.bulk_create(fresh)
        plan_shadow_jobs(fresh, today=now.date())


recorder = Recorder()


@atexit.register
def _flush_at_exit() -> None:
    try:
        recorder.flush()
    except Exception:
        log.exception("gateway records lost at exit")
