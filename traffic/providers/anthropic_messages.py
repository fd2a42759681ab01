"""Anthropic's Messages API, translated to and from the OpenAI chat shape the rest of Rollout Desk
speaks, so a comparison of two models does not depend on who hosts them."""

import json
import time

from registry.paramrules import Family, request_params_for
from traffic.providers.base import Answer, BadResponse, ProviderCall, clean_params, optional_int

API_VERSION = "2023-06-01"
# Anthropic refuses a request without max_tokens (OpenAI has no such rule). A config without
# one still runs, capped here rather than refused at save time: configs written for OpenAI and
# calls ingested without a config limit must not fail every Anthropic call, and a capped answer
# shows as finish_reason "length" on the pair, where a reviewer sees it.
DEFAULT_MAX_TOKENS = 1024

# Anthropic's stop reasons in OpenAI's vocabulary. Unknown future reasons pass through unchanged
# rather than being guessed.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# Sampling parameters with the same meaning in both APIs. Anything else in params (e.g.
# presence_penalty) has no Anthropic equivalent, and the API refuses unknown fields:
# registry/paramrules.py drops it (and top_p beside a temperature) and the call records it.
_SAME_NAME = ("temperature", "top_p", "top_k", "stop_sequences", "metadata")


def build_request(*, req: ProviderCall, api_key: str) -> tuple[str, dict[str, str], dict]:
    url = req.base_url.rstrip("/") + "/messages"
    headers = {"anthropic-version": API_VERSION}
    if api_key:
        headers["x-api-key"] = api_key
    params, _ = request_params_for(Family.ANTHROPIC, clean_params(req.params))
    system = "\n\n".join(_text(m.get("content")) for m in req.messages if m["role"] == "system")
    body: dict = {
        "model": req.model_id,
        "messages": [
            {"role": m["role"], "content": m.get("content")}
            for m in req.messages
            if m["role"] != "system"
        ],
        "max_tokens": params.get("max_tokens") or DEFAULT_MAX_TOKENS,
    }
    if system:
        body["system"] = system
    body.update({k: params[k] for k in _SAME_NAME if k in params})
    if "stop" in params and "stop_sequences" not in params:
        stop = params["stop"]
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    # response_format / json_schema are not sent: the Messages API has no JSON mode, so the
    # config's prompt must ask for JSON, and the evaluation checks the output against the schema.
    return url, headers, body


def parse_answer(data: dict, *, model_id: str) -> Answer:
    if data.get("type") == "error":
        raise BadResponse("the answer is an error object")
    blocks = data.get("content")
    if not isinstance(blocks, list):
        raise BadResponse("no content blocks in the answer")
    texts: list[str] = []
    tool_calls: list[dict] = []
    for block in blocks:
        if not isinstance(block, dict):
            raise BadResponse("a content block is not an object")
        if block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_use":
            tool_calls.append(
                {
                    "id": block.get("id", ""),
                    "type": "function",
                    "function": {
                        "name": block["name"],
                        "arguments": json.dumps(block.get("input", {})),
                    },
                }
            )
    stop_reason = data.get("stop_reason")
    finish_reason = (
        FINISH_REASONS.get(stop_reason, stop_reason) if isinstance(stop_reason, str) else None
    ) or None
    usage = data["usage"] if isinstance(data.get("usage"), dict) else {}
    prompt_tokens = optional_int(usage.get("input_tokens"))
    completion_tokens = optional_int(usage.get("output_tokens"))
    output = "".join(texts)
    message: dict = {"role": "assistant", "content": output if output or not tool_calls else None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    body = {
        "id": data.get("id", ""),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": data.get("model") or model_id,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": (prompt_tokens or 0) + (completion_tokens or 0)
            if prompt_tokens is not None or completion_tokens is not None
            else None,
        },
    }
    return Answer(
        output=output,
        finish_reason=finish_reason,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        tool_calls=tool_calls,
        body=body,
    )


def _text(content: object) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)
