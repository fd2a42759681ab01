"""Keep-alive connection pools shared by every provider call in the process.

A new TCP + TLS handshake per call would add tens of milliseconds to every gateway request and
every evaluation item, so clients are created once per base URL and reused.
"""

import asyncio
import os
import threading
import weakref

import httpx

LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)

_lock = threading.Lock()
_sync_clients: dict[str, httpx.Client] = {}
# An AsyncClient's connections belong to the event loop that opened them, so a client is never
# shared across loops. id() of a dead loop can be reused by a new one, hence the weak reference
# that proves the entry still belongs to the loop asking for it.
_async_clients: dict[tuple[int, str], tuple[weakref.ref, httpx.AsyncClient]] = {}


def _key(base_url: str) -> str:
    return base_url.rstrip("/")


def sync_client(*, base_url: str) -> httpx.Client:
    """The shared client for base_url; safe to call from any thread (Celery thread pools)."""
    key = _key(base_url)
    with _lock:
        client = _sync_clients.get(key)
        if client is None or client.is_closed:
            client = _sync_clients[key] = httpx.Client(limits=LIMITS)
        return client


def async_client(*, base_url: str) -> httpx.AsyncClient:
    """The shared client for base_url on the running event loop."""
    loop = asyncio.get_running_loop()
    key = (id(loop), _key(base_url))
    # A threading lock, not an asyncio one: several loops in several threads may share this
    # dict, and nothing inside awaits.
    with _lock:
        entry = _async_clients.get(key)
        if entry is not None and entry[0]() is loop and not entry[1].is_closed:
            return entry[1]
        _forget_dead_loops()
        client = httpx.AsyncClient(limits=LIMITS)
        _async_clients[key] = (weakref.ref(loop), client)
        return client


def _forget_dead_loops() -> None:
    # A closed loop cannot run aclose(); its sockets are released when the client is collected.
    for key, (loop_ref, _client) in list(_async_clients.items()):
        loop = loop_ref()
        if loop is None or loop.is_closed():
            del _async_clients[key]


def close_sync_clients() -> None:
    """Close the shared sync clients (worker shutdown, tests); later calls open new ones."""
    with _lock:
        clients = list(_sync_clients.values())
        _sync_clients.clear()
    for client in clients:
        client.close()


async def aclose_async_clients() -> None:
    """Close the running loop's shared async clients (e.g. in an ASGI lifespan shutdown)."""
    loop = asyncio.get_running_loop()
    with _lock:
        mine = [key for key, (ref, _client) in _async_clients.items() if ref() is loop]
        clients = [_async_clients.pop(key)[1] for key in mine]
    for client in clients:
        await client.aclose()


def _after_fork_in_child() -> None:
    # A forked worker (Celery prefork) must not share its parent's sockets: forget the parent's
    # clients without closing them (they are the parent's to close) and start afresh.
    global _lock
    _lock = threading.Lock()
    _sync_clients.clear()
    _async_clients.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
