"""Per-token rate limits of the application API and the gateway, shared by every process.

A limit is requests per minute per API token (`API_RATE_LIMIT_PER_MINUTE`,
`GATEWAY_RATE_LIMIT_PER_MINUTE`; 0 turns a limit off). Over it, the caller gets 429 with
`Retry-After`: the whole seconds until the minute ends.

Algorithm: a fixed one-minute window per token, one shared counter per token and minute
(traffic/ratestore.py, INCRBY on Redis). Fixed rather than sliding because a single atomic integer
lets each process take the allowance in *chunks*: the gateway's hot path then costs a Redis round
trip once per chunk instead of once per request, and the sum over all processes still never
exceeds the limit (every request served was counted first). The price of a fixed window: a client
may get up to twice its limit across a minute boundary (the end of one minute and the start of the
next); over any whole minute of the clock it gets at most the limit.

1. A process serves from its local allowance for the token's current minute while it lasts.
2. When it is spent, the process adds a chunk to the shared counter and keeps what fitted under
   the limit (`granted = min(chunk, limit - (total - chunk))`). Chunks are 1/16 of what the
   process last saw left in the minute, at most `MAX_CHUNK`, at least 1: exact near the limit,
   cheap far from it. What a process reserved and did not use is lost at the minute's end (so a
   client may get slightly less than its limit, never more).
3. A refill that grants nothing means the minute is spent for everyone: the process refuses
   locally, without asking the store, until the minute ends.
4. The store down: serve (fail open), counted and logged once a minute by the store.
"""

import math
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from traffic.ratestore import StoreUnavailable, acount_add, count_add, note_rejected, note_unchecked
from traffic.routing import TokenView

WINDOW_SECONDS = 60
MAX_CHUNK = 64
_KEY_TTL = 2 * WINDOW_SECONDS  # the counter outlives its minute, even across a clock skew


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int = 0
    retry_after: int = 0  # whole seconds until the window frees, when refused

    def message(self) -> str:
        return (
            f"This API token sent more than {self.limit} requests this minute; retry in "
            f"{self.retry_after} s (Retry-After). Ask an admin for a higher limit if this is "
            "normal traffic."
        )


ALLOWED = Decision(allowed=True)


@dataclass(slots=True)
class _Allowance:
    window: int
    left: int = 0  # requests this process may still serve in `window`
    seen: int = 0  # the shared total after this process's last refill
    spent: bool = False  # the shared count reached the limit: refuse until the window ends


class TokenLimiter:
    def __init__(self, scope: str, setting: str) -> None:
        self.scope, self.setting = scope, setting
        self._allowances: dict[str, _Allowance] = {}
        self._lock = threading.Lock()

    def limit(self) -> int:
        return int(getattr(settings, self.setting))

    def check(self, token: TokenView) -> Decision:
        """Count one request of `token`: whether to serve it (for sync views)."""
        limit, now = self.limit(), time.time()
        if limit <= 0:
            return ALLOWED
        decided, chunk, window = self._take(token, limit, now)
        if decided is not None:
            return decided
        try:
            total = count_add(self._key(token, window), chunk, _KEY_TTL)
        except StoreUnavailable as exc:
            note_unchecked(exc)
            return ALLOWED
        return self._refilled(token, limit, now, window, chunk, total)

    async def acheck(self, token: TokenView) -> Decision:
        """`check` for the event loop: the refill awaits Redis instead of blocking the loop."""
        limit, now = self.limit(), time.time()
        if limit <= 0:
            return ALLOWED
        decided, chunk, window = self._take(token, limit, now)
        if decided is not None:
            return decided
        try:
            total = await acount_add(self._key(token, window), chunk, _KEY_TTL)
        except StoreUnavailable as exc:
            note_unchecked(exc)
            return ALLOWED
        return self._refilled(token, limit, now, window, chunk, total)

    def _key(self, token: TokenView, window: int) -> str:
        # The digest's head, not the row id: ids repeat across test databases and restores, and
        # a key naming another token's count would refuse the wrong client. It reveals nothing
        # (a keyed hash of the token, cut short).
        return f"rl:{self.scope}:{token.digest[:16]}:{window}"

    def _take(self, token: TokenView, limit: int, now: float) -> tuple[Decision | None, int, int]:
        """Serve from the local allowance, refuse a spent window, or name the chunk to ask for."""
        window = int(now // WINDOW_SECONDS)
        with self._lock:
            allowance = self._allowances.get(token.digest)
            if allowance is None or allowance.window != window:
                allowance = self._allowances[token.digest] = _Allowance(window)
            if allowance.left > 0:
                allowance.left -= 1
                return ALLOWED, 0, window
            if allowance.spent:
                return self._refused(limit, now, window), 0, window
            return None, max(1, min(MAX_CHUNK, (limit - allowance.seen) // 16)), window

    def _refilled(
        self, token: TokenView, limit: int, now: float, window: int, chunk: int, total: int
    ) -> Decision:
        granted = max(0, min(chunk, limit - (total - chunk)))
        with self._lock:
            allowance = self._allowances.get(token.digest)
            if allowance is not None and allowance.window == window:
                allowance.seen = max(allowance.seen, total)
                allowance.spent = allowance.spent or granted == 0
                allowance.left += max(0, granted - 1)  # this request takes one
        return ALLOWED if granted else self._refused(limit, now, window)

    def _refused(self, limit: int, now: float, window: int) -> Decision:
        note_rejected(self.scope)
        retry = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
        return Decision(allowed=False, limit=limit, retry_after=retry)


api_limiter = TokenLimiter("api", "API_RATE_LIMIT_PER_MINUTE")
gateway_limiter = TokenLimiter("gateway", "GATEWAY_RATE_LIMIT_PER_MINUTE")
