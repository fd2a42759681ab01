"""Pass-through parameters: what a request may set that no config pins, and how a call's
parameters are made from a config and a request.

The gateway forwards these to the served config's provider, the request log keeps them, and the
shadow run replays them on the other config: a request sent with `tools` is answered with those
tools by both, or the pair compares two different questions. Ingest accepts the same names in a
record's `params`, so an application that calls its provider itself gets faithful shadow runs
too.
"""

from collections.abc import Mapping
from typing import Any

# Forwarded by the gateway as the request sent them (OpenAI chat-completions names).
PASS_THROUGH: frozenset[str] = frozenset(
    {
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
)
# Pinned by a config when it sets one (json_object, json_schema); a request's own value is
# forwarded only when the config leaves the format open ("text", the default).
OPEN_WHEN_UNPINNED: frozenset[str] = frozenset({"response_format"})
# Meaningful only for the streamed call that carried it; a shadow run is never streamed, and a
# provider refuses stream_options without stream.
NOT_REPLAYED: frozenset[str] = frozenset({"stream_options"})
# What a request log keeps and a shadow run replays; also the names ingest accepts in `params`.
REPLAYED: frozenset[str] = (PASS_THROUGH | OPEN_WHEN_UNPINNED) - NOT_REPLAYED


def forwarded_params(
    *, request: Mapping[str, Any], config_params: Mapping[str, Any]
) -> dict[str, Any]:
    """The request's own parameters that go to the provider with the config's."""
    names = PASS_THROUGH | {n for n in OPEN_WHEN_UNPINNED if n not in config_params}
    return {name: request[name] for name in sorted(names) if name in request}


def replayed_params(forwarded: Mapping[str, Any]) -> dict[str, Any]:
    """What the request log keeps of the forwarded parameters, for the shadow run."""
    return {name: value for name, value in forwarded.items() if name in REPLAYED}


def call_params(
    *, config_params: Mapping[str, Any], request_params: Mapping[str, Any]
) -> dict[str, Any]:
    """A provider call's parameters: the request's, then the config's on top. A config's pin
    wins, so a shadow run on a config that pins a response format uses that format even where
    the served config left it open."""
    return {**request_params, **config_params}
