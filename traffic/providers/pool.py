"""Keep-alive connection pools shared by every provider call in the process.

A new TCP + TLS handshake per call would add tens of milliseconds to every gateway request and
every evaluation item, so clients are created once per base URL and reused.
"""

import asyncio
import functools
import itertools
import os
import ssl
import threading
import weakref

import httpx
from httpx_aiohttp import AiohttpTransport

LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
# httpcore scans every pooled connection on each request, so one pool of ~1,000 connections makes
# each call O(connections). The async side therefore spreads calls over SHARDS small pools.
SHARDS = 16
SHARD_LIMITS = httpx.Limits(max_connections=128, max_keepalive_connections=64)


@functools.cache
def _tls() -> ssl.SSLContext:
    # One verifying context for every client: building one loads the CA bundle (~0.2 s), and a
    # fresh pool of SHARDS clients would otherwise spend seconds of its first call's deadline.
    return httpx.create_ssl_context()


_lock = threading.Lock()
_sync_clients: dict[str, tuple[list[httpx.Client], itertools.cycle]] = {}
# An AsyncClient's connections belong to the event loop that opened them, so a client is never
# shared across loops. id() of a dead loop can be reused by a new one, hence the weak reference
# that proves the entry still belongs to the loop asking for it.
_async_clients: dict[tuple[int, str], tuple[weakref.ref, "_Shards"]] = {}


class _Shards:
    """SHARDS clients used in turn (round robin)."""

    def __init__(self) -> None:
        self.clients = [
            httpx.AsyncClient(limits=SHARD_LIMITS, verify=_tls()) for _ in range(SHARDS)
        ]
        self._turn = itertools.cycle(self.clients)

    @property
    def is_closed(self) -> bool:
        return any(client.is_closed for client in self.clients)

    def next(self) -> httpx.AsyncClient:
        return next(self._turn)


def _key(base_url: str) -> str:
    return base_url.rstrip("/")


def sync_client(*, base_url: str) -> httpx.Client:
    """A shared client for base_url; safe to call from any thread (Celery thread pools).

    Threads take the SHARDS clients in turn: httpcore scans its whole pool under one lock on
    every request, so 100 worker threads on one big pool would queue on that lock.
    """
    key = _key(base_url)
    with _lock:
        entry = _sync_clients.get(key)
        if entry is None or any(c.is_closed for c in entry[0]):
            clients = [httpx.Client(limits=SHARD_LIMITS, verify=_tls()) for _ in range(SHARDS)]
            entry = _sync_clients[key] = (clients, itertools.cycle(clients))
        return next(entry[1])


def async_client(*, base_url: str) -> httpx.AsyncClient:
    """The shared client for base_url on the running event loop."""
    loop = asyncio.get_running_loop()
    key = (id(loop), _key(base_url))
    # A threading lock, not an asyncio one: several loops in several threads may share this
    # dict, and nothing inside awaits.
    with _lock:
        entry = _async_clients.get(key)
        if entry is not None and entry[0]() is loop and not entry[1].is_closed:
            return entry[1].next()
        _forget_dead_loops()
        shards = _Shards()
        _async_clients[key] = (weakref.ref(loop), shards)
        return shards.next()


_async_transports: dict[tuple[int, str], tuple[weakref.ref, list, itertools.cycle]] = {}


def async_transport(*, base_url: str) -> httpx.AsyncBaseTransport:
    """A pooled transport for base_url on the running loop (the gateway's hot path).

    The gateway sends through the transport itself: the client layer above it (cookies, auth,
    redirects, event hooks) is work the gateway does not need on every call. The transport is
    httpx's interface over aiohttp's connection pool and C HTTP parser: measured in
    bench/bench_gateway.py, httpcore's pure-Python HTTP/1.1 stack (and its per-request scan of
    the pool) held the gateway to ~0.7x the throughput on this path.
    """
    loop = asyncio.get_running_loop()
    key = (id(loop), _key(base_url))
    with _lock:
        entry = _async_transports.get(key)
        if entry is None or entry[0]() is not loop:
            transports = [AiohttpTransport(limits=LIMITS)]
            entry = _async_transports[key] = (
                weakref.ref(loop),
                transports,
                itertools.cycle(transports),
            )
        return next(entry[2])


def _forget_dead_loops() -> None:
    # A closed loop cannot run aclose(); its sockets are released when the client is collected.
    for key, (loop_ref, _client) in list(_async_clients.items()):
        loop = loop_ref()
        if loop is None or loop.is_closed():
            del _async_clients[key]
    for key, (loop_ref, *_rest) in list(_async_transports.items()):
        loop = loop_ref()
        if loop is None or loop.is_closed():
            del _async_transports[key]


def close_sync_clients() -> None:
    """Close the shared sync clients (worker shutdown, tests); later calls open new ones."""
    with _lock:
        clients = [c for shard_list, _turn in _sync_clients.values() for c in shard_list]
        _sync_clients.clear()
    for client in clients:
        client.close()


async def aclose_async_clients() -> None:
    """Close the running loop's shared async clients (e.g. in an ASGI lifespan shutdown)."""
    loop = asyncio.get_running_loop()
    with _lock:
        mine = [key for key, (ref, _client) in _async_clients.items() if ref() is loop]
        clients = [c for key in mine for c in _async_clients.pop(key)[1].clients]
        mine = [key for key, (ref, *_rest) in _async_transports.items() if ref() is loop]
        clients += [t for key in mine for t in _async_transports.pop(key)[1]]
    for client in clients:
        await client.aclose()


def _after_fork_in_child() -> None:
    # A forked worker (Celery prefork) must not share its parent's sockets: forget the parent's
    # clients without closing them (they are the parent's to close) and start afresh.
    global _lock
    _lock = threading.Lock()
    _sync_clients.clear()
    _async_clients.clear()
    _async_transports.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
