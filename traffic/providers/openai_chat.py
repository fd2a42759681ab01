"""OpenAI-compatible chat completions: OpenAI itself and the servers that copy its API (vLLM,
Ollama, most gateways). The answer is already in the normalised shape, so it is kept as is."""

from registry.paramrules import family_of, request_params_for
from traffic.providers.base import Answer, BadResponse, ProviderCall, clean_params, optional_int

# Keys of ProviderCall.params that are ours, not the API's: they are translated, never sent.
_TRANSLATED = ("response_format", "json_schema", "stream")


def build_request(
    *, req: ProviderCall, api_key: str, stream: bool = False
) -> tuple[str, dict[str, str], dict]:
    """URL, headers and JSON body of one chat completion request, in the model family's form
    (registry/paramrules.py: a reasoning model gets max_completion_tokens and none of the
    sampling parameters it refuses; `dropped_params` says which were left out)."""
    url = req.base_url.rstrip("/") + "/chat/completions"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    params, _ = request_params_for(family_of(req.model_id, req.api_style), clean_params(req.params))
    body = {k: v for k, v in params.items() if k not in _TRANSLATED}
    response_format = params.get("response_format")
    if response_format == "json_object":
        body["response_format"] = {"type": "json_object"}
    elif response_format == "json_schema":
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": params.get("json_schema") or {}},
        }
    elif isinstance(response_format, dict):
        # The request's own, forwarded where the config leaves the format open: as it came.
        body["response_format"] = response_format
    body["model"] = req.model_id
    body["messages"] = req.messages
    if stream:
        body["stream"] = True
    return url, headers, body


def parse_answer(data: dict, *, model_id: str) -> Answer:
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise BadResponse("no choices in the answer")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        raise BadResponse("the first choice has no message")
    finish_reason = choice.get("finish_reason")
    tool_calls = message.get("tool_calls") or []
    if not isinstance(tool_calls, list):
        raise BadResponse("message.tool_calls is not a list")
    if not tool_calls and isinstance(message.get("function_call"), dict):
        # The pre-tools API: one function call, reported with its own finish reason.
        tool_calls = [{"id": "", "type": "function", "function": message["function_call"]}]
        finish_reason = "tool_calls" if finish_reason == "function_call" else finish_reason
    usage = data["usage"] if isinstance(data.get("usage"), dict) else {}
    return Answer(
        output=_text(message.get("content")),
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        prompt_tokens=optional_int(usage.get("prompt_tokens")),
        completion_tokens=optional_int(usage.get("completion_tokens")),
        tool_calls=tool_calls,
        body=data,
    )


def _text(content: object) -> str:
    """Content is a string, null (tool calls only), or on some compatible servers a list of
    text parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    raise BadResponse("message.content is neither text nor a list of parts")
