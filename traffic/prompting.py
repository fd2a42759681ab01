"""Turning a config and a request into the messages a provider receives."""

from traffic.assignment import ConfigView


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
