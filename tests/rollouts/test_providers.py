"""The provider clients against scripted HTTP servers (httpx.MockTransport): no network, no
database. The retry table runs for both API styles and for both the sync and async engines."""

import asyncio
import gc
import json
import logging
import threading
import time
import traceback
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from traffic import providers
from traffic.providers import breaker, pool
from traffic.providers.base import (
    CallResult,
    ErrorKind,
    ProviderCall,
    ProviderError,
    parse_retry_after,
    retry_wait,
)

KEY_ENV = "ROLLOUT_TEST_PROVIDER_KEY"
KEY = "sk-test-NEVER-LEAK-7f3a9c2e41"
STYLES = ["openai_chat", "anthropic_messages"]
BASE_URLS = {
    "openai_chat": "https://api.openai.test/v1",
    "anthropic_messages": "https://api.anthropic.test/v1",
}
MODELS = {"openai_chat": "gpt-4o-2024-08-06", "anthropic_messages": "claude-sonnet-4-5-20250929"}


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The retry waits, recorded instead of slept."""
    recorded: list[float] = []

    async def fake_asleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(providers, "_sleep", recorded.append)
    monkeypatch.setattr(providers, "_asleep", fake_asleep)
    return recorded


def make_req(style: str = "openai_chat", **overrides) -> ProviderCall:
    fields = {
        "api_style": style,
        "base_url": BASE_URLS[style],
        "api_key_env": KEY_ENV,
        "timeout": 30.0,
        "model_id": MODELS[style],
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello."},
        ],
        "params": {},
    }
    return ProviderCall(**{**fields, **overrides})


# --- provider answers, per style --------------------------------------------------------------


def ok_json(style: str) -> dict:
    if style == "openai_chat":
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": MODELS[style],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello there"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
        }
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": MODELS[style],
        "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 12, "output_tokens": 3},
    }


def tool_json(style: str) -> dict:
    if style == "openai_chat":
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": "refund", "arguments": '{"order": 42}'},
        }
        return {
            "id": "chatcmpl-2",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                    "finish_reason": "tool_calls",
                }
            ],
            "usage": {"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29},
        }
    return {
        "id": "msg_2",
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "refund", "input": {"order": 42}}
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 20, "output_tokens": 9},
    }


def error_json(style: str, message: str) -> dict:
    if style == "openai_chat":
        return {"error": {"message": message, "type": "invalid_request_error", "code": None}}
    return {"type": "error", "error": {"type": "invalid_request_error", "message": message}}


def sent_key(request: httpx.Request) -> str:
    auth = request.headers.get("authorization", "")
    return auth.removeprefix("Bearer ") or request.headers.get("x-api-key", "")


class Script:
    """A MockTransport handler that plays one step per request and records the requests."""

    def __init__(self, style: str, steps: list):
        self.style = style
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert self.steps, f"unexpected extra request #{len(self.requests)}"
        outcome = self.steps.pop(0)(self.style, request)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


# Steps: (style, request) -> httpx.Response | Exception
def ok(style, request):
    return httpx.Response(200, json=ok_json(style))


def tools(style, request):
    return httpx.Response(200, json=tool_json(style))


def status(code: int, headers: dict | None = None):
    def step(style, request):
        return httpx.Response(code, json=error_json(style, f"error {code}"), headers=headers)

    return step


def read_timeout(style, request):
    return httpx.ReadTimeout("read timed out", request=request)


def connect_error(style, request):
    return httpx.ConnectError("[Errno 111] Connection refused", request=request)


def not_json(style, request):
    return httpx.Response(200, content=b"{not json", headers={"content-type": "application/json"})


def wrong_shape(style, request):
    return httpx.Response(200, json={"id": "x", "object": "something.else"})


def run_sync(req: ProviderCall, script: Script, **kwargs) -> CallResult:
    return providers.call(req, transport=script.transport(), **kwargs)


def run_async(req: ProviderCall, script: Script, **kwargs) -> CallResult:
    return asyncio.run(providers.acall(req, transport=script.transport(), **kwargs))


RUNNERS = {"sync": run_sync, "async": run_async}


@dataclass
class Case:
    name: str
    steps: list
    kind: ErrorKind
    attempts: int
    status: int | None
    waits: list[tuple[float, float]] = field(default_factory=list)  # (min, max) per retry
    error_has: str = ""
    timeout: float = 30.0


CASES = [
    Case("200 ok", [ok], ErrorKind.NONE, 1, 200),
    Case("200 tool calls", [tools], ErrorKind.NONE, 1, 200),
    Case("400 final", [status(400)], ErrorKind.CLIENT_ERROR, 1, 400, error_has="error 400"),
    Case(
        "401 final",
        [status(401)],
        ErrorKind.AUTH_REJECTED,
        1,
        401,
        error_has="rejected the API key: error 401",
    ),
    Case("404 final", [status(404)], ErrorKind.CLIENT_ERROR, 1, 404, error_has="error 404"),
    Case(
        "429 Retry-After then 200",
        [status(429, {"Retry-After": "2"}), ok],
        ErrorKind.NONE,
        2,
        200,
        waits=[(2.0, 2.0)],
    ),
    Case("500 then 200", [status(500), ok], ErrorKind.NONE, 2, 200, waits=[(0.0, 0.25)]),
    Case(
        "503 x3",
        [status(503)] * 3,
        ErrorKind.SERVER_ERROR,
        3,
        503,
        waits=[(0.0, 0.25), (0.0, 0.5)],
        error_has="error 503",
    ),
    Case(
        "503 Retry-After date then 200",
        [
            status(503, {"Retry-After": format_datetime(datetime(2000, 1, 1, tzinfo=UTC), True)}),
            ok,
        ],
        ErrorKind.NONE,
        2,
        200,
        waits=[(0.0, 0.0)],  # a date in the past: no wait at all
    ),
    Case("timeout then 200", [read_timeout, ok], ErrorKind.NONE, 2, 200, waits=[(0.0, 0.25)]),
    Case(
        "connection error x3",
        [connect_error] * 3,
        ErrorKind.CONNECTION,
        3,
        None,
        waits=[(0.0, 0.25), (0.0, 0.5)],
        error_has="Connection refused",
    ),
    Case(
        "Retry-After past the deadline",
        [status(429, {"Retry-After": "30"})],
        ErrorKind.RATE_LIMITED,
        1,
        429,
        timeout=5.0,
        error_has="error 429",
    ),
    Case("malformed JSON", [not_json], ErrorKind.BAD_RESPONSE, 1, 200, error_has="not JSON"),
    Case("missing fields", [wrong_shape], ErrorKind.BAD_RESPONSE, 1, 200, error_has="shape"),
]


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_retries_and_errors(case, style, runner, waits):
    script = Script(style, case.steps)
    result = RUNNERS[runner](make_req(style, timeout=case.timeout), script)

    assert result.error_kind == case.kind, result.error
    assert result.ok is (case.kind == ErrorKind.NONE)
    assert result.attempts == case.attempts == len(script.requests)
    assert not script.steps, "every scripted answer was requested"
    assert result.status_code == case.status
    assert len(waits) == len(case.waits), waits
    for wait, (low, high) in zip(waits, case.waits, strict=True):
        assert low <= wait <= high
    assert case.error_has in result.error
    assert result.latency_ms >= 0
    if result.ok:
        assert result.error == ""
        assert result.body["choices"][0]["message"]["role"] == "assistant"
    else:
        assert result.output == "" and result.body is None and result.tool_calls == []


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("style", STYLES)
def test_ok_answer_is_read(style, runner):
    result = RUNNERS[runner](make_req(style), Script(style, [ok]))
    assert result.output == "Hello there"
    assert result.finish_reason == "stop"
    assert (result.prompt_tokens, result.completion_tokens) == (12, 3)
    assert result.tool_calls == []
    assert result.body["choices"][0]["message"]["content"] == "Hello there"
    if style == "openai_chat":
        assert result.body == ok_json(style)  # kept exactly as the provider sent it


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("style", STYLES)
def test_tool_calls_are_recorded_not_run(style, runner):
    result = RUNNERS[runner](make_req(style), Script(style, [tools]))
    assert result.ok
    assert result.finish_reason == "tool_calls"
    assert result.output == ""
    assert (result.prompt_tokens, result.completion_tokens) == (20, 9)
    [call] = result.tool_calls
    assert call["type"] == "function"
    assert call["function"]["name"] == "refund"
    assert json.loads(call["function"]["arguments"]) == {"order": 42}
    assert result.body["choices"][0]["message"]["tool_calls"] == result.tool_calls
    assert result.body["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("value", [None, ""])
def test_missing_api_key_sends_nothing(style, runner, value, monkeypatch):
    if value is None:
        monkeypatch.delenv(KEY_ENV)
    else:
        monkeypatch.setenv(KEY_ENV, value)
    script = Script(style, [])
    result = RUNNERS[runner](make_req(style), script)
    assert result.error_kind == ErrorKind.NO_API_KEY
    assert KEY_ENV in result.error
    assert result.attempts == 0
    assert script.requests == []


@pytest.mark.parametrize("runner", RUNNERS)
def test_unknown_api_style_is_a_client_error(runner):
    script = Script("openai_chat", [])
    req = make_req(api_style="cohere_chat")
    result = RUNNERS[runner](req, script)
    assert result.error_kind == ErrorKind.CLIENT_ERROR
    assert "cohere_chat" in result.error
    assert script.requests == []


@pytest.mark.parametrize("runner", RUNNERS)
def test_long_provider_errors_are_truncated(runner):
    def huge(style, request):
        return httpx.Response(400, json=error_json(style, "x" * 5000))

    result = RUNNERS[runner](make_req(), Script("openai_chat", [huge]))
    assert result.error_kind == ErrorKind.CLIENT_ERROR
    assert "x" * 500 in result.error
    assert "x" * 501 not in result.error


# --- the deadline, in real time ---------------------------------------------------------------


@pytest.mark.parametrize("runner", RUNNERS)
def test_retries_stop_at_the_deadline(runner, monkeypatch):
    """Retry-After 0.2 s, deadline 0.5 s, up to 5 retries: after the attempts at 0, 0.2 and
    0.4 s a third wait would end past the deadline, so the call stops instead of sleeping on."""
    slept: list[float] = []

    def sleep(seconds):
        slept.append(seconds)
        time.sleep(seconds)

    async def asleep(seconds):
        slept.append(seconds)
        await asyncio.sleep(seconds)

    monkeypatch.setattr(providers, "_sleep", sleep)
    monkeypatch.setattr(providers, "_asleep", asleep)
    script = Script("openai_chat", [status(429, {"Retry-After": "0.2"})] * 6)
    # The schedule has 0.1 s of slack: a full garbage collection of the heap a long test
    # session has built can pause longer than that (a CI run once saw 0.5 s before the first
    # attempt). Collect first and keep the collector out of the timed call.
    gc.collect()
    gc.disable()
    try:
        started = time.monotonic()
        result = RUNNERS[runner](make_req(timeout=0.5), script, max_retries=5)
        elapsed = time.monotonic() - started
    finally:
        gc.enable()
    assert result.error_kind == ErrorKind.RATE_LIMITED
    assert result.attempts == 3
    assert slept == [0.2, 0.2]
    assert elapsed < 0.5


class DripStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that arrives a little at a time: each gap is well under any read timeout."""

    def __init__(self, chunks: list[bytes], gap: float, first_gap: float | None = None):
        self.chunks = chunks
        self.gap = gap
        self.first_gap = gap if first_gap is None else first_gap

    def __iter__(self):
        for i, chunk in enumerate(self.chunks):
            time.sleep(self.first_gap if i == 0 else self.gap)
            yield chunk

    async def __aiter__(self):
        for i, chunk in enumerate(self.chunks):
            await asyncio.sleep(self.first_gap if i == 0 else self.gap)
            yield chunk


@pytest.mark.parametrize("runner", RUNNERS)
def test_a_dripping_body_cannot_outlast_the_deadline(runner, waits):
    body = json.dumps(ok_json("openai_chat")).encode()
    drip = [body[i : i + 4] for i in range(0, len(body), 4)]  # ~100 chunks, 0.05 s apart

    def slow(style, request):
        return httpx.Response(200, stream=DripStream(drip, gap=0.05))

    started = time.monotonic()
    result = RUNNERS[runner](make_req(timeout=0.3), Script("openai_chat", [slow, ok]))
    elapsed = time.monotonic() - started
    assert result.error_kind == ErrorKind.TIMEOUT
    assert result.attempts == 1  # no time left for another attempt
    assert elapsed < 1.0
    assert waits == []


# --- request shapes ---------------------------------------------------------------------------


def captured(style: str, req: ProviderCall) -> httpx.Request:
    script = Script(style, [ok])
    result = providers.call(req, transport=script.transport())
    assert result.ok, result.error
    [request] = script.requests
    return request


@pytest.mark.parametrize("base_url", ["https://api.openai.test/v1", "https://api.openai.test/v1/"])
def test_openai_request_shape(base_url):
    req = make_req(base_url=base_url, params={"temperature": 0.2, "max_tokens": 50, "top_p": None})
    request = captured("openai_chat", req)
    assert request.method == "POST"
    assert str(request.url) == "https://api.openai.test/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert "x-api-key" not in request.headers
    assert json.loads(request.content) == {
        "model": "gpt-4o-2024-08-06",
        "messages": req.messages,
        "temperature": 0.2,
        "max_tokens": 50,
    }


SCHEMA = {"type": "object", "properties": {"intent": {"type": "string"}}}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"response_format": "json_object"}, {"type": "json_object"}),
        (
            {"response_format": "json_schema", "json_schema": SCHEMA},
            {"type": "json_schema", "json_schema": {"name": "response", "schema": SCHEMA}},
        ),
        ({"response_format": "text"}, None),
        ({}, None),
    ],
)
def test_openai_response_format(params, expected):
    body = json.loads(captured("openai_chat", make_req(params=params)).content)
    assert body.get("response_format") == expected
    assert "json_schema" not in body
    assert "stream" not in body


def test_no_auth_header_without_key_env(monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    request = captured("openai_chat", make_req(api_key_env=""))
    assert "authorization" not in request.headers
    request = captured("anthropic_messages", make_req("anthropic_messages", api_key_env=""))
    assert "x-api-key" not in request.headers
    assert request.headers["anthropic-version"] == "2023-06-01"


def test_anthropic_request_shape():
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Say hello."},
        {"role": "assistant", "content": "Bonjour."},
        {"role": "user", "content": "Again."},
    ]
    req = make_req(
        "anthropic_messages",
        base_url="https://api.anthropic.test/v1/",
        messages=messages,
        params={"temperature": 0.5, "response_format": "json_object", "max_tokens": None},
    )
    request = captured("anthropic_messages", req)
    assert str(request.url) == "https://api.anthropic.test/v1/messages"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    assert json.loads(request.content) == {
        "model": "claude-sonnet-4-5-20250929",
        "system": "You are terse.\n\nAnswer in French.",
        "messages": [
            {"role": "user", "content": "Say hello."},
            {"role": "assistant", "content": "Bonjour."},
            {"role": "user", "content": "Again."},
        ],
        "max_tokens": 1024,  # required by Anthropic: the default when the config has none
        "temperature": 0.5,
    }


def test_anthropic_keeps_an_explicit_max_tokens_and_omits_an_empty_system():
    req = make_req(
        "anthropic_messages",
        messages=[{"role": "user", "content": "Hi"}],
        params={"max_tokens": 50, "stop": "END"},
    )
    body = json.loads(captured("anthropic_messages", req).content)
    assert body["max_tokens"] == 50
    assert body["stop_sequences"] == ["END"]
    assert "system" not in body


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_anthropic_stop_reasons_in_openai_words(stop_reason, finish_reason):
    def answer(style, request):
        return httpx.Response(200, json={**ok_json(style), "stop_reason": stop_reason})

    result = providers.call(
        make_req("anthropic_messages"),
        transport=Script("anthropic_messages", [answer]).transport(),
    )
    assert result.finish_reason == finish_reason
    assert result.body["choices"][0]["finish_reason"] == finish_reason


def test_anthropic_answer_becomes_a_chat_completion():
    result = providers.call(
        make_req("anthropic_messages"),
        transport=Script("anthropic_messages", [ok]).transport(),
    )
    body = result.body
    assert body["object"] == "chat.completion"
    assert body["id"] == "msg_1"
    assert body["model"] == "claude-sonnet-4-5-20250929"
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello there"},
            "finish_reason": "stop",
        }
    ]
    assert body["usage"] == {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}


# --- logging ----------------------------------------------------------------------------------


def test_retries_are_logged_without_secrets(caplog, waits):
    caplog.set_level(logging.DEBUG)
    req = make_req()
    result = run_sync(req, Script("openai_chat", [status(500), ok]))
    assert result.ok
    [record] = [
        r for r in caplog.records if r.name == "traffic.providers" and r.levelno == logging.INFO
    ]
    message = record.getMessage()
    assert req.base_url in message
    assert req.model_id in message
    assert "status=500" in message
    assert "attempt 1 of 3" in message
    assert KEY not in caplog.text
    assert "Bearer" not in caplog.text


# --- the key never leaks ----------------------------------------------------------------------


def echo(code: int, headers: dict | None = None):
    """A server (or proxy) that quotes the key it received in its error message."""

    def step(style, request):
        return httpx.Response(
            code,
            json=error_json(style, f"Incorrect API key provided: {sent_key(request)}"),
            headers=headers,
        )

    return step


def echo_raw(style, request):
    return httpx.Response(200, content=f"<html>bad key {sent_key(request)}</html>".encode())


def echo_in_exception(exc_type):
    def step(style, request):
        return exc_type(f"failed with key {sent_key(request)}", request=request)

    return step


LEAK_PATHS = [
    ([echo(400)], ErrorKind.CLIENT_ERROR),
    ([echo(401)], ErrorKind.AUTH_REJECTED),
    ([echo(403)], ErrorKind.AUTH_REJECTED),
    ([echo(404)], ErrorKind.CLIENT_ERROR),
    ([echo(429, {"Retry-After": "0"})] * 3, ErrorKind.RATE_LIMITED),
    ([echo(500)] * 3, ErrorKind.SERVER_ERROR),
    ([echo(503)] * 3, ErrorKind.SERVER_ERROR),
    ([echo(200)], ErrorKind.BAD_RESPONSE),  # an error object with status 200
    ([echo_raw], ErrorKind.BAD_RESPONSE),
    ([echo_in_exception(httpx.ConnectError)] * 3, ErrorKind.CONNECTION),
    # (a timeout's message names only the exception type, so there is nothing to scrub)
    ([echo_in_exception(httpx.ReadTimeout)] * 3, ErrorKind.TIMEOUT),
    ([echo_in_exception(httpx.RemoteProtocolError)] * 3, ErrorKind.CONNECTION),
    ([echo_in_exception(httpx.UnsupportedProtocol)], ErrorKind.CONNECTION),
]


def assert_no_key(*texts: str) -> None:
    for text in texts:
        assert KEY not in text


@pytest.mark.parametrize("style", STYLES)
def test_the_key_never_leaks(style, caplog, waits):
    caplog.set_level(logging.DEBUG)
    redacted = 0
    for steps, kind in LEAK_PATHS:
        for runner in RUNNERS.values():
            # Each path on its own: twelve 5xx in a row would (rightly) open the circuit.
            breaker.forget()
            script = Script(style, steps)
            result = runner(make_req(style), script)
            assert result.error_kind == kind, (steps, result.error)
            assert all(sent_key(r) == KEY for r in script.requests)  # the key was really sent
            assert_no_key(repr(result), str(result.__dict__))
            redacted += "[redacted]" in result.error
    # Every other path quoted the key in its message, and it was scrubbed.
    assert redacted == 2 * (len(LEAK_PATHS) - 1)

    # The streaming client's errors are exceptions: check their text, chain and traceback.
    if style == "openai_chat":
        for step in [echo(401), echo(429), echo_in_exception(httpx.ConnectError)]:
            with pytest.raises(ProviderError) as info:
                collect(make_req(style), Script(style, [step]))
            exc = info.value
            assert exc.__cause__ is None and exc.__context__ is None
            assert_no_key(str(exc), repr(exc.result), "".join(traceback.format_exception(exc)))
            assert "[redacted]" in str(exc)
    assert_no_key(caplog.text)
    assert "Incorrect API key provided: [redacted]" in caplog.text  # failures were logged


def test_an_unusable_key_is_refused_without_quoting_it(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY + "\nX-Evil: 1")
    script = Script("openai_chat", [])
    result = run_sync(make_req(), script)
    assert result.error_kind == ErrorKind.NO_API_KEY
    assert KEY_ENV in result.error
    assert KEY not in result.error
    assert script.requests == []


# --- streaming --------------------------------------------------------------------------------

SSE = [
    b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\n',
    b"data: [DONE]\n\n",
]


def sse(chunks: list[bytes], gap: float = 0.0, first_gap: float | None = None):
    def step(style, request):
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            stream=DripStream(chunks, gap=gap, first_gap=first_gap),
        )

    return step


def collect(req: ProviderCall, script: Script) -> list[bytes]:
    async def run() -> list[bytes]:
        return [chunk async for chunk in providers.astream(req, transport=script.transport())]

    return asyncio.run(run())


def test_astream_passes_sse_through_unchanged():
    script = Script("openai_chat", [sse(SSE, gap=0.01)])
    req = make_req(params={"temperature": 0.1, "response_format": "json_object"})
    assert collect(req, script) == SSE
    [request] = script.requests
    assert str(request.url) == "https://api.openai.test/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = json.loads(request.content)
    assert body["stream"] is True
    assert body["model"] == "gpt-4o-2024-08-06"
    assert body["response_format"] == {"type": "json_object"}


def test_astream_total_deadline_ends_a_dripping_stream():
    """Every gap (0.05 s) is shorter than the deadline (0.3 s), so a per-read timeout would
    never fire; the total deadline must."""
    drip = [b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n'] * 100 + [b"data: [DONE]\n\n"]
    started = time.monotonic()
    chunks = collect(make_req(timeout=0.3), Script("openai_chat", [sse(drip, gap=0.05)]))
    elapsed = time.monotonic() - started
    assert elapsed < 1.0
    passed, (error, done) = chunks[:-2], chunks[-2:]
    assert 2 <= len(passed) < 10
    assert all(chunk == drip[0] for chunk in passed)
    assert error.startswith(b"data: ") and error.endswith(b"\n\n")
    assert json.loads(error.removeprefix(b"data: "))["error"]["type"] == "timeout"
    assert done == b"data: [DONE]\n\n"


def test_astream_deadline_mid_event_starts_a_fresh_event():
    half = [b'data: {"choices":[{"delta":', b'{"content":"x"}}]}\n\n']
    chunks = collect(
        make_req(timeout=0.2), Script("openai_chat", [sse(half, gap=5.0, first_gap=0.0)])
    )
    assert chunks[0] == half[0]
    assert chunks[1].startswith(b"\n\ndata: {")
    assert json.loads(chunks[1].strip().removeprefix(b"data: "))["error"]["type"] == "timeout"
    assert chunks[2:] == [b"data: [DONE]\n\n"]


def test_astream_connection_lost_mid_stream_ends_with_an_error_event():
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self):
            yield SSE[0]
            raise httpx.ReadError("connection reset")

    def step(style, request):
        return httpx.Response(200, stream=Broken())

    chunks = collect(make_req(), Script("openai_chat", [step]))
    assert chunks[0] == SSE[0]
    assert json.loads(chunks[1].removeprefix(b"data: "))["error"]["type"] == "connection"
    assert chunks[2:] == [b"data: [DONE]\n\n"]


def test_astream_deadline_before_the_first_byte_raises():
    stalled = sse(SSE, gap=0.0, first_gap=10.0)
    started = time.monotonic()
    with pytest.raises(ProviderError) as info:
        collect(make_req(timeout=0.2), Script("openai_chat", [stalled]))
    assert time.monotonic() - started < 2.0
    assert info.value.result.error_kind == ErrorKind.TIMEOUT


@pytest.mark.parametrize(
    ("step", "kind", "code"),
    [
        (status(401), ErrorKind.AUTH_REJECTED, 401),
        (status(429, {"Retry-After": "1"}), ErrorKind.RATE_LIMITED, 429),
        (status(500), ErrorKind.SERVER_ERROR, 500),
        (connect_error, ErrorKind.CONNECTION, None),
    ],
)
def test_astream_errors_before_the_first_byte_raise(step, kind, code):
    script = Script("openai_chat", [step])
    with pytest.raises(ProviderError) as info:
        collect(make_req(), script)
    assert info.value.result.error_kind == kind
    assert info.value.result.status_code == code
    assert len(script.requests) == 1  # a stream is never retried


def test_astream_without_key_or_for_anthropic_sends_nothing(monkeypatch):
    script = Script("anthropic_messages", [])
    with pytest.raises(ProviderError) as info:
        collect(make_req("anthropic_messages"), script)
    assert info.value.result.error_kind == ErrorKind.CLIENT_ERROR
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(ProviderError) as info:
        collect(make_req(), script)
    assert info.value.result.error_kind == ErrorKind.NO_API_KEY
    assert KEY_ENV in str(info.value)
    assert script.requests == []


# --- waits ------------------------------------------------------------------------------------


def test_parse_retry_after():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("2", now=now) == 2.0
    assert parse_retry_after(" 1.5 ", now=now) == 1.5
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:10 GMT", now=now) == 10.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("-3", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None, now=now) is None


def test_backoff_is_exponential_with_full_jitter():
    assert [retry_wait(retry_index=n, retry_after=None, rand=lambda: 1.0) for n in range(4)] == [
        0.25,
        0.5,
        1.0,
        2.0,
    ]
    assert retry_wait(retry_index=3, retry_after=None, rand=lambda: 0.0) == 0.0
    assert retry_wait(retry_index=3, retry_after=7.0, rand=lambda: 1.0) == 7.0


# --- the shared pools -------------------------------------------------------------------------


def test_sync_pool_shares_a_fixed_set_of_clients_per_base_url_across_threads():
    try:
        got: list[httpx.Client] = []
        barrier = threading.Barrier(pool.SHARDS * 2)

        def grab():
            barrier.wait()
            got.append(pool.sync_client(base_url="https://pool.test/v1"))

        threads = [threading.Thread(target=grab) for _ in range(pool.SHARDS * 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Threads share SHARDS clients, each handed out in turn (twice here).
        assert len({id(c) for c in got}) == pool.SHARDS
        assert pool.sync_client(base_url="https://pool.test/v1/") in got
        assert pool.sync_client(base_url="https://other.test/v1") not in got
    finally:
        pool.close_sync_clients()
    assert all(c.is_closed for c in got)
    assert pool.sync_client(base_url="https://pool.test/v1") not in got
    pool.close_sync_clients()


def test_async_pool_is_per_event_loop_and_spread_over_shards():
    async def grab() -> tuple[list[httpx.AsyncClient], httpx.AsyncClient]:
        same = [pool.async_client(base_url="https://pool.test/v1") for _ in range(pool.SHARDS * 2)]
        other = pool.async_client(base_url="https://other.test/v1")
        await pool.aclose_async_clients()
        return same, other

    first, first_other = asyncio.run(grab())
    second, _ = asyncio.run(grab())
    # One base URL reuses a fixed set of SHARDS clients, in turn.
    assert len({id(c) for c in first}) == pool.SHARDS
    assert first[0] is first[pool.SHARDS]
    assert first_other not in first
    # A new event loop never reuses the old loop's clients.
    assert not {id(c) for c in first} & {id(c) for c in second}


def test_calls_without_transport_use_the_shared_clients(monkeypatch):
    shared = httpx.Client(transport=Script("openai_chat", [ok, ok]).transport())
    monkeypatch.setattr(pool, "sync_client", lambda *, base_url: shared)
    assert providers.call(make_req()).ok
    assert not shared.is_closed  # a shared client outlives the call
    assert providers.call(make_req()).ok
    shared.close()

    async def run() -> bool:
        shared_async = Script("openai_chat", [ok, ok]).transport()
        closed = []
        shared_async.aclose = lambda: closed.append(1)  # a shared transport must stay open
        monkeypatch.setattr(pool, "async_transport", lambda *, base_url: shared_async)
        first = await providers.acall(make_req())
        second = await providers.acall(make_req())
        return first.ok and second.ok and not closed

    assert asyncio.run(run())


def test_async_pool_never_hands_out_a_client_of_another_loop():
    """id() of a collected loop can be reused by a new one; the entry must still be refused."""
    dead_loop = asyncio.new_event_loop()
    dead_loop.close()
    stale = httpx.AsyncClient()

    async def grab() -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
        loop = asyncio.get_running_loop()
        # As if the dead loop had had the same id() as this one.
        pool._async_clients[(id(loop), "https://pool.test/v1")] = (weakref.ref(dead_loop), stale)
        fresh = pool.async_client(base_url="https://pool.test/v1")
        await fresh.aclose()
        reopened = pool.async_client(base_url="https://pool.test/v1")  # a closed one is replaced
        await pool.aclose_async_clients()
        return fresh, reopened

    fresh, reopened = asyncio.run(grab())
    assert fresh is not stale
    assert reopened is not fresh
    assert all(key[1] != "https://pool.test/v1" for key in pool._async_clients)


def test_async_pool_forgets_clients_of_closed_loops():
    async def grab() -> None:
        pool.async_client(base_url="https://forgotten.test/v1")  # left open on purpose

    asyncio.run(grab())
    assert any(key[1] == "https://forgotten.test/v1" for key in pool._async_clients)
    asyncio.run(grab())  # a new client on a new loop drops the old loop's entry
    assert sum(key[1] == "https://forgotten.test/v1" for key in pool._async_clients) == 1
