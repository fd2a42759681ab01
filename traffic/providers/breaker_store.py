"""The circuit breaker's shared half: its records and counters in Django's "default" cache (Redis
in production), every round trip made by one background thread per process.

No provider call waits on this module except a half-open call asking for a probe slot, and that
for at most PROBE_WAIT seconds. A cache that fails (down, hung, full) is left alone for
CACHE_BACKOFF seconds and logged once per episode; until then each process goes by its own view.
The first touch of a Redis cache imports the client library (~0.3 s): a reason more to keep it
off the calls' own deadlines.
"""

import concurrent.futures
import contextlib
import hashlib
import logging
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import caches

log = logging.getLogger("traffic.providers.breaker")
T = TypeVar("T")

RECORD_TTL = 24 * 3600  # a forgotten endpoint's state expires (closed is the default)
COUNT_BUCKET = 60  # seconds per published counter bucket
COUNT_MINUTES = 5  # what the operations page sums
CACHE_BACKOFF = 10.0
PROBE_WAIT = 0.25

_space = "breaker"  # prefix of every key; tests move to a fresh one
_down_until = 0.0
_lock = threading.Lock()
_pool: concurrent.futures.ThreadPoolExecutor | None = None


def key(endpoint: str, *parts: object) -> str:
    digest = hashlib.sha256(endpoint.encode()).hexdigest()[:24]
    return ":".join([_space, digest, *map(str, parts)])


def cache() -> Any:
    return caches["default"]


def _guarded(fn: Callable[..., T], *args: Any) -> T | None:
    global _down_until
    if time.monotonic() < _down_until:
        return None
    try:
        return fn(*args)
    except Exception as exc:  # redis, OSError, a full disk: the cache is an optimisation here
        _down_until = time.monotonic() + CACHE_BACKOFF
        log.warning("circuit breaker: shared cache unavailable (%s); using local state", exc)
        return None


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="breaker")
        return _pool


def submit(fn: Callable[..., Any], *args: Any) -> None:
    """Run fn(*args) in the background; its failure marks the cache down."""
    _executor().submit(_guarded, fn, *args)


def ask(fn: Callable[..., T], *args: Any, timeout: float) -> T | None:
    """fn(*args) from the background thread, waited for at most `timeout` seconds (then None,
    as if the cache were down: the caller decides alone)."""
    future = _executor().submit(_guarded, fn, *args)
    try:
        return future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        return None


def settle(timeout: float = 2.0) -> None:
    """Wait for the writes already queued (the operations page, tests)."""
    with contextlib.suppress(concurrent.futures.TimeoutError):
        _executor().submit(lambda: None).result(timeout=timeout)


def is_down() -> bool:
    return time.monotonic() < _down_until


def restart(*, fresh_keys: bool) -> None:
    global _down_until, _space
    settle()
    _down_until = 0.0
    if fresh_keys:
        _space = f"breaker-{uuid.uuid4().hex[:12]}"


# --- the records (called on the background thread) --------------------------------------------


def load(endpoint: str) -> dict | None:
    return cache().get(key(endpoint))


def claim(endpoint: str, record: dict) -> bool:
    """Write the next generation's record unless another process wrote it first."""
    store = cache()
    if not store.add(key(endpoint, "gen", record["gen"]), 1, timeout=RECORD_TTL):
        return False
    store.set(key(endpoint), record, timeout=RECORD_TTL)
    return True


def take_probe(endpoint: str, gen: int) -> int:
    name = key(endpoint, "probe", gen)
    store = cache()
    store.add(name, 0, timeout=RECORD_TTL)
    return int(store.incr(name))


def publish_counts(endpoint: str, counts: Counter[str]) -> None:
    store = cache()
    bucket = int(time.time()) // COUNT_BUCKET
    for kind, n in counts.items():
        name = key(endpoint, "n", bucket, kind or "ok")
        try:
            store.incr(name, n)
        except ValueError:  # not there yet
            if not store.add(name, n, timeout=(COUNT_MINUTES + 1) * COUNT_BUCKET):
                store.incr(name, n)


def recent_counts(endpoint: str, kinds: list[str]) -> Counter[str]:
    bucket = int(time.time()) // COUNT_BUCKET
    names = [
        key(endpoint, "n", b, kind)
        for b in range(bucket - COUNT_MINUTES + 1, bucket + 1)
        for kind in kinds
    ]
    counts: Counter[str] = Counter()
    for name, n in cache().get_many(names).items():
        counts[name.rsplit(":", 1)[1]] += int(n)
    return counts


def _after_fork_in_child() -> None:
    # A forked worker (Celery prefork) has none of its parent's threads.
    global _pool, _lock
    _pool, _lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
