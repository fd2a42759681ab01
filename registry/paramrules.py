"""Which parameters each model family takes, under which name: one pure module, read at save
time (a config is refused with the parameter named) and at call time (the client sends each
family's form and drops what the family refuses, so a candidate on a new family does not fail
every call because of a renamed parameter).

Parameters are named as in `ProviderCall.params`: OpenAI chat-completions names (the config's
temperature, max_tokens, response_format, json_schema, and the request's pass-through
parameters, traffic/passthrough.py).

Sources, so the rules can be re-checked when a vendor changes them:
- OpenAI, "Reasoning models" guide and the chat-completions API reference: the o-series (o1, o3,
  o4-mini...) and the gpt-5 family take `max_completion_tokens`; `max_tokens` is deprecated and
  "not compatible with o-series models". The o1 launch notes list as unsupported: temperature,
  top_p, presence_penalty, frequency_penalty, logprobs, top_logprobs, logit_bias. The API
  answers them with 400 "Unsupported parameter: 'temperature' is not supported with this
  model" (o3-mini) or "Only the default (1) value is supported" (o3, gpt-5).
- Anthropic, Messages API reference: `max_tokens` is required; temperature ranges 0.0-1.0;
  "You should either alter temperature or top_p, but not both" (Sonnet/Haiku 4.5 and Opus 4.1
  answer 400 "`temperature` and `top_p` cannot both be specified for this model"). Parameters
  the API does not define are refused, so only those it shares with OpenAI are sent.
Conservative on purpose: a rule is listed only where the vendor documents it or its API is
known to refuse; `n`, `seed`, `tools`, `parallel_tool_calls` are left alone for OpenAI.
"""

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class Family(StrEnum):
    # OpenAI's chat models before the reasoning series, and every OpenAI-compatible server
    # (vLLM, Ollama, gateways, the simulator): the classic names, sent as they are.
    CLASSIC = "classic"
    # OpenAI's reasoning models: max_completion_tokens, and no sampling parameters.
    REASONING = "reasoning"
    # Anthropic's Messages API, whatever the model.
    ANTHROPIC = "anthropic"


# o1, o1-mini, o3, o3-mini, o3-pro, o4-mini and their dated ids; gpt-5, gpt-5-mini, gpt-5-nano,
# gpt-5.1 ... but not gpt-5-chat-*, the non-reasoning chat model, which takes temperature.
# Only bare OpenAI ids match: a gateway that prefixes the vendor ("openai/o3-mini") translates
# parameters itself, and a self-hosted model named like this is not OpenAI's.
_REASONING = re.compile(r"^(o[134](-|$)|gpt-5(\.\d+)?(-|$))")
_NOT_REASONING = re.compile(r"^gpt-5(\.\d+)?-chat(-|$)")

REASONING_REFUSED: frozenset[str] = frozenset(
    {
        "temperature",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
    }
)
# What build_request in traffic/providers/anthropic_messages.py sends or translates; anything
# else (penalties, logit_bias, seed, n, tools in OpenAI's shape, response_format: the Messages
# API has no JSON mode) is not sent, and the call records it as dropped.
ANTHROPIC_SENT: frozenset[str] = frozenset(
    {"temperature", "top_p", "top_k", "stop_sequences", "metadata", "max_tokens", "stop"}
)
ANTHROPIC_MAX_TEMPERATURE = 1.0
# Not parameters of the API but of the call (set by the client itself): never "dropped".
_CALL_KEYS: frozenset[str] = frozenset({"stream"})


def family_of(model_id: str, api_style: str) -> Family:
    if api_style == "anthropic_messages":
        return Family.ANTHROPIC
    model = model_id.strip().lower()
    if _REASONING.match(model) and not _NOT_REASONING.match(model):
        return Family.REASONING
    return Family.CLASSIC


def config_problems(*, model_id: str, api_style: str, temperature: float | None) -> dict[str, str]:
    """What the config's model would refuse, by config field, each with the fix. Empty when
    the config is fine. max_tokens is never a problem, so it is not asked for: the client
    renames it for reasoning models and supplies Anthropic's required one when it is empty."""
    family = family_of(model_id, api_style)
    problems: dict[str, str] = {}
    if family is Family.REASONING and temperature is not None:
        problems["temperature"] = (
            f"{model_id} does not take a temperature (OpenAI reasoning models); leave it empty."
        )
    if (
        family is Family.ANTHROPIC
        and temperature is not None
        and temperature > ANTHROPIC_MAX_TEMPERATURE
    ):
        problems["temperature"] = (
            f"{model_id} takes a temperature from 0 to 1 (Anthropic's range, not OpenAI's 0 to "
            f"2); use at most 1, or leave it empty."
        )
    return problems


def request_params_for(
    family: Family, params: Mapping[str, Any]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """(what is sent, the names dropped, sorted) for one call's parameters. What is sent stays
    in our vocabulary (response_format is still translated by the style module), except the
    renames a family needs."""
    sent = dict(params)
    dropped: set[str] = set()
    if family is Family.REASONING:
        dropped = {name for name in sent if name in REASONING_REFUSED}
        if "max_tokens" in sent:
            limit = sent.pop("max_tokens")
            sent.setdefault("max_completion_tokens", limit)
    elif family is Family.ANTHROPIC:
        dropped = {name for name in sent if name not in ANTHROPIC_SENT | _CALL_KEYS}
        if "temperature" in sent and "top_p" in sent:
            # The config's temperature is what was reviewed and pinned; a request's top_p is
            # the one that gives way.
            dropped.add("top_p")
    for name in dropped:
        sent.pop(name, None)
    return sent, tuple(sorted(dropped))
