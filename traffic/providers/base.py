"""What every provider client shares: the request and result types, and the pure rules that decide
what an HTTP answer means and whether (and how long) to wait before trying again.

Nothing here does I/O, so the sync and async engines in `traffic.providers` apply exactly the
same rules.
"""

import json
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

import aiohttp
import httpx

from registry.egress import key_env_problem
from registry.paramrules import family_of, request_params_for

ERROR_TEXT_LIMIT = 500
BACKOFF_BASE = 0.25  # seconds; the n-th retry waits up to BACKOFF_BASE * 2**n (full jitter)


@dataclass(frozen=True)
class ProviderCall:
    api_style: str  # "openai_chat" | "anthropic_messages"
    base_url: str  # e.g. "https://api.openai.com/v1", with or without a trailing slash
    api_key_env: str  # the NAME of the env var holding the key; "" means no auth header
    timeout: float  # total deadline in seconds for the whole call, retries included
    model_id: str
    messages: list[dict]  # OpenAI-style [{"role": ..., "content": str}, ...]
    params: dict = field(default_factory=dict)  # temperature, max_tokens, response_format, ...


class ErrorKind(StrEnum):
    NONE = ""
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    CLIENT_ERROR = "client_error"
    CONNECTION = "connection"  # could not connect (refused, unreachable) or the link broke
    BAD_RESPONSE = "bad_response"
    NO_API_KEY = "no_api_key"
    # Streams: the provider sent an error event, or the stream stopped before it said it was done.
    STREAM_ERROR = "stream_error"
    # The gateway's own client went away mid-stream; the provider's stream was closed with it.
    CLIENT_DISCONNECTED = "client_disconnected"
    # The base URL resolves to an address the egress policy refuses (registry/egress.py).
    BLOCKED_ADDRESS = "blocked_address"
    # 401, or a 403 that is not about quota: the key is wrong, revoked or lacks the model.
    AUTH_REJECTED = "auth_rejected"
    # The account's quota or credit is used up (OpenAI's 429 "insufficient_quota", a 402).
    QUOTA_EXHAUSTED = "quota_exhausted"
    # Not sent: the provider's circuit breaker is open (traffic/providers/breaker.py).
    CIRCUIT_OPEN = "circuit_open"


@dataclass
class CallResult:
    output: str  # assistant text ("" on error)
    finish_reason: str | None  # OpenAI vocabulary: stop, length, tool_calls, content_filter
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float  # wall time of the whole call, retries included
    error_kind: ErrorKind
    error: str  # for humans; never contains the API key
    status_code: int | None
    attempts: int
    tool_calls: list[dict]  # recorded, never executed
    body: dict | None  # the answer as an OpenAI chat.completion object
    # Parameters of the call that its model family refuses, so they were not sent
    # (registry/paramrules.py): a request's top_p on a reasoning candidate, for instance.
    dropped_params: tuple[str, ...] = ()
    # Seconds the provider (429, 503) or the open circuit asked callers to wait, if it said.
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.error_kind == ErrorKind.NONE


class ProviderError(Exception):
    """A call failed before any of its answer could be used (e.g. before a stream's first byte)."""

    def __init__(self, result: CallResult) -> None:
        super().__init__(f"{result.error_kind.value}: {result.error}")
        self.result = result


class BadResponse(ValueError):
    """A 2xx answer that does not have the shape its API documents."""


@dataclass(frozen=True)
class Answer:
    """A successful answer, already normalised by the style module."""

    output: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    tool_calls: list[dict]
    body: dict


@dataclass(frozen=True)
class Outcome:
    """What one attempt produced: an answer, or an error and whether another attempt may help."""

    error_kind: ErrorKind = ErrorKind.NONE
    error: str = ""
    status_code: int | None = None
    retryable: bool = False
    retry_after: float | None = None
    answer: Answer | None = None


# --- the API key -----------------------------------------------------------------------------


def read_api_key(
    *, api_key_env: str, environ: Mapping[str, str] | None = None
) -> tuple[str, Outcome | None]:
    """The key from the environment at call time (so a rotated key is picked up without a
    restart), or an outcome that names the variable. Never the value: it may be half a secret."""
    if not api_key_env:
        return "", None
    # A row that slipped past the save-time check (raw SQL, an old row) still never sends one
    # of the product's own secrets to the provider's URL.
    refused = key_env_problem(api_key_env)
    if refused:
        return "", Outcome(error_kind=ErrorKind.NO_API_KEY, error=refused)
    key = (environ if environ is not None else os.environ).get(api_key_env, "").strip()
    if not key:
        return "", Outcome(
            error_kind=ErrorKind.NO_API_KEY,
            error=f"The environment variable {api_key_env} is not set or empty.",
        )
    # A key that cannot be a header value would make the HTTP library raise an error quoting
    # the header, key included.
    if not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
        return "", Outcome(
            error_kind=ErrorKind.NO_API_KEY,
            error=f"The environment variable {api_key_env} does not hold a usable API key "
            "(printable ASCII without spaces expected).",
        )
    return key, None


def redact(text: str, *, secret: str) -> str:
    """Providers and proxies sometimes echo the key back in error messages."""
    return text.replace(secret, "[redacted]") if secret else text


# --- reading answers -------------------------------------------------------------------------


def provider_error_text(content: bytes) -> str:
    """The provider's own error message when the body has one (both APIs use
    {"error": {"message": ...}}), else the raw body; truncated for storage and display."""
    text = content.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            text = err["message"]
        elif isinstance(err, str):
            text = err
        elif isinstance(data.get("message"), str):
            text = data["message"]
    return text[:ERROR_TEXT_LIMIT]


CLIENT_EXCERPT_LIMIT = 200
_CONTROL = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


def client_excerpt(result: "CallResult") -> str:
    """What an API client may read about a failed provider call: the kind, the upstream status
    and a short excerpt with control characters removed. The full text stays in the request
    log for the operator; an upstream body relayed verbatim could carry anything (internal host
    names, echoed headers, terminal escapes), and a refused address is the operator's business.
    """
    if result.error_kind == ErrorKind.BLOCKED_ADDRESS:
        text = "the provider's address is refused by the egress policy; the operator's log says why"
    else:
        text = " ".join(result.error.translate(_CONTROL).split())
    if len(text) > CLIENT_EXCERPT_LIMIT:
        text = text[: CLIENT_EXCERPT_LIMIT - 1].rstrip() + "\u2026"
    status = f", upstream status {result.status_code}" if result.status_code else ""
    return f"Provider error ({result.error_kind.value}{status}): {text}"


def outcome_for_response(
    *, status: int, headers: httpx.Headers, content: bytes, parse: Callable[[dict], Answer]
) -> Outcome:
    """Turn one HTTP answer into an Outcome: which failures are worth another attempt and which
    are final (a 4xx other than 429 will fail the same way every time)."""
    if 200 <= status < 300:
        try:
            data = json.loads(content)
        except ValueError:
            snippet = content[:200].decode("utf-8", errors="replace")
            return Outcome(
                error_kind=ErrorKind.BAD_RESPONSE,
                error=f"The provider answered {status} with a body that is not JSON: {snippet!r}",
                status_code=status,
            )
        if not isinstance(data, dict):
            return Outcome(
                error_kind=ErrorKind.BAD_RESPONSE,
                error=f"The provider answered {status} with JSON that is not an object.",
                status_code=status,
            )
        try:
            answer = parse(data)
        except (BadResponse, KeyError, IndexError, TypeError, AttributeError) as exc:
            detail = provider_error_text(content) if "error" in data else str(exc)
            return Outcome(
                error_kind=ErrorKind.BAD_RESPONSE,
                error=f"The provider's answer is not in the expected shape: {detail}"[
                    :ERROR_TEXT_LIMIT
                ],
                status_code=status,
            )
        return Outcome(status_code=status, answer=answer)

    message = provider_error_text(content)
    if _about_quota(status, content):
        # Before the 429 rule: OpenAI sends an exhausted quota as a 429, and waiting for it to
        # pass only burns the deadline. Permanent until someone tops the account up.
        return Outcome(
            error_kind=ErrorKind.QUOTA_EXHAUSTED,
            error=f"HTTP {status} quota exhausted: {message}",
            status_code=status,
        )
    if status in (401, 403):
        return Outcome(
            error_kind=ErrorKind.AUTH_REJECTED,
            error=f"HTTP {status} the provider rejected the API key: {message}",
            status_code=status,
        )
    if status == 429:
        return Outcome(
            error_kind=ErrorKind.RATE_LIMITED,
            error=f"HTTP 429 rate limited: {message}",
            status_code=status,
            retryable=True,
            retry_after=parse_retry_after(headers.get("retry-after")),
        )
    if status >= 500:
        # Retry-After is documented for 503, but Anthropic's 529 "overloaded" may send it too.
        return Outcome(
            error_kind=ErrorKind.SERVER_ERROR,
            error=f"HTTP {status} server error: {message}",
            status_code=status,
            retryable=True,
            retry_after=parse_retry_after(headers.get("retry-after")),
        )
    if 400 <= status < 500:
        return Outcome(
            error_kind=ErrorKind.CLIENT_ERROR, error=f"HTTP {status}: {message}", status_code=status
        )
    # 1xx/3xx: redirects are not followed, since a moved API must be fixed in the registry.
    return Outcome(
        error_kind=ErrorKind.BAD_RESPONSE,
        error=f"Unexpected HTTP status {status}: {message}",
        status_code=status,
    )


# Words providers use for a used-up account, in the error's code or type (OpenAI:
# "insufficient_quota"; others "quota_exceeded", "billing_hard_limit_reached", "credit ...").
_QUOTA_WORDS = ("quota", "billing", "credit")


def _about_quota(status: int, content: bytes) -> bool:
    if status == 402:
        return True
    if status not in (400, 403, 429):
        return False
    try:
        data = json.loads(content)
    except ValueError:
        return False
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return False
    names = " ".join(str(err.get(k) or "") for k in ("code", "type")).lower()
    return any(word in names for word in _QUOTA_WORDS)


def outcome_for_exception(exc: Exception, *, timeout: float) -> Outcome:
    """Which transport failures may pass on another attempt (timeouts, dropped connections)
    and which are configuration mistakes that would only repeat."""
    if _lost_connection(exc):
        cause = exc.__cause__
        what = (
            "Could not connect to the provider"
            if isinstance(cause, aiohttp.ClientConnectorError)
            else "Connection failed"
        )
        return Outcome(
            error_kind=ErrorKind.CONNECTION,
            error=f"{what}{_where(exc)}: {type(cause).__name__}: {exc}{_os_reason(exc)}"[
                :ERROR_TEXT_LIMIT
            ],
            retryable=True,
        )
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return Outcome(
            error_kind=ErrorKind.TIMEOUT,
            error=f"No complete answer within the deadline ({timeout:g}s): {type(exc).__name__}",
            retryable=True,
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL | httpx.LocalProtocolError):
        return Outcome(
            error_kind=ErrorKind.CONNECTION,
            error=f"Cannot send the request (check the base URL): {type(exc).__name__}: {exc}",
        )
    if isinstance(exc, httpx.DecodingError):
        return Outcome(
            error_kind=ErrorKind.BAD_RESPONSE,
            error=f"The answer could not be decoded: {exc}",
        )
    if isinstance(exc, httpx.ConnectError):
        return Outcome(
            error_kind=ErrorKind.CONNECTION,
            error=f"Could not connect to the provider{_where(exc)}: {type(exc).__name__}: {exc}"
            f"{_os_reason(exc)}"[:ERROR_TEXT_LIMIT],
            retryable=True,
        )
    return Outcome(
        error_kind=ErrorKind.CONNECTION,
        error=f"Connection failed: {type(exc).__name__}: {exc}",
        retryable=True,
    )


def _lost_connection(exc: Exception) -> bool:
    """A connection failure dressed as a timeout. httpx-aiohttp (the gateway's transport) maps
    every aiohttp ClientConnectionError, a refused connection or a server that hung up
    included, to httpx.ConnectTimeout; only its cause tells a refusal from a real timeout
    (aiohttp's own timeouts are TimeoutErrors)."""
    cause = exc.__cause__
    return (
        isinstance(exc, httpx.TimeoutException)
        and isinstance(cause, aiohttp.ClientConnectionError)
        and not isinstance(cause, TimeoutError)
    )


def _where(exc: Exception) -> str:
    """ " at host:port" of the request, when the message does not say it already: "connection
    refused" alone does not tell an operator which of several providers is down."""
    try:
        url = exc.request.url  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # httpx raises RuntimeError for an unset request
        return ""
    where = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
    return "" if where in str(exc) else f" at {where}"


def _os_reason(exc: BaseException) -> str:
    """The operating system's words for the failure ("Connection refused"), when the chain of
    causes has them and the message does not say it already."""
    seen: BaseException | None = exc
    text = str(exc)
    for _ in range(5):
        seen = seen.__cause__ or seen.__context__ if seen is not None else None
        if seen is None:
            return ""
        errno = getattr(seen, "errno", None)
        if isinstance(seen, OSError) and isinstance(errno, int):
            reason = os.strerror(errno)
            return "" if reason in text else f" ({reason})"
    return ""


# --- waiting ---------------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date. None when
    absent or unreadable, so the caller falls back to its own backoff."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_wait(
    *, retry_index: int, retry_after: float | None, rand: Callable[[], float] = random.random
) -> float:
    """The provider's Retry-After when it gave one; else full jitter, so many workers hitting
    the same limit do not come back in lockstep."""
    if retry_after is not None:
        return retry_after
    return rand() * BACKOFF_BASE * (2**retry_index)


def build_result(
    *, outcome: Outcome, attempts: int, started: float, secret: str = ""
) -> CallResult:
    latency_ms = (time.monotonic() - started) * 1000
    answer = outcome.answer
    if answer is not None:
        return CallResult(
            output=answer.output,
            finish_reason=answer.finish_reason,
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
            latency_ms=latency_ms,
            error_kind=ErrorKind.NONE,
            error="",
            status_code=outcome.status_code,
            attempts=attempts,
            tool_calls=answer.tool_calls,
            body=answer.body,
        )
    return CallResult(
        output="",
        finish_reason=None,
        prompt_tokens=None,
        completion_tokens=None,
        latency_ms=latency_ms,
        error_kind=outcome.error_kind,
        error=redact(outcome.error, secret=secret),
        status_code=outcome.status_code,
        attempts=attempts,
        tool_calls=[],
        body=None,
        retry_after=outcome.retry_after,
    )


def optional_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def clean_params(params: dict) -> dict:
    """Unset config fields arrive as None; sending them as null is refused by some servers."""
    return {k: v for k, v in params.items() if v is not None}


def dropped_params(req: ProviderCall) -> tuple[str, ...]:
    """The names the style module leaves out of this call's request: the same rule, read the
    same way, so what is recorded is what was not sent."""
    family = family_of(req.model_id, req.api_style)
    return request_params_for(family, clean_params(req.params))[1]
