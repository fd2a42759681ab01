"""Turning a config and a request into the call a provider receives."""

from collections.abc import Mapping
from typing import Any

from traffic.assignment import ConfigView
from traffic.passthrough import call_params
from traffic.providers import ProviderCall


class _Keep(dict):
    # A variable the request did not supply stays visible as {name} rather than failing the call.
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_messages(config: ConfigView, messages: list[dict], variables: dict) -> list[dict]:
    """The config's system prompt (with variables filled in) followed by the conversation.

    The application's own system messages are replaced: the system prompt is part of what a
    config pins, and a shadow run must use the other config's prompt, not the served one's.
    """
    if not config.system_prompt:
        return messages
    system = config.system_prompt.format_map(_Keep({k: str(v) for k, v in variables.items()}))
    return [{"role": "system", "content": system}] + [
        m for m in messages if m.get("role") != "system"
    ]


def provider_call(
    config: ConfigView,
    *,
    messages: list[dict],
    variables: dict,
    request_params: Mapping[str, Any],
) -> ProviderCall:
    """The one way a config and a request become a provider call: the gateway's served call,
    the shadow run and a replay build it here, so the three cannot drift apart."""
    return ProviderCall(
        api_style=config.provider.api_style,
        base_url=config.provider.base_url,
        api_key_env=config.provider.api_key_env,
        timeout=config.provider.timeout,
        model_id=config.model_id,
        messages=render_messages(config, messages, variables),
        params=call_params(config_params=config.params, request_params=request_params),
    )
