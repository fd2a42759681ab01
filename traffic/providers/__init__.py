"""Clients for the LLM providers behind a product.

`call` (sync, Celery workers) and `acall` (async, the gateway) send one chat request, retry what
may pass on another attempt within one total deadline, and return a CallResult rather than
raising: a failed call is data to record, not a crash. `astream` passes an OpenAI-compatible
server-sent event stream through unchanged.

The API key is read from the environment at call time and never leaves the request headers: it is
kept out of results, exceptions and logs.
"""

import asyncio
import functools
import json
import logging
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

import httpx

from traffic.providers import anthropic_messages, breaker, guard, openai_chat, pool
from traffic.providers.base import (
    Answer,
    CallResult,
    ErrorKind,
    Outcome,
    ProviderCall,
    ProviderError,
    build_result,
    client_excerpt,
    dropped_params,
    outcome_for_exception,
    outcome_for_response,
    read_api_key,
    retry_wait,
)
from traffic.providers.sse import StreamSummary

__all__ = [
    "CallResult",
    "ErrorKind",
    "ProviderCall",
    "ProviderError",
    "StreamSummary",
    "acall",
    "astream",
    "call",
]

logger = logging.getLogger("traffic.providers")

# Module attributes so tests can replace them: the retry paths then run instantly and the waits
# can be asserted.
_sleep = time.sleep
_asleep = asyncio.sleep

_STYLES = {"openai_chat": openai_chat, "anthropic_messages": anthropic_messages}

# What the HTTP library may raise for one attempt. InvalidURL is not an HTTPError; TimeoutError
# is how our own deadline (asyncio.timeout, or the sync read loop) ends an attempt.
_ATTEMPT_ERRORS = (httpx.HTTPError, httpx.InvalidURL, TimeoutError)


@dataclass(frozen=True)
class _Prepared:
    url: str
    headers: dict[str, str]
    body: dict
    parse: Callable[[dict], Answer]
    secret: str  # the API key, only so that error texts can be scrubbed of it


def _prepare(*, req: ProviderCall, stream: bool = False) -> tuple[_Prepared | None, Outcome | None]:
    style = _STYLES.get(req.api_style)
    if style is None:
        return None, Outcome(
            error_kind=ErrorKind.CLIENT_ERROR,
            error=f"Unknown api_style {req.api_style!r}; expected one of {sorted(_STYLES)}.",
        )
    if stream and style is not openai_chat:
        return None, Outcome(
            error_kind=ErrorKind.CLIENT_ERROR,
            error="Streaming is only available for openai_chat providers.",
        )
    key, problem = read_api_key(api_key_env=req.api_key_env)
    if problem is not None:
        return None, problem
    if stream:
        url, headers, body = openai_chat.build_request(req=req, api_key=key, stream=True)
    else:
        url, headers, body = style.build_request(req=req, api_key=key)
    parse = functools.partial(style.parse_answer, model_id=req.model_id)
    return _Prepared(url=url, headers=headers, body=body, parse=parse, secret=key), None


def _next_wait(
    *,
    req: ProviderCall,
    outcome: Outcome,
    attempt: int,
    max_retries: int,
    deadline: float,
    max_wait: float | None,
) -> float | None:
    """Seconds to wait before the next attempt, or None to stop with this outcome."""
    if outcome.answer is not None or not outcome.retryable or attempt > max_retries:
        return None
    wait = retry_wait(retry_index=attempt - 1, retry_after=outcome.retry_after)
    if max_wait is not None and wait > max_wait:
        # The caller would rather pass the provider's Retry-After on than sit on its client.
        return None
    if time.monotonic() + wait >= deadline:
        # The caller's deadline is a promise to its own caller: better a prompt error than an
        # answer nobody is waiting for any more.
        logger.info(
            "Not retrying %s model=%s status=%s (%s): waiting %.2fs would pass the deadline",
            req.base_url,
            req.model_id,
            outcome.status_code,
            outcome.error_kind.value,
            wait,
        )
        return None
    logger.info(
        "Retrying %s model=%s after status=%s (%s), attempt %d of %d failed, waiting %.2fs",
        req.base_url,
        req.model_id,
        outcome.status_code,
        outcome.error_kind.value,
        attempt,
        max_retries + 1,
        wait,
    )
    return wait


def _finish(
    *, req: ProviderCall, outcome: Outcome, attempts: int, started: float, secret: str
) -> CallResult:
    result = build_result(outcome=outcome, attempts=attempts, started=started, secret=secret)
    result.dropped_params = dropped_params(req)
    # An open circuit fails every call alike; its one log line is the transition's (breaker.py).
    if not result.ok and result.error_kind != ErrorKind.CIRCUIT_OPEN:
        logger.warning(
            "Provider call failed: %s model=%s status=%s (%s) after %d attempt(s): %s",
            req.base_url,
            req.model_id,
            result.status_code,
            result.error_kind.value,
            attempts,
            result.error,
        )
    return result


# Before any attempt: only reachable with a timeout of zero or less.
_NO_TIME = Outcome(error_kind=ErrorKind.TIMEOUT, error="The deadline passed before any attempt.")


# --- sync ------------------------------------------------------------------------------------


def call(
    req: ProviderCall,
    *,
    max_retries: int = 2,
    max_wait: float | None = None,
    transport: httpx.BaseTransport | None = None,
) -> CallResult:
    """One chat request with bounded retries, all within req.timeout seconds; a retry waits
    the provider's Retry-After (at most max_wait seconds, when given) or a jittered backoff."""
    started = time.monotonic()
    deadline = started + req.timeout
    prepared, problem = _prepare(req=req)
    if prepared is None:
        return _finish(req=req, outcome=problem or _NO_TIME, attempts=0, started=started, secret="")
    if (blocked := guard.check(req.base_url)) is not None:
        return _finish(req=req, outcome=blocked, attempts=0, started=started, secret="")
    client = (
        httpx.Client(transport=transport)
        if transport is not None
        else pool.sync_client(base_url=req.base_url)
    )
    outcome, attempts = _NO_TIME, 0
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            if (unsent := breaker.admit(req.base_url)) is not None:
                outcome = unsent  # an open circuit: fail fast, the provider is not touched
                break
            attempts += 1
            outcome = _attempt(
                client=client, prepared=prepared, remaining=remaining, deadline=deadline, req=req
            )
            breaker.record(req.base_url, outcome.error_kind)
            wait = _next_wait(
                req=req,
                outcome=outcome,
                attempt=attempts,
                max_retries=max_retries,
                deadline=deadline,
                max_wait=max_wait,
            )
            if wait is None:
                break
            _sleep(wait)
    finally:
        if transport is not None:
            client.close()
    return _finish(
        req=req, outcome=outcome, attempts=attempts, started=started, secret=prepared.secret
    )


def _attempt(
    *,
    client: httpx.Client,
    prepared: _Prepared,
    remaining: float,
    deadline: float,
    req: ProviderCall,
) -> Outcome:
    try:
        with client.stream(
            "POST", prepared.url, headers=prepared.headers, json=prepared.body, timeout=remaining
        ) as response:
            content = _read_within(response=response, deadline=deadline)
    except _ATTEMPT_ERRORS as exc:
        return outcome_for_exception(exc, timeout=req.timeout)
    return outcome_for_response(
        status=response.status_code,
        headers=response.headers,
        content=content,
        parse=prepared.parse,
    )


def _read_within(*, response: httpx.Response, deadline: float) -> bytes:
    # httpx's read timeout bounds each read, not the whole body: a server dripping one byte a
    # second would never trip it. Checking the clock between chunks keeps the total deadline.
    chunks = []
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise TimeoutError("the deadline passed while reading the answer")
    return b"".join(chunks)


# --- async -----------------------------------------------------------------------------------


async def acall(
    req: ProviderCall,
    *,
    max_retries: int = 2,
    max_wait: float | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> CallResult:
    """The async twin of `call`, for the gateway: same rules, same result."""
    started = time.monotonic()
    deadline = started + req.timeout
    prepared, problem = _prepare(req=req)
    if prepared is None:
        return _finish(req=req, outcome=problem or _NO_TIME, attempts=0, started=started, secret="")
    if (blocked := await guard.acheck(req.base_url)) is not None:
        return _finish(req=req, outcome=blocked, attempts=0, started=started, secret="")
    sender = transport if transport is not None else pool.async_transport(base_url=req.base_url)
    payload = json.dumps(prepared.body).encode()
    headers = {**prepared.headers, "Content-Type": "application/json", "Accept": "*/*"}
    outcome, attempts = _NO_TIME, 0
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            if (unsent := await breaker.aadmit(req.base_url)) is not None:
                outcome = unsent
                break
            attempts += 1
            outcome = await _aattempt(
                transport=sender,
                request=httpx.Request(
                    "POST",
                    prepared.url,
                    headers=headers,
                    content=payload,
                    extensions={"timeout": httpx.Timeout(remaining).as_dict()},
                ),
                prepared=prepared,
                remaining=remaining,
                req=req,
            )
            await breaker.arecord(req.base_url, outcome.error_kind)
            wait = _next_wait(
                req=req,
                outcome=outcome,
                attempt=attempts,
                max_retries=max_retries,
                deadline=deadline,
                max_wait=max_wait,
            )
            if wait is None:
                break
            await _asleep(wait)
    finally:
        if transport is not None:
            await transport.aclose()
    return _finish(
        req=req, outcome=outcome, attempts=attempts, started=started, secret=prepared.secret
    )


async def _aattempt(
    *,
    transport: httpx.AsyncBaseTransport,
    request: httpx.Request,
    prepared: _Prepared,
    remaining: float,
    req: ProviderCall,
) -> Outcome:
    try:
        # asyncio.timeout bounds the whole attempt, body included (see _read_within).
        async with asyncio.timeout(remaining):
            response = await transport.handle_async_request(request)
            try:
                content = await response.aread()
            finally:
                await response.aclose()
    except _ATTEMPT_ERRORS as exc:
        return outcome_for_exception(exc, timeout=req.timeout)
    return outcome_for_response(
        status=response.status_code,
        headers=response.headers,
        content=content,
        parse=prepared.parse,
    )


# --- streaming -------------------------------------------------------------------------------


async def astream(
    req: ProviderCall,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    summary: StreamSummary | None = None,
) -> AsyncGenerator[bytes, None]:
    """The provider's SSE bytes, unchanged, within req.timeout seconds in total.

    Before the first byte a failure raises ProviderError (the caller can still answer with an
    error status). After it, the stream is already the caller's response body, so a failure or
    the deadline ends it with an SSE error event and `data: [DONE]`. No retries: a stream cannot
    be replayed once any of it has been passed on.

    `summary`, when given, reads the provider's bytes as they pass (sse.py): the text so far,
    finish reason, tokens, and how the stream ended, so the caller can log what really happened.
    """
    started = time.monotonic()
    deadline = started + req.timeout
    prepared, problem = _prepare(req=req, stream=True)
    if prepared is None:
        raise ProviderError(
            _finish(req=req, outcome=problem or _NO_TIME, attempts=0, started=started, secret="")
        )
    if (blocked := await guard.acheck(req.base_url)) is not None:
        raise ProviderError(
            _finish(req=req, outcome=blocked, attempts=0, started=started, secret="")
        )
    if (unsent := await breaker.aadmit(req.base_url)) is not None:
        raise ProviderError(
            _finish(req=req, outcome=unsent, attempts=0, started=started, secret="")
        )
    if summary is not None:
        summary.secret = prepared.secret
    client = (
        httpx.AsyncClient(transport=transport)
        if transport is not None
        else pool.async_client(base_url=req.base_url)
    )
    response: httpx.Response | None = None
    try:
        failure = None
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0)):
                request = client.build_request(
                    "POST",
                    prepared.url,
                    headers=prepared.headers,
                    json=prepared.body,
                    timeout=max(deadline - time.monotonic(), 0.001),
                )
                response = await client.send(request, stream=True)
                if not response.is_success:
                    await response.aread()
        except _ATTEMPT_ERRORS as exc:
            failure = outcome_for_exception(exc, timeout=req.timeout)
        assert failure is not None or response is not None  # noqa: S101 - narrows the type
        if failure is None and response is not None and not response.is_success:
            failure = outcome_for_response(
                status=response.status_code,
                headers=response.headers,
                content=response.content,
                parse=prepared.parse,
            )
        # The stream's headers are the breaker's evidence: a break later is the stream's own.
        await breaker.arecord(req.base_url, failure.error_kind if failure else ErrorKind.NONE)
        # Raised outside the except block on purpose: a chained httpx exception would carry the
        # request, and with it the Authorization header.
        if failure is not None:
            raise ProviderError(
                _finish(
                    req=req, outcome=failure, attempts=1, started=started, secret=prepared.secret
                )
            )

        assert response is not None  # noqa: S101 - no failure means a response
        chunks = response.aiter_bytes()
        tail = b""
        while True:
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0)):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except _ATTEMPT_ERRORS as exc:
                failure = outcome_for_exception(exc, timeout=req.timeout)
                break
            if chunk:
                tail = (tail + chunk)[-4:]
                if summary is not None:
                    summary.feed(chunk)
                yield chunk
        result = _finish(
            req=req, outcome=failure, attempts=1, started=started, secret=prepared.secret
        )
        if not tail:
            raise ProviderError(result)
        if summary is not None:
            summary.broke(failure)
        # End a half-sent event first, so the error is an event of its own.
        ended = tail.endswith((b"\n\n", b"\r\r", b"\r\n\r\n"))
        error = {"error": {"message": client_excerpt(result), "type": result.error_kind.value}}
        yield (b"" if ended else b"\n\n") + b"data: " + json.dumps(error).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"
    finally:
        if response is not None:
            await response.aclose()
        if transport is not None:
            await client.aclose()
