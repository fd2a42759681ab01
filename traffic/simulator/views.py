"""The simulator's OpenAI-compatible HTTP surface: chat completions (plain or SSE) and models.

Views are `async def` so a simulated delay is an `await asyncio.sleep`, not a parked thread.
Every response, including every error, is OpenAI-shaped JSON: clients under test see what they
would see from a real provider, never a Django error page.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from . import behaviours, judge, regressions
from .behaviours import BEHAVIOURS, Behaviour, Message, Prompt

logger = logging.getLogger(__name__)

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
RESPONSE_FORMATS = frozenset({"text", "json_object", "json_schema"})
SYSTEM_FINGERPRINT = "fp_rollout_desk_simulator"
OWNER = "rollout-desk-simulator"

View = Callable[..., Awaitable[HttpResponseBase]]


# --- Errors -----------------------------------------------------------------------------------


def error_response(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JsonResponse(body, status=status, headers=headers)


class BadRequest(Exception):
    """The request cannot be served; `param` names the offending field (None: the whole body)."""

    def __init__(self, message: str, param: str | None = None, code: str = "invalid_value"):
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


# What each simulated failure status looks like, modelled on OpenAI's own errors.
FAILURES: dict[int, tuple[str, str, str]] = {
    500: (
        "server_error",
        "server_error",
        "The server had an error while processing your request (simulated failure).",
    ),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for {model} (simulated). Please try again in 1s.",
    ),
    503: (
        "server_error",
        "overloaded",
        "The engine is currently overloaded, please try again later (simulated).",
    ),
}


def failure_response(model: str, status: int) -> JsonResponse:
    type_, code, message = FAILURES[status]
    # Retry-After is what well-behaved clients back off on; 503 carries it too (RFC 9110).
    headers = {"Retry-After": "1"} if status in (429, 503) else None
    return error_response(
        status, message.format(model=model), type_=type_, code=code, headers=headers
    )


# --- Parsing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatRequest:
    prompt: Prompt
    max_tokens: int | None
    stream: bool
    include_usage: bool


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def _load_body(raw: bytes) -> dict:
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise BadRequest("The request body is not valid UTF-8.", code="invalid_json") from None
    except RecursionError:
        raise BadRequest("The request body is nested too deeply.", code="invalid_json") from None
    except ValueError as exc:
        message = f"The request body is not valid JSON: {exc}"
        raise BadRequest(message, code="invalid_json") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.", code="invalid_json")
    return body


def _content(value: object, param: str) -> str:
    """A message's text: a string, or OpenAI's list of {"type": "text", "text": ...} parts."""
    if isinstance(value, list):
        texts = []
        for index, part in enumerate(value):
            if not (
                isinstance(part, dict)
                and part.get("type") == "text"
                and isinstance(part.get("text"), str)
            ):
                where = f"{param}[{index}]"
                raise BadRequest(f"'{where}' must be a text part of type 'text'.", where)
            texts.append(part["text"])
        value = "".join(texts)
    if not isinstance(value, str):
        raise BadRequest(f"'{param}' must be a string or a list of text parts.", param)
    if "\x00" in value:
        raise BadRequest(f"'{param}' must not contain NUL characters.", param)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # json.loads accepts lone surrogates ("\ud800"); no real text contains them.
        raise BadRequest(f"'{param}' contains an invalid Unicode surrogate.", param) from None
    return value


def _messages(value: object) -> tuple[Message, ...]:
    if value is None:
        raise BadRequest(
            "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
        )
    if not isinstance(value, list) or not value:
        raise BadRequest("'messages' must be a non-empty list of {role, content}.", "messages")
    parsed = []
    for index, item in enumerate(value):
        param = f"messages[{index}]"
        if not isinstance(item, dict):
            raise BadRequest(f"'{param}' must be an object with 'role' and 'content'.", param)
        role = item.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise BadRequest(
                f"'{param}.role' must be one of {', '.join(sorted(ROLES))}.", f"{param}.role"
            )
        content = item.get("content")
        if content is None and role == "assistant":
            content = ""  # an assistant turn that only made tool calls
        parsed.append(Message(role=role, content=_content(content, f"{param}.content")))
    return tuple(parsed)


def _response_format(value: object) -> str:
    if value is None:
        return "text"
    kind = value.get("type") if isinstance(value, dict) else None
    if kind not in RESPONSE_FORMATS:
        raise BadRequest(
            "'response_format' must be an object whose 'type' is one of "
            f"{', '.join(sorted(RESPONSE_FORMATS))}.",
            "response_format",
        )
    return kind


def _max_tokens(body: dict) -> int | None:
    # Newer OpenAI clients send max_completion_tokens; both mean the same here.
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadRequest(f"'{name}' must be a positive integer.", name)
        return value
    return None


def _check_optional(body: dict) -> None:
    temperature = body.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not 0 <= temperature <= 2
    ):
        raise BadRequest("'temperature' must be a number between 0 and 2.", "temperature")
    if not isinstance(body.get("stream", False), bool):
        raise BadRequest("'stream' must be true or false.", "stream")
    if not isinstance(body.get("user", ""), str):
        raise BadRequest("'user' must be a string.", "user")
    options = body.get("stream_options")
    if options is not None and not (
        isinstance(options, dict) and isinstance(options.get("include_usage", False), bool)
    ):
        raise BadRequest(
            "'stream_options' must be an object like {\"include_usage\": true}.", "stream_options"
        )


def parse_chat_request(raw: bytes) -> ChatRequest:
    """Validate an OpenAI chat-completions body; raises BadRequest naming the first bad field."""
    body = _load_body(raw)
    model = body.get("model")
    if model is None:
        missing = "missing_required_parameter"
        raise BadRequest("Missing required parameter: 'model'.", "model", missing)
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("'model' must be a non-empty string.", "model")
    messages = _messages(body.get("messages"))
    response_format = _response_format(body.get("response_format"))
    max_tokens = _max_tokens(body)
    _check_optional(body)
    stream = body.get("stream") is True
    include_usage = stream and (body.get("stream_options") or {}).get("include_usage") is True
    return ChatRequest(
        prompt=Prompt(model=model, messages=messages, response_format=response_format),
        max_tokens=max_tokens,
        stream=stream,
        include_usage=include_usage,
    )


# --- Responses --------------------------------------------------------------------------------


def _envelope(prompt: Prompt, kind: str) -> dict:
    return {
        "id": behaviours.completion_id(prompt),
        "object": kind,
        "created": behaviours.model_created(prompt.model),
        "model": prompt.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def usage(prompt: Prompt, content: str) -> dict[str, int]:
    prompt_tokens = sum(behaviours.count_tokens(m.content) for m in prompt.messages)
    completion_tokens = behaviours.count_tokens(content)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def completion(prompt: Prompt, content: str, finish_reason: str) -> dict:
    return {
        **_envelope(prompt, "chat.completion"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": usage(prompt, content),
    }


def chunks(chat: ChatRequest, content: str, finish_reason: str) -> list[dict]:
    """The chat.completion.chunk objects whose deltas concatenate to `content`."""
    envelope = _envelope(chat.prompt, "chat.completion.chunk")

    def chunk(delta: dict, finish: str | None = None) -> dict:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**envelope, "choices": [choice]}

    result = [chunk({"role": "assistant", "content": ""})]
    result += [chunk({"content": piece}) for piece in behaviours.pieces(content)]
    result.append(chunk({}, finish_reason))
    if chat.include_usage:
        result.append({**envelope, "choices": [], "usage": usage(chat.prompt, content)})
    return result


async def _sse(events: list[dict]) -> AsyncIterator[bytes]:
    for event in events:
        yield f"data: {json.dumps(event)}\n\n".encode()
        await asyncio.sleep(0)  # let other requests run between chunks, like a real stream
    yield b"data: [DONE]\n\n"


def _latency_scale() -> float:
    scale = float(getattr(settings, "SIMULATOR_LATENCY_SCALE", 1.0))
    return scale if scale > 0 else 0.0  # also turns NaN into 0


# --- Views ------------------------------------------------------------------------------------


def simulator_endpoint(view: View) -> View:
    """Off unless SIMULATOR_ENABLED; CSRF-exempt (API clients have no cookie); never an HTML 500."""

    @wraps(view)
    async def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        # Read per request so tests (and a settings change) take effect without a restart.
        if not getattr(settings, "SIMULATOR_ENABLED", False):
            return error_response(
                404,
                "The LLM simulator is disabled. Set SIMULATOR_ENABLED=true to use it.",
                code="simulator_disabled",
            )
        try:
            return await view(request, *args, **kwargs)
        except Exception:
            logger.exception("simulator bug on %s", request.path)
            return error_response(
                500,
                "The simulator failed unexpectedly (a bug in the simulator, not a simulated "
                "failure).",
                type_="server_error",
                code="simulator_bug",
            )

    return csrf_exempt(wrapper)


def _method_not_allowed(request: HttpRequest, allowed: str) -> JsonResponse:
    return error_response(
        405,
        f"Method {request.method} is not allowed here; use {allowed}.",
        code="method_not_allowed",
        headers={"Allow": allowed},
    )


def _unknown_model(model: str) -> JsonResponse:
    shown = model if len(model) <= 100 else model[:100] + "..."
    return error_response(
        404,
        f"The model `{shown}` does not exist or you do not have access to it.",
        code="model_not_found",
        param="model",
    )


@simulator_endpoint
async def chat_completions(request: HttpRequest) -> HttpResponseBase:
    if request.method != "POST":
        return _method_not_allowed(request, "POST")
    try:
        chat = parse_chat_request(request.body)
    except RequestDataTooBig:
        return error_response(413, "The request body is too large.", code="request_too_large")
    except BadRequest as exc:
        return error_response(400, exc.message, code=exc.code, param=exc.param)
    prompt = chat.prompt
    behaviour: Behaviour | None = BEHAVIOURS.get(prompt.model)
    if behaviour is None:
        return _unknown_model(prompt.model)
    # A staged regression switched on (manage.py simulator_regression) changes the behaviour,
    # not the shape of the answers: its failures look like any provider's 5xx.
    behaviour = regressions.applied(behaviour, await regressions.regression_for(prompt.model))

    delay = behaviours.latency_ms(prompt, behaviour) * _latency_scale() / 1000
    if delay:
        await asyncio.sleep(delay)
    if behaviours.fails(prompt, behaviour):
        return failure_response(prompt.model, behaviour.failure_status)

    # Rollout Desk's judge prompts get a judge's answer (judge.py), every other prompt a reply.
    respond = judge.answer if judge.is_judge_prompt(prompt) else behaviours.answer
    content, finish_reason = behaviours.truncate(respond(prompt, behaviour), chat.max_tokens)
    if chat.stream:
        response = StreamingHttpResponse(
            _sse(chunks(chat, content, finish_reason)), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx would otherwise hold the stream back
        return response
    return JsonResponse(completion(prompt, content, finish_reason))


def _model_object(model_id: str) -> dict:
    return {
        "id": model_id,
        "object": "model",
        "created": behaviours.model_created(model_id),
        "owned_by": OWNER,
    }


@simulator_endpoint
async def models(request: HttpRequest) -> HttpResponseBase:
    if request.method != "GET":
        return _method_not_allowed(request, "GET")
    return JsonResponse({"object": "list", "data": [_model_object(m) for m in BEHAVIOURS]})


@simulator_endpoint
async def model_detail(request: HttpRequest, model_id: str) -> HttpResponseBase:
    if request.method != "GET":
        return _method_not_allowed(request, "GET")
    if model_id not in BEHAVIOURS:
        return _unknown_model(model_id)
    return JsonResponse(_model_object(model_id))


@simulator_endpoint
async def not_found(request: HttpRequest, path: str = "") -> HttpResponseBase:
    return error_response(
        404, f"Unknown simulator endpoint: {request.path}", code="unknown_url", param=None
    )
