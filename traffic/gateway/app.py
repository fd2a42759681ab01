"""The OpenAI-compatible gateway: `POST /v1/chat/completions` with `model` = feature key.

A bare ASGI app mounted in front of Django (rollout_site/asgi.py), so the hot path runs no Django
middleware and no database query: routing and tokens come from the in-process routing table,
logging is write-behind (recorder.py), shadow work is an outbox row written by the recorder.
"""

import asyncio
import json
import math
import time
import uuid

from asgiref.sync import sync_to_async
from django.db import connection

from registry import observability
from registry.dbfaults import DB_FAULTS, RETRY_AFTER_SECONDS
from traffic.jsonbody import BadBody, parse_json
from traffic.passthrough import forwarded_params, replayed_params
from traffic.prompting import provider_call
from traffic.providers import (
    CallResult,
    ErrorKind,
    ProviderCall,
    ProviderError,
    StreamSummary,
    acall,
    astream,
)
from traffic.providers.base import client_excerpt
from traffic.ratelimit import gateway_limiter
from traffic.requestids import RULE, body_digest, request_id_valid
from traffic.routing import RoutingTable, current_table, fresh_table, routing_age
from traffic.tokens import token_check

from .recorder import GatewayRecord, recorder, stored_digest

MAX_BODY = 5 * 1024 * 1024
# The longest Retry-After the gateway waits out itself: beyond it the 429 goes to the client,
# whose own retry policy knows better than to hold a user's request for that long.
MAX_RETRY_WAIT = 2.0
# Parameters pinned by the config; a request's own values for these are ignored (except
# response_format where the config leaves it open). The ones forwarded as the request sent
# them, and kept for the shadow run: traffic/passthrough.py.
PINNED = {
    "model",
    "messages",
    "temperature",
    "max_tokens",
    "response_format",
    "stream",
    "user",
    "metadata",
}


class GatewayError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        kind: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.status, self.param, self.kind, self.code = status, param, kind, code
        self.headers = headers or {}

    def body(self) -> bytes:
        return json.dumps(
            {
                "error": {
                    "message": str(self),
                    "type": self.kind,
                    "param": self.param,
                    "code": self.code,
                }
            }
        ).encode()


async def _read_body(receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise GatewayError(400, "The client went away.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise GatewayError(413, f"The body is larger than {MAX_BODY} bytes.")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _refuse_unreadable(scope) -> None:
    """Refuse by the headers alone, before a byte of the body is read: a declared size over the
    limit (413), a type that is not JSON (415). No Content-Type is read as JSON, as OpenAI's
    clients always send it and a bare `curl --data-binary` omits it."""
    length = _header(scope, b"content-length") or ""
    if length.isdigit() and int(length) > MAX_BODY:
        raise GatewayError(413, f"The body is larger than {MAX_BODY} bytes.")
    declared = _header(scope, b"content-type")
    if declared is not None and declared.split(";")[0].strip().lower() != "application/json":
        raise GatewayError(
            415, "Send the body as JSON with 'Content-Type: application/json'.", "Content-Type"
        )


async def _table() -> RoutingTable:
    """The routing table; a database outage only matters before the first one was loaded."""
    table = fresh_table()
    if table is not None:
        return table
    try:
        return await sync_to_async(current_table, thread_sensitive=False)()
    except DB_FAULTS:
        raise GatewayError(
            503,
            "The gateway is starting and cannot reach its database to load the routing table; "
            f"retry in {RETRY_AFTER_SECONDS} s.",
            kind="service_unavailable",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from None


def _staleness() -> dict[str, str]:
    """While the database is unreachable: how old the routing table serving this answer is."""
    age = routing_age()
    return {} if age is None else {"X-Rollout-Routing-Age": str(math.ceil(age))}


def _parse(raw: bytes) -> dict:
    try:
        body = parse_json(raw)
    except BadBody as exc:
        raise GatewayError(exc.status, str(exc), exc.field) from None
    if not isinstance(body, dict):
        raise GatewayError(400, "The body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise GatewayError(400, "'model' must be the feature key, e.g. 'support-reply'.", "model")
    messages = body.get("messages")
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages)
    ):
        raise GatewayError(
            400, "'messages' must be a non-empty list of {role, content}.", "messages"
        )
    user = body.get("user", "")
    if not isinstance(user, str) or len(user) > 200:
        raise GatewayError(400, "'user' must be the unit key (at most 200 characters).", "user")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise GatewayError(400, "'metadata' must map prompt variables to strings.", "metadata")
    return body


# On every gateway answer: the body is data for a program, never a page to render or cache.
_SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


def _headers(pairs: dict[str, str], content_type: bytes = b"application/json"):
    merged = _SECURITY_HEADERS | {k.lower(): v for k, v in pairs.items()}
    return [(b"content-type", content_type)] + [(k.encode(), v.encode()) for k, v in merged.items()]


def _status_for(result: CallResult) -> int:
    if result.error_kind == ErrorKind.TIMEOUT:
        return 504
    if result.error_kind == ErrorKind.CLIENT_ERROR and result.status_code:
        return result.status_code
    if result.error_kind == ErrorKind.RATE_LIMITED:
        return 429
    if result.error_kind == ErrorKind.CIRCUIT_OPEN:
        return 503
    # A rejected key or an exhausted quota is the operator's to fix, never the client's: a
    # 401 would read as "your gateway token is wrong", a 429 as "retry later".
    return 502


def _provider_error(result: CallResult) -> GatewayError:
    """The client's view of a failed provider call: status, OpenAI-style body, Retry-After
    when the provider or the open circuit named a time to come back."""
    status = _status_for(result)
    headers = {}
    if status in (429, 503) and result.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(result.retry_after)))
    circuit = result.error_kind == ErrorKind.CIRCUIT_OPEN
    return GatewayError(
        status,
        client_excerpt(result),
        kind="service_unavailable" if circuit else "provider_error",
        headers=headers,
        code=result.error_kind.value,
    )


async def chat_completions(scope, receive, send) -> None:
    started = time.time()
    chosen = _header(scope, b"x-request-id")
    # An id that fails the rule is never echoed back (it may carry anything); the 400 gets one
    # made up like a call without the header.
    valid = chosen is not None and request_id_valid(chosen)
    request_id = chosen if valid and chosen is not None else uuid.uuid4().hex
    try:
        if scope["method"] != "POST":
            raise GatewayError(405, "Use POST.")
        table = await _table()
        auth = _header(scope, b"authorization") or ""
        token = token_check(table, auth[7:].strip()) if auth[:7].lower() == "bearer " else None
        if token is None:
            raise GatewayError(
                401,
                "Send 'Authorization: Bearer rdk_...' with a live API token.",
                kind="authentication_error",
            )
        verdict = await gateway_limiter.acheck(token)
        if not verdict.allowed:
            raise GatewayError(
                429,
                verdict.message(),
                kind="rate_limit_error",
                headers={"Retry-After": str(verdict.retry_after)},
                code="rate_limited",
            )
        if chosen is not None and chosen != request_id:
            raise GatewayError(
                400,
                f"'X-Request-Id' must be {RULE}; send such an id, or none and the gateway makes "
                "one up.",
                "X-Request-Id",
            )
        _refuse_unreadable(scope)
        body = _parse(await _read_body(receive))
        route = table.routes.get(body["model"])
        if route is None:
            raise GatewayError(
                404, f"No feature '{body['model']}': 'model' is a feature key.", "model"
            )
        if route.feature_id not in token.feature_ids:
            raise GatewayError(
                403,
                f"This token is not scoped to feature '{route.feature_key}'.",
                "model",
                "permission_error",
            )
        digest = body_digest(body) if chosen is not None else ""
        if digest and await _reused(route.feature_id, request_id, digest):
            raise GatewayError(
                409,
                f"The request id '{request_id}' was already used with a different body: send a "
                "new 'X-Request-Id' for a new call (the same body again is answered, and logged "
                "once).",
                "X-Request-Id",
            )
    except GatewayError as exc:
        observability.gateway_refused(status=exc.status)
        await _send(send, exc.status, exc.body(), {"X-Request-Id": request_id} | exc.headers)
        return
    unit = body.get("user") or request_id
    variant, config = route.choose(unit)
    variables = body.get("metadata") or {}
    forwarded = forwarded_params(request=body, config_params=config.params)
    call = provider_call(
        config, messages=body["messages"], variables=variables, request_params=forwarded
    )
    headers = {
        "X-Request-Id": request_id,
        "X-Rollout-Model-Version": config.model_id,
        "X-Rollout-Variant": variant,
    }
    headers.update(_staleness())

    def record(result: CallResult) -> None:
        recorder.add(
            GatewayRecord(
                route=route,
                variant=variant,
                config_id=config.id,
                request_id=request_id,
                unit_key=unit,
                messages=body["messages"],
                variables=variables,
                params=replayed_params(forwarded),
                result=result,
                started=started,
                body_digest=digest,
            )
        )
        added = time.time() - started - result.latency_ms / 1000  # all but the provider call
        observability.gateway_call_counted(route.feature_key, variant, result.error_kind, added)

    if body.get("stream"):
        await _stream(send, receive, call, headers, record)
        return
    result = await acall(call, max_wait=MAX_RETRY_WAIT)
    record(result)
    if result.ok and result.body is not None:
        await _send(send, 200, json.dumps(result.body).encode(), headers)
    else:
        error = _provider_error(result)
        await _send(send, error.status, error.body(), headers | error.headers)


async def _stream(send, receive, call: ProviderCall, headers: dict, record) -> None:
    """Pass the provider's SSE stream through, and log how it really ended: the text so far and
    the tokens known, with the provider's error event, a broken connection, the deadline or the
    client hanging up as the error (sse.py reads the stream as it passes)."""
    if call.api_style != "openai_chat":
        error = GatewayError(
            400, "Streaming is supported for OpenAI-compatible providers.", "stream"
        )
        await _send(send, error.status, error.body(), headers)
        return
    summary = StreamSummary()
    pump = asyncio.ensure_future(_pump(send, call, headers, summary))
    # Watched from the start: a client that leaves while the provider is still thinking must
    # not keep the provider's stream (and its cost) running until the next chunk.
    gone = asyncio.ensure_future(_client_gone(receive))
    try:
        await asyncio.wait({pump, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not pump.done():
            summary.client_gone()
            pump.cancel()  # closes the provider's stream (astream's finally)
            await asyncio.wait({pump})
        failed = not pump.cancelled() and pump.exception() is not None
        early = None if pump.cancelled() or failed else pump.result()
        record(early or summary.result())
    if failed:
        raise pump.exception()  # type: ignore[misc]  # a bug in the pump: let the server see it


async def _pump(send, call: ProviderCall, headers: dict, summary: StreamSummary):
    """Relay the stream. Returns the result to log when the call failed before its first
    byte; else None, and `summary` knows how it went."""
    iterator = astream(call, summary=summary)
    try:
        try:
            chunk = await anext(iterator)
        except ProviderError as exc:
            error = _provider_error(exc.result)
            await _send(send, error.status, error.body(), headers | error.headers)
            return exc.result
        except StopAsyncIteration:
            result = summary.result(status_code=None)  # a 200 with an empty body
            error = GatewayError(502, result.error, kind="provider_error")
            await _send(send, error.status, error.body(), headers)
            return result
        start = _headers(headers | {"Cache-Control": "no-cache"}, b"text/event-stream")
        await send({"type": "http.response.start", "status": 200, "headers": start})
        while True:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            try:
                chunk = await anext(iterator)
            except StopAsyncIteration:
                break
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:
        # Servers that report a send to a departed client as an error (ASGI spec 2.4).
        summary.client_gone()
    finally:
        await iterator.aclose()
    return None


async def _client_gone(receive) -> None:
    """Returns when the client disconnects (the request body has been read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _reused(feature_id: int, request_id: str, digest: str) -> bool:
    """Whether this client-chosen id is already logged, or waiting to be, with another body.

    Checks the recorder's pending records, then the database. Not covered: two requests with
    the id in flight at once (neither is recorded yet), or another gateway process's record not
    yet written (at most FLUSH_SECONDS); the recorder keeps the first row and dead-letters the
    other. While the database is down only the pending records are checked.
    """
    known = recorder.pending_digest(feature_id, request_id)
    if known is None and not recorder.database_down():
        known = await sync_to_async(_stored_digest_unless_down, thread_sensitive=False)(
            feature_id=feature_id, request_id=request_id
        )
    return bool(known) and known != digest


def _stored_digest_unless_down(*, feature_id: int, request_id: str) -> str | None:
    # The database may go away before the recorder notices: then serve, as while it is down,
    # and drop this thread's broken connection so the next check reconnects.
    try:
        return stored_digest(feature_id=feature_id, request_id=request_id)
    except DB_FAULTS:
        connection.close_if_unusable_or_obsolete()
        return None


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


async def _send(send, status: int, payload: bytes, headers: dict) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _headers(headers)})
    await send({"type": "http.response.body", "body": payload})


async def models(scope, receive, send) -> None:
    """`GET /v1/models`: the features this token may call, as OpenAI model objects."""
    try:
        table = await _table()
    except GatewayError as exc:
        await _send(send, exc.status, exc.body(), exc.headers)
        return
    auth = _header(scope, b"authorization") or ""
    token = token_check(table, auth[7:].strip()) if auth[:7].lower() == "bearer " else None
    if token is None:
        error = GatewayError(401, "Send a live API token.", kind="authentication_error")
        await _send(send, 401, error.body(), {})
        return
    data = [
        {"id": key, "object": "model", "owned_by": "rollout-desk", "created": 0}
        for key, route in sorted(table.routes.items())
        if route.feature_id in token.feature_ids
    ]
    await _send(send, 200, json.dumps({"object": "list", "data": data}).encode(), _staleness())


def gateway_routes():
    return {"/v1/chat/completions": chat_completions, "/v1/models": models}
