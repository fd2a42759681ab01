"""The shared store behind rate limits and login throttling: counters every process agrees on.

Redis (`CACHE_URL`, or a Redis broker) when configured: INCRBY and sorted-set updates are atomic,
so web processes on any number of machines share one count. Without it, the embedded default
uses Django's cache (a folder under var/, shared by the processes of one machine; its updates are
read-modify-write, so counts are approximate there).

A limiter must never take production down: every operation raises `StoreUnavailable` when the
store cannot answer within `TIMEOUT_SECONDS`, the callers serve anyway ("fail open"), and after a
failure the store is left alone for `RETRY_SECONDS` so a dead Redis costs no time per request.
The outage is logged once a minute with the number of requests served unchecked.
"""

import asyncio
import logging
import threading
import time
import weakref
from collections import Counter
from dataclasses import dataclass

import redis
import redis.asyncio as aredis
from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from registry.observability import rate_limited

log = logging.getLogger("traffic.ratestore")

PREFIX = "rd:"
# Loopback or same-zone Redis answers in well under a millisecond; a store slower than this is
# treated as down rather than made every request's latency.
TIMEOUT_SECONDS = 0.25
RETRY_SECONDS = 2.0
LOG_EVERY_SECONDS = 60.0
# The embedded cache keeps a log this long after a removal (an add sets its own, from the window).
_CACHE_LOG_TTL = 3600


class StoreUnavailable(Exception):
    """The shared store did not answer; the caller serves without a limit."""


@dataclass
class _Health:
    down_since: float | None = None
    down_url: str = ""  # the store that failed (settings may name another since)
    retry_at: float = 0.0
    logged_at: float = 0.0
    unchecked: int = 0  # requests served without a check since the last log line
    unchecked_total: int = 0
    failures_total: int = 0


_health = _Health()
_rejected: Counter[str] = Counter()
_health_lock = threading.Lock()


def _skip(url: str) -> bool:
    """Whether the store failed a moment ago and is left alone for now."""
    return (
        _health.down_since is not None
        and url == _health.down_url
        and time.time() < _health.retry_at
    )


def _failed(url: str, exc: BaseException) -> StoreUnavailable:
    now = time.time()
    with _health_lock:
        _health.failures_total += 1
        _health.down_url, _health.retry_at = url, now + RETRY_SECONDS
        if _health.down_since is None:
            _health.down_since = now
            _health.logged_at = 0.0
    return StoreUnavailable(f"{type(exc).__name__}: {exc}")


def _recovered() -> None:
    if _health.down_since is None:
        return
    with _health_lock:
        since, _health.down_since = _health.down_since, None
        if since is not None:
            log.warning(
                "rate-limit store reachable again after %.0f s; %d request(s) were served "
                "without a rate-limit check meanwhile",
                time.time() - since,
                _health.unchecked,
            )
            _health.unchecked = 0


def note_unchecked(reason: StoreUnavailable) -> None:
    """A caller served a request without its check: count it, and log at most once a minute."""
    now = time.time()
    with _health_lock:
        _health.unchecked += 1
        _health.unchecked_total += 1
        if now - _health.logged_at < LOG_EVERY_SECONDS:
            return
        _health.logged_at, count = now, _health.unchecked
    log.warning(
        "rate-limit store unreachable (%s); serving without rate limits or login throttling "
        "(fail open), %d request(s) unchecked so far",
        reason,
        count,
    )


def note_rejected(scope: str) -> None:
    """A request refused by a limit: `api`, `gateway`, or `login` (an attempt while locked)."""
    with _health_lock:
        _rejected[scope] += 1
    rate_limited(surface=scope)  # the Prometheus counter, summed over processes by /metrics


def rejected_counts() -> dict[str, int]:
    """This process's refusals by scope since it started."""
    return dict(_rejected)


def health() -> dict[str, object]:
    """For metrics and health: whether the store is down, and what was served unchecked."""
    return {
        "down": _health.down_since is not None,
        "failures_total": _health.failures_total,
        "unchecked_total": _health.unchecked_total,
    }


# --- clients ---------------------------------------------------------------------------------
_sync_clients: dict[str, redis.Redis] = {}
# redis.asyncio connections belong to the event loop that opened them.
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aredis.Redis]]"
_async_clients = weakref.WeakKeyDictionary()


def _url() -> str:
    return str(settings.CACHE_URL)


def _sync(url: str) -> redis.Redis:
    client = _sync_clients.get(url)
    if client is None:
        client = _sync_clients.setdefault(
            url,
            redis.Redis.from_url(
                url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
            ),
        )
    return client


def _async(url: str) -> aredis.Redis:
    per_loop = _async_clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(url)
    if client is None:
        client = per_loop[url] = aredis.Redis.from_url(
            url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
        )
    return client


# --- counters (fixed windows) ------------------------------------------------------------------
def count_add(key: str, amount: int, ttl: int) -> int:
    """Add `amount` to the counter `key` (created with `ttl` seconds to live); the new total."""
    url = _url()
    if _skip(url):
        raise StoreUnavailable("the store failed a moment ago")
    try:
        if url:
            pipe = _sync(url).pipeline(transaction=False)
            pipe.incrby(PREFIX + key, amount)
            pipe.expire(PREFIX + key, ttl, nx=True)
            total = int(pipe.execute()[0])
        else:
            total = _cache_add(key, amount, ttl)
    except (RedisError, OSError) as exc:
        raise _failed(url, exc) from None
    _recovered()
    return total


async def acount_add(key: str, amount: int, ttl: int) -> int:
    """`count_add` for the event loop (the gateway): a Redis round trip that blocks nothing."""
    url = _url()
    if not url or _skip(url):
        return count_add(key, amount, ttl)  # the embedded file cache: a local file, no network
    try:
        async with _async(url).pipeline(transaction=False) as pipe:
            pipe.incrby(PREFIX + key, amount)
            pipe.expire(PREFIX + key, ttl, nx=True)
            total = int((await pipe.execute())[0])
    except (RedisError, OSError) as exc:
        raise _failed(url, exc) from None
    _recovered()
    return total


def _cache_add(key: str, amount: int, ttl: int) -> int:
    cache.add(PREFIX + key, 0, ttl)
    try:
        return int(cache.incr(PREFIX + key, amount))
    except ValueError:  # expired between add and incr
        cache.set(PREFIX + key, amount, ttl)
        return amount


# --- event logs (sliding windows) --------------------------------------------------------------
def log_add(key: str, member: str, *, now: float, window: float) -> list[float]:
    """Record `member` at `now` in the log `key`, forget entries older than `window` seconds, and
    return the times of every entry left (ours included), oldest first. One atomic step on Redis,
    so concurrent callers each see the others."""
    url, name, ttl = _url(), PREFIX + key, int(window) + 60
    if _skip(url):
        raise StoreUnavailable("the store failed a moment ago")
    try:
        if url:
            pipe = _sync(url).pipeline(transaction=True)
            pipe.zremrangebyscore(name, "-inf", now - window)
            pipe.zadd(name, {member: now})
            pipe.zrange(name, 0, -1, withscores=True)
            pipe.expire(name, ttl)
            entries = pipe.execute()[2]
            times = sorted(float(score) for _member, score in entries)
        else:
            kept = {m: t for m, t in cache.get(name, {}).items() if t > now - window}
            kept[member] = now
            cache.set(name, kept, ttl)
            times = sorted(kept.values())
    except (RedisError, OSError) as exc:
        raise _failed(url, exc) from None
    _recovered()
    return times


def log_remove(key: str, member: str | None = None) -> None:
    """Take `member` out of the log `key`, or drop the whole log."""
    url, name = _url(), PREFIX + key
    if _skip(url):
        raise StoreUnavailable("the store failed a moment ago")
    try:
        if url and member is None:
            _sync(url).delete(name)
        elif url and member is not None:
            _sync(url).zrem(name, member)
        elif member is None:
            cache.delete(name)
        else:
            kept = cache.get(name, {})
            if kept.pop(member, None) is not None:
                cache.set(name, kept, _CACHE_LOG_TTL)
    except (RedisError, OSError) as exc:
        raise _failed(url, exc) from None
    _recovered()
