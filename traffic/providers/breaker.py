"""A circuit breaker per provider endpoint, shared by every web and worker process.

closed -> open: this process saw a storm of 5xx, connection failures or timeouts (BREAKER_*
settings: a failure ratio over a minimum of calls within a window, or a run of consecutive
failures). 4xx answers, 429 and quota errors never count: the provider answered, the request or
the account is at fault.
open -> half_open: after BREAKER_COOLDOWN_SECONDS. Meanwhile calls fail fast, unsent.
half_open -> closed on a probe's answer, -> open again on a probe's failure; at most
BREAKER_PROBES calls (across all processes) are let through as probes.

The state lives in the shared cache (breaker_store.py). The hot path never waits on it: each
process decides on its own view, refreshed in the background at most every
BREAKER_REFRESH_SECONDS and only while the endpoint is in use. A transition applies locally at
once and is published in the background, claimed with cache.add on the next generation number so
that of two processes tripping together exactly one logs it (the other adopts its record). A cache
that fails leaves each process on its own view: the data plane never stops because the control
plane did.
"""

import asyncio
import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from django.conf import settings

from registry.observability import provider_circuit_state
from traffic.providers import breaker_store as store
from traffic.providers.base import ErrorKind, Outcome
from traffic.providers.breaker_store import COUNT_MINUTES, PROBE_WAIT

__all__ = ["COUNT_MINUTES", "BreakerView", "State", "breaker_reset", "breaker_snapshot"]

log = logging.getLogger("traffic.providers.breaker")


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


# What a provider in trouble looks like. Everything else is an answer from a live server.
COUNTED = frozenset({ErrorKind.SERVER_ERROR, ErrorKind.CONNECTION, ErrorKind.TIMEOUT})
# Kinds that never reached the provider: they say nothing about it either way.
_UNSENT = frozenset(
    {
        ErrorKind.NO_API_KEY,
        ErrorKind.BLOCKED_ADDRESS,
        ErrorKind.CIRCUIT_OPEN,
        ErrorKind.CLIENT_DISCONNECTED,
    }
)


def _conf(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


@dataclass
class _View:
    key: str
    state: State = State.CLOSED
    since: float = field(default_factory=time.time)  # wall clock: shared across processes
    until: float = 0.0  # open: when probing may start
    gen: int = 0
    reason: str = ""
    refreshed: float = 0.0  # monotonic
    seconds: deque[list[int]] = field(default_factory=deque)  # [second, calls, failures]
    consecutive: int = 0
    unpublished: Counter[str] = field(default_factory=Counter)
    # Half-open: probe slots this process took without the cache, and whether the shared
    # slots of this generation are known to be gone (then no round trip until it changes).
    local_probes: int = 0
    probes_gone: bool = False


@dataclass(frozen=True)
class BreakerView:
    """One endpoint's breaker as the operations page and the metrics see it."""

    provider: str  # the endpoint: scheme://host:port/path, never credentials or a query
    state: str
    since: float  # epoch seconds
    retry_in: float | None  # open: seconds until probing starts
    reason: str
    counts: dict[str, int]  # attempts by outcome kind ("ok" for answers) over COUNT_MINUTES


_lock = threading.Lock()
_views: dict[str, _View] = {}
_keys: dict[str, str] = {}


def endpoint(base_url: str) -> str:
    """The breaker's key for a base URL: what identifies the server, nothing that may be secret."""
    found = _keys.get(base_url)
    if found is None:
        parts = urlsplit(base_url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        found = f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"
        if len(_keys) < 10_000:
            _keys[base_url] = found
    return found


def _view(key: str) -> _View:
    view = _views.get(key)
    if view is None:
        with _lock:
            view = _views.setdefault(key, _View(key=key))
    return view


# --- the local view ------------------------------------------------------------------------


def _adopt(view: _View, record: dict | None, *, force: bool = False) -> None:
    # Only a newer generation: a refresh that read the record just before this process's own
    # transition was published must not undo it. (After a cache flush, a process whose view is
    # ahead keeps it until a newer generation is published.)
    if record and (force or int(record.get("gen", 0)) > view.gen):
        view.state = State(record["state"])
        view.since, view.until = float(record["since"]), float(record["until"])
        view.gen, view.reason = int(record["gen"]), str(record.get("reason", ""))
        view.local_probes, view.probes_gone = 0, False
        # Every process sets its own gauge (the metric keeps the worst live process's value),
        # so adopting a state counts as much as making it.
        provider_circuit_state(endpoint=view.key, state=view.state.value)
        view.seconds.clear()
        view.consecutive = 0


def _due(view: _View) -> bool:
    now = time.monotonic()
    if now - view.refreshed < _conf("BREAKER_REFRESH_SECONDS", 1.0):
        return False
    view.refreshed = now  # claimed before the round trip, so one caller refreshes, not many
    return True


def _refresh(view: _View) -> None:
    """Background thread: publish this process's counts, adopt the shared state."""
    counts, view.unpublished = view.unpublished, Counter()
    if counts:
        store.publish_counts(view.key, counts)
    _adopt(view, store.load(view.key))


def _transition(view: _View, to: State, reason: str) -> None:
    """Move to `to` from the generation this process knows, at once here; the record is
    published in the background (_publish)."""
    now = time.time()
    cooldown = _conf("BREAKER_COOLDOWN_SECONDS", 30.0)
    record = {
        "state": to.value,
        "since": now,
        "until": now + cooldown if to == State.OPEN else 0.0,
        "gen": view.gen + 1,
        "reason": reason,
    }
    previous = view.state
    _adopt(view, record, force=True)
    if store.is_down():
        _log(view.key, previous, record, note=" (shared cache unavailable: this process only)")
        return
    store.submit(_publish, view, record, previous)


def _publish(view: _View, record: dict, previous: State) -> None:
    """Background thread: of two processes making the same move, the first to claim its
    generation logs it; the other adopts the winner's record and logs nothing."""
    try:
        won = store.claim(view.key, record)
    except Exception:
        _log(view.key, previous, record, note=" (shared cache unavailable: this process only)")
        raise
    if won:
        _log(view.key, previous, record)
    else:
        _adopt(view, store.load(view.key), force=True)


def _log(key: str, previous: State, record: dict, note: str = "") -> None:
    log.warning(
        "circuit %s: %s -> %s (%s)%s", key, previous.value, record["state"], record["reason"], note
    )


def _rejected(view: _View, retry_in: float) -> Outcome:
    view.unpublished[ErrorKind.CIRCUIT_OPEN.value] += 1
    when = time.strftime("%H:%M:%S", time.gmtime(view.since))
    return Outcome(
        error_kind=ErrorKind.CIRCUIT_OPEN,
        error=f"Not sent: the circuit for {view.key} is open since {when} UTC ({view.reason}); "
        f"calls fail fast until it probes again in {retry_in:.0f} s.",
        retry_after=max(retry_in, 1.0),
    )


def _gate(view: _View) -> Outcome | None:
    """May this call go? Waits (PROBE_WAIT at most) only when half-open."""
    if view.state == State.CLOSED:
        return None
    now = time.time()
    if view.state == State.OPEN:
        if now < view.until:
            return _rejected(view, view.until - now)
        _transition(view, State.HALF_OPEN, "cool-down over, probing")
        if view.state != State.HALF_OPEN:
            return _gate(view)
    if not view.probes_gone:
        # Probe slots are counted across processes: "a few probes", not a few per process.
        taken = store.ask(store.take_probe, view.key, view.gen, timeout=PROBE_WAIT)
        if taken is None:  # the cache is down: this process probes on its own
            view.local_probes += 1
            taken = view.local_probes
        if taken <= int(_conf("BREAKER_PROBES", 3)):
            return None
        view.probes_gone = True
    return _rejected(view, 1.0)


def _tripped(view: _View) -> str | None:
    window = _conf("BREAKER_WINDOW_SECONDS", 30.0)
    cutoff = int(time.monotonic() - window)
    while view.seconds and view.seconds[0][0] < cutoff:
        view.seconds.popleft()
    calls = sum(s[1] for s in view.seconds)
    failures = sum(s[2] for s in view.seconds)
    run = int(_conf("BREAKER_CONSECUTIVE", 10))
    if view.consecutive >= run:
        return f"{view.consecutive} consecutive failures"
    ratio = _conf("BREAKER_FAILURE_RATIO", 0.5)
    if calls >= _conf("BREAKER_MIN_CALLS", 20) and failures >= ratio * calls:
        return f"{failures} of {calls} calls failed within {window:g} s"
    return None


def _note(view: _View, kind: ErrorKind) -> tuple[State, str] | None:
    """Count one attempt's outcome; the transition it calls for, if any."""
    if kind in _UNSENT:
        return None
    view.unpublished[kind.value] += 1
    failed = kind in COUNTED
    if view.state == State.HALF_OPEN:
        # Only probes get through while half-open: the first to come back decides.
        if failed:
            return State.OPEN, f"a probe failed ({kind.value})"
        return State.CLOSED, "a probe was answered"
    if view.state == State.OPEN:
        return None
    second = int(time.monotonic())
    if view.seconds and view.seconds[-1][0] == second:
        view.seconds[-1][1] += 1
        view.seconds[-1][2] += failed
    else:
        view.seconds.append([second, 1, int(failed)])
    view.consecutive = view.consecutive + 1 if failed else 0
    reason = _tripped(view) if failed else None
    return (State.OPEN, reason) if reason else None


# --- the interface the provider clients use --------------------------------------------------


def admit(base_url: str) -> Outcome | None:
    """None: send the attempt. Else the outcome to return unsent."""
    view = _view(endpoint(base_url))
    if _due(view):
        store.submit(_refresh, view)
    if view.state == State.CLOSED:
        return None  # the hot path: a few dictionary lookups
    return _gate(view)


def record(base_url: str, kind: ErrorKind) -> None:
    """Count one attempt's outcome (no I/O: a transition is published in the background)."""
    view = _view(endpoint(base_url))
    move = _note(view, kind)
    if move is not None:
        _transition(view, *move)


async def aadmit(base_url: str) -> Outcome | None:
    """The async twin of admit: only a half-open gate, which may wait for a probe slot, leaves
    the event loop."""
    view = _view(endpoint(base_url))
    if _due(view):
        store.submit(_refresh, view)
    if view.state == State.CLOSED:
        return None
    if view.state == State.OPEN and time.time() < view.until:
        return _rejected(view, view.until - time.time())
    return await asyncio.to_thread(_gate, view)


async def arecord(base_url: str, kind: ErrorKind) -> None:
    record(base_url, kind)


# --- what operators see ----------------------------------------------------------------------

_KINDS = ["ok", ErrorKind.CIRCUIT_OPEN.value] + [
    k.value for k in ErrorKind if k and k not in _UNSENT
]


def _shared_view(key: str) -> tuple[dict | None, Counter[str]]:
    return store.load(key), store.recent_counts(key, _KINDS)


def breaker_snapshot(base_urls: list[str] | None = None) -> list[BreakerView]:
    """Each endpoint's state from the shared cache (this process's view when the cache cannot
    say), with attempts by kind over the last COUNT_MINUTES minutes. Without base_urls: the
    endpoints this process has called."""
    store.settle()  # this process's own transitions first
    keys = sorted({endpoint(u) for u in base_urls} if base_urls is not None else set(_views))
    out = []
    for key in keys:
        view = _views.get(key) or _View(key=key, since=0.0)
        record, counts = store.ask(_shared_view, key, timeout=1.0) or (None, Counter())
        if record:
            state, since = str(record["state"]), float(record["since"])
            until, reason = float(record["until"]), str(record.get("reason", ""))
        else:
            state, since, until, reason = view.state.value, view.since, view.until, view.reason
        for kind_name, n in view.unpublished.items():
            counts[kind_name or "ok"] += n
        retry_in = max(until - time.time(), 0.0) if state == State.OPEN else None
        out.append(BreakerView(key, state, since, retry_in, reason, dict(counts)))
    return out


def breaker_reset(base_url: str, *, reason: str) -> None:
    """Close the circuit now (an operator who knows the provider is back)."""
    view = _view(endpoint(base_url))
    _adopt(view, store.ask(store.load, view.key, timeout=1.0))
    if view.state != State.CLOSED:
        _transition(view, State.CLOSED, reason)
    store.settle()


def forget(*, shared: bool = True) -> None:
    """Drop this process's views, as a fresh process starts; with `shared`, also move to keys
    where no earlier state can be found (tests)."""
    store.restart(fresh_keys=shared)
    with _lock:
        _views.clear()
