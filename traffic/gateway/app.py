"""The OpenAI-compatible gateway: `POST /v1/chat/completions` with `model` = feature key.

A bare ASGI app mounted in front of Django (rollout_site/asgi.py), so the hot path runs no Django
middleware and no database query: routing and tokens come from the in-process routing table,
logging is write-behind (recorder.py), shadow work is an outbox row written by the recorder.
"""

import json
import time
import uuid

from asgiref.sync import sync_to_async

from traffic.jsonbody import BadBody, parse_json
from traffic.prompting import render_messages
from traffic.providers import CallResult, ErrorKind, ProviderCall, ProviderError, acall, astream
from traffic.routing import current_table, fresh_table
from traffic.tokens import token_check

from .recorder import GatewayRecord, recorder

MAX_BODY = 5 * 1024 * 1024
# Parameters pinned by the config; a request's own values for these are ignored.
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
PASS_THROUGH = {
    "tools",
    "tool_choice",
    "stop",
    "n",
    "seed",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "parallel_tool_calls",
    "stream_options",
}


class GatewayError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        kind: str = "invalid_request_error",
    ):
        super().__init__(message)
        self.status, self.param, self.kind = status, param, kind

    def body(self) -> bytes:
        return json.dumps(
            {"error": {"message": str(self), "type": self.kind, "param": self.param, "code": None}}
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


async def _table():
    return fresh_table() or await sync_to_async(current_table, thread_sensitive=False)()


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


def _headers(pairs: dict[str, str], content_type: bytes = b"application/json"):
    return [(b"content-type", content_type)] + [
        (k.lower().encode(), v.encode()) for k, v in pairs.items()
    ]


def _status_for(result: CallResult) -> int:
    if result.error_kind == ErrorKind.TIMEOUT:
        return 504
    if result.error_kind == ErrorKind.CLIENT_ERROR and result.status_code:
        return result.status_code
    if result.error_kind == ErrorKind.RATE_LIMITED:
        return 429
    return 502


async def chat_completions(scope, receive, send) -> None:
    started = time.time()
    request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
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
    except GatewayError as exc:
        await _send(send, exc.status, exc.body(), {"X-Request-Id": request_id})
        return
    unit = body.get("user") or request_id
    variant, config = route.choose(unit)
    variables = body.get("metadata") or {}
    params = dict(config.params) | {k: body[k] for k in PASS_THROUGH if k in body}
    call = ProviderCall(
        api_style=config.provider.api_style,
        base_url=config.provider.base_url,
        api_key_env=config.provider.api_key_env,
        timeout=config.provider.timeout,
        model_id=config.model_id,
        messages=render_messages(config, body["messages"], variables),
        params=params,
    )
    headers = {
        "X-Request-Id": request_id,
        "X-Rollout-Model-Version": config.model_id,
        "X-Rollout-Variant": variant,
    }

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
                result=result,
                started=started,
            )
        )

    if body.get("stream"):
        await _stream(send, call, headers, record)
        return
    result = await acall(call)
    record(result)
    if result.ok and result.body is not None:
        await _send(send, 200, json.dumps(result.body).encode(), headers)
    else:
        error = GatewayError(
            _status_for(result),
            f"Provider error ({result.error_kind}): {result.error}",
            kind="provider_error",
        )
        await _send(send, error.status, error.body(), headers)


async def _stream(send, call: ProviderCall, headers: dict, record) -> None:
    """Pass the provider's SSE stream through; log the assembled answer when it ends."""
    if call.api_style != "openai_chat":
        error = GatewayError(
            400, "Streaming is supported for OpenAI-compatible providers.", "stream"
        )
        await _send(send, error.status, error.body(), headers)
        return
    t0 = time.perf_counter()
    parts: list[str] = []
    iterator = astream(call).__aiter__()
    try:
        first = await iterator.__anext__()
    except ProviderError as exc:
        record(exc.result)
        error = GatewayError(_status_for(exc.result), exc.result.error, kind="provider_error")
        await _send(send, error.status, error.body(), headers)
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": _headers(headers | {"Cache-Control": "no-cache"}, b"text/event-stream"),
        }
    )
    chunk: bytes | None = first
    while chunk is not None:
        _collect(chunk, parts)
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            chunk = None
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    record(
        CallResult(
            output="".join(parts),
            finish_reason="stop",
            prompt_tokens=None,
            completion_tokens=None,
            latency_ms=(time.perf_counter() - t0) * 1000,
            error_kind=ErrorKind.NONE,
            error="",
            status_code=200,
            attempts=1,
            tool_calls=[],
            body=None,
        )
    )


def _collect(chunk: bytes, parts: list[str]) -> None:
    for line in chunk.decode("utf-8", "replace").splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        try:
            delta = json.loads(line[6:])["choices"][0]["delta"].get("content")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            continue
        if delta:
            parts.append(delta)


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
    table = await _table()
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
    await _send(send, 200, json.dumps({"object": "list", "data": data}).encode(), {})


def gateway_routes():
    return {"/v1/chat/completions": chat_completions, "/v1/models": models}
