"""The connect-time half of the egress policy: resolve the provider's host and refuse the call
when any address it resolves to is one the policy refuses (registry/egress.py).

The save-time check alone is not enough: a row can be older than the policy, and a name that
resolved to a public address when it was saved can resolve to 169.254.169.254 today.

Resolved addresses are remembered for RESOLVE_TTL seconds, so the gateway's hot path does not
pay a DNS round trip per call; the policy itself is applied afresh every time (a changed
PROVIDER_ALLOWED_HOSTS takes effect at once). IP literals are decided without DNS.

Known limit: the HTTP client resolves the name again when it connects, so a DNS-rebinding host
with a zero TTL can answer differently in between; pinning the checked address in the transport
would close that.
"""

import asyncio
import socket
import threading
import time

from registry import egress
from traffic.providers.base import ErrorKind, Outcome

RESOLVE_TTL = 10.0  # seconds

_lock = threading.Lock()
_resolved: dict[tuple[str, int], tuple[float, list[str]]] = {}


def _blocked(problem: str) -> Outcome:
    # Never retried: the same address would be refused again.
    return Outcome(
        error_kind=ErrorKind.BLOCKED_ADDRESS,
        error=f"Refused to call the provider: {problem}",
    )


def _cached(key: tuple[str, int]) -> list[str] | None:
    with _lock:
        entry = _resolved.get(key)
    if entry is None or entry[0] < time.monotonic():
        return None
    return entry[1]


def _remember(key: tuple[str, int], addresses: list[str]) -> None:
    with _lock:
        if len(_resolved) > 10_000:  # bounded: base URLs are few, but never trust that
            _resolved.clear()
        _resolved[key] = (time.monotonic() + RESOLVE_TTL, addresses)


def forget() -> None:
    """Drop the remembered addresses (tests; a DNS change that must apply now)."""
    with _lock:
        _resolved.clear()


def _decide(base_url: str) -> tuple[Outcome | None, tuple[str, int] | None, egress.Allowed]:
    """The verdict when the URL alone decides it, else the (host, port) to resolve."""
    allowed = egress.allowed_from_settings()
    try:
        host, port = egress.split_host(base_url)
    except egress.BlockedAddress as exc:
        return _blocked(str(exc)), None, allowed
    decided, problem = egress.literal_problem(host, allowed=allowed)
    if decided:
        return (_blocked(problem) if problem else None), None, allowed
    return None, (host, port), allowed


def _judge(key: tuple[str, int], addresses: list[str], allowed: egress.Allowed) -> Outcome | None:
    problem = egress.resolved_problem(key[0], addresses, allowed=allowed)
    return _blocked(problem) if problem else None


def check(base_url: str) -> Outcome | None:
    """None when the provider may be called, else the outcome to record (sync engines)."""
    verdict, key, allowed = _decide(base_url)
    if key is None:
        return verdict
    addresses = _cached(key)
    if addresses is None:
        try:
            infos = socket.getaddrinfo(key[0], key[1], type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return None  # unresolvable: the client's own connect fails and says so
        addresses = egress.addresses_from(infos)
        _remember(key, addresses)
    return _judge(key, addresses, allowed)


async def acheck(base_url: str) -> Outcome | None:
    """The async twin of `check`: resolution runs off the event loop."""
    verdict, key, allowed = _decide(base_url)
    if key is None:
        return verdict
    addresses = _cached(key)
    if addresses is None:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                key[0], key[1], type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError):
            return None
        addresses = egress.addresses_from(infos)
        _remember(key, addresses)
    return _judge(key, addresses, allowed)
