"""What operators watch: every Prometheus metric of the product, defined once, with the one
function each layer calls to count (README, "Operating it", "What to alert on").

The registry is the bottom layer, so traffic, comparisons, evaluations and rollout control all
count here without importing each other. Nothing here touches the database: figures that live
there (the outbox, dead letters, guardrails) are read when `/metrics` is scraped
(rollout_site/metrics.py).

Several processes (uvicorn workers, Celery workers, beat) each count their own: with
PROMETHEUS_MULTIPROC_DIR set before the process starts, prometheus-client keeps every value in a
memory-mapped file there and the scrape adds them up; without it, the process's own registry is
served. The variable is read by prometheus-client when it is first imported, so it must be in the
environment of the process, not only in settings (`manage.py demo` sets it for its children).

Labels take only values from a small set (feature keys, baseline|candidate, error kinds, a
trigger): never a request id, a unit key, a user or a token. `_bounded` holds that line even for
a caller that passes something unexpected.
"""

import atexit
import collections
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, multiprocess

PREFIX = "rollout_desk_"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# --- traffic: requests, errors, latency --------------------------------------------------------

REQUESTS = Counter(
    PREFIX + "requests_total",
    "Production calls answered by the gateway or stored by ingest.",
    ["surface", "feature", "variant"],
)
ERRORS = Counter(
    PREFIX + "request_errors_total",
    "Production calls that failed, by error kind (timeout, rate_limited, server_error, ...).",
    ["surface", "feature", "variant", "kind"],
)
GATEWAY_REFUSED = Counter(
    PREFIX + "gateway_refused_total",
    "Gateway requests answered with an error before any provider call (bad token, bad body).",
    ["status"],
)
ADDED_LATENCY = Histogram(
    PREFIX + "gateway_added_latency_seconds",
    "Time a gateway request spent in the gateway, minus the provider call.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
RATE_LIMITED = Counter(
    PREFIX + "rate_limited_total",
    "Requests refused with 429 by Rollout Desk's own rate limits.",
    ["surface"],
)

# --- the control plane seen from the data plane -----------------------------------------------

ROUTING_AGE = Gauge(
    PREFIX + "routing_table_age_seconds",
    "Seconds since the routing table serving requests was last confirmed against the "
    "database (0 while it is current); the oldest of the live processes.",
    multiprocess_mode="livemax",
)
CIRCUIT_STATE = Gauge(
    PREFIX + "provider_circuit_state",
    "Per-endpoint provider circuit breaker: 0 closed, 1 half-open, 2 open (worst live process).",
    ["endpoint"],
    multiprocess_mode="livemax",
)
CIRCUIT_STATES = {"closed": 0, "half_open": 1, "open": 2}

# --- the gateway's write-behind log -------------------------------------------------------------

RECORDER_BACKLOG = Gauge(
    PREFIX + "gateway_log_backlog",
    "Gateway request logs waiting in memory to be written (buffered and in flight).",
    multiprocess_mode="livesum",
)
RECORDER_RECORDS = Counter(
    PREFIX + "gateway_log_records_total",
    "What became of the gateway's request logs: written, duplicate, dead_lettered, dropped "
    "(buffer full) or lost.",
    ["outcome"],
)
RECORDER_OUTCOMES = ("written", "duplicate", "dead_lettered", "lost", "dropped")

# --- shadow traffic and rollouts -------------------------------------------------------------

SHADOW_SKIPPED = Counter(
    PREFIX + "shadow_skipped_total",
    "Production calls of a shadowing rollout that got no shadow job, by reason.",
    ["reason"],
)
SHADOW_SKIP_REASONS = frozenset({"sample", "cap", "budget"})
ROLLBACKS = Counter(
    PREFIX + "rollbacks_total",
    "Rollouts rolled back, by trigger: manual (a person or an API token) or automatic "
    "(a guardrail breach).",
    ["trigger"],
)

# Label values are slugs; a caller's typo or an unexpected kind becomes "other" past these many
# distinct values per label, so no input can grow a label without bound.
_SLUG = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}", re.IGNORECASE)
# A provider endpoint as the breaker keys it (host:port/path, never credentials or a query).
_ENDPOINT = re.compile(r"[a-z0-9][a-z0-9_.:/\[\]-]{0,199}", re.IGNORECASE)
_LIMITS = {"feature": 1000, "kind": 64, "endpoint": 200, "surface": 16}
_seen: dict[str, set[str]] = {name: set() for name in _LIMITS}
_gateway_series: dict[tuple[str, str], Any] = {}  # (feature, variant) -> its requests series


def _bounded(label: str, value: str) -> str:
    seen = _seen[label]
    if value in seen:
        return value
    pattern = _ENDPOINT if label == "endpoint" else _SLUG
    if not pattern.fullmatch(value) or len(seen) >= _LIMITS[label]:
        return "other"
    seen.add(value)
    return value


def _variant(value: str) -> str:
    return value if value in ("baseline", "candidate") else "other"


def gateway_call_counted(feature: str, variant: str, error_kind: str, added: float) -> None:
    """One gateway call that reached a provider (or tried to), and the seconds the gateway
    itself added to it. On every gateway request, so the series is looked up once per
    (feature, variant): about 3 us a call in one process, 8 us with the multiprocess files
    (12 us looking it up each time)."""
    child = _gateway_series.get((feature, variant))
    if child is None:
        child = REQUESTS.labels("gateway", _bounded("feature", feature), _variant(variant))
        if len(_gateway_series) < _LIMITS["feature"] * 2:
            _gateway_series[(feature, variant)] = child
    child.inc()
    if error_kind:
        labels = ("gateway", _bounded("feature", feature), _variant(variant))
        ERRORS.labels(*labels, _bounded("kind", error_kind)).inc()
    ADDED_LATENCY.observe(added if added > 0 else 0.0)


def ingest_counted(calls: Iterable[tuple[str, str, str]]) -> None:
    """Ingested calls just stored, as (feature key, variant, error kind): one increment per
    distinct label set, however long the batch."""
    for (feature, variant, kind), n in collections.Counter(calls).items():
        labels = (_bounded("surface", "ingest"), _bounded("feature", feature), _variant(variant))
        REQUESTS.labels(*labels).inc(n)
        if kind:
            ERRORS.labels(*labels, _bounded("kind", kind)).inc(n)


def gateway_refused(*, status: int) -> None:
    """A gateway request refused before any provider call (401, 400, 404, 413, 429, 503...)."""
    GATEWAY_REFUSED.labels(str(status) if 400 <= status < 600 else "other").inc()


def rate_limited(*, surface: str) -> None:
    """A request refused by a rate limit (the limits of traffic/ and the login throttle call
    this with their surface: "gateway", "api", "login")."""
    RATE_LIMITED.labels(_bounded("surface", surface)).inc()


def routing_age_set(*, seconds: float) -> None:
    ROUTING_AGE.set(max(seconds, 0.0))


def provider_circuit_state(*, endpoint: str, state: str) -> None:
    """The breaker of `endpoint` (a provider's base URL) moved to `state`: closed, half_open or
    open. The label drops the scheme: `api.openai.com/v1`."""
    label = endpoint.split("://", 1)[-1]
    CIRCUIT_STATE.labels(_bounded("endpoint", label)).set(CIRCUIT_STATES[state])


def recorder_backlog(*, waiting: int) -> None:
    RECORDER_BACKLOG.set(waiting)


def recorder_outcomes(
    written: int = 0, duplicate: int = 0, dead_lettered: int = 0, lost: int = 0, dropped: int = 0
) -> None:
    """What became of the gateway logs of one written batch (or one dropped from the buffer)."""
    counts = (written, duplicate, dead_lettered, lost, dropped)
    for outcome, count in zip(RECORDER_OUTCOMES, counts, strict=True):
        if count > 0:
            RECORDER_RECORDS.labels(outcome).inc(count)


def shadow_skips(counts: Mapping[str, int]) -> None:
    """Calls that got no shadow job, by reason (sample, cap, ...), once their batch commits."""
    for reason, count in counts.items():
        if count > 0:
            SHADOW_SKIPPED.labels(reason if reason in SHADOW_SKIP_REASONS else "other").inc(count)


def rollback_counted(*, automatic: bool) -> None:
    ROLLBACKS.labels("automatic" if automatic else "manual").inc()


# --- processes ----------------------------------------------------------------------------------


def multiproc_dir() -> str:
    """The folder every process writes its figures to, or "" for this process's registry."""
    return os.environ.get(MULTIPROC_ENV, "")


def multiproc_dir_reset(path: Path) -> None:
    """Make the folder empty before the processes that share it start, so figures of an earlier
    run (their pids may be reused) do not count. Only for a starter of all of them (`manage.py
    demo`); in production the deployment empties it (README, "Configuration")."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


def process_exited(pid: int | None = None) -> None:
    """Drop the live gauges of a process that ends (its counters keep counting: a total must
    never go down because a worker restarted). Celery's prefork children call this from
    `worker_process_shutdown` (they skip atexit); every other process at exit."""
    path = multiproc_dir()
    if path and Path(path).is_dir():
        multiprocess.mark_process_dead(os.getpid() if pid is None else pid, path)


atexit.register(process_exited)
