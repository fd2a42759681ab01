"""Is a model id pinned to one immutable snapshot, or a floating alias the provider may move?

`check_pinned` is the single rule used by forms, the admin, services and the API. It refuses with
an error that names the alias and shows a pinned form to use instead.
"""

import re
from dataclasses import dataclass

# Aliases that vendors move to new snapshots without notice, with a pinned form to suggest.
FLOATING_ALIASES: dict[str, str] = {
    # OpenAI
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4-turbo": "gpt-4-turbo-2024-04-09",
    "gpt-4": "gpt-4-0613",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-5": "gpt-5-2025-08-07",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "gpt-5-nano": "gpt-5-nano-2025-08-07",
    "o1": "o1-2024-12-17",
    "o1-mini": "o1-mini-2024-09-12",
    "o3": "o3-2025-04-16",
    "o3-mini": "o3-mini-2025-01-31",
    "o4-mini": "o4-mini-2025-04-16",
    "chatgpt-4o-latest": "gpt-4o-2024-08-06",
    "chat-latest": "gpt-4o-2024-08-06",
    "gpt-5-chat-latest": "gpt-5-2025-08-07",
    # Anthropic
    "claude-3-5-sonnet-latest": "claude-3-5-sonnet-20241022",
    "claude-3-5-haiku-latest": "claude-3-5-haiku-20241022",
    "claude-3-7-sonnet-latest": "claude-3-7-sonnet-20250219",
    "claude-3-opus-latest": "claude-3-opus-20240229",
    "claude-sonnet-4-0": "claude-sonnet-4-20250514",
    "claude-opus-4-0": "claude-opus-4-20250514",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-opus-4-5": "claude-opus-4-5-20251101",
}

# Dateless ids that Anthropic documents as pinned snapshots (from the 4.6 generation on, the
# dateless id *is* the snapshot). Extend this set when Anthropic documents a new one.
ANTHROPIC_DATELESS_SNAPSHOTS = frozenset(
    {"claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-4-7", "claude-opus-4-8"}
)

# OpenAI snapshots: `-YYYY-MM-DD`, or the older `-MMDD` (optionally `-preview`), e.g. gpt-4-0613.
_OPENAI_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{4}(-preview)?)$")
# Fine-tuned models are immutable by construction: ft:<base>:<org>:<suffix>:<job id>.
_OPENAI_FINE_TUNE = re.compile(r"^ft:[^:\s]+:[^\s]*:[A-Za-z0-9]+$")
# Anthropic snapshots end in a compact date: claude-sonnet-4-5-20250929.
_ANTHROPIC_SNAPSHOT = re.compile(r"-\d{8}$")
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")


class FloatingAliasError(ValueError):
    """The model id names a moving target; the message says what to pin instead."""


@dataclass(frozen=True)
class PinningContext:
    api_style: str  # "openai_chat" or "anthropic_messages"
    self_hosted: bool = False
    weights_revision: str = ""


def _suggest(model_id: str, style: str) -> str:
    if model_id.lower() in FLOATING_ALIASES:
        return FLOATING_ALIASES[model_id.lower()]
    base = re.sub(r"[-_.]?latest$", "", model_id, flags=re.IGNORECASE) or "model"
    return f"{base}-YYYYMMDD" if style == "anthropic_messages" else f"{base}-YYYY-MM-DD"


def check_pinned(model_id: str, ctx: PinningContext) -> None:
    """Raise FloatingAliasError unless `model_id` names one immutable model snapshot.

    1. Any id containing "latest" floats, whoever hosts it.
    2. A self-hosted server names models freely, so the id proves nothing: the weights revision
       (a git commit or a content digest) is what pins it and must be recorded.
    3. Known vendor aliases float (gpt-4o, claude-opus-4-1, ...).
    4. Otherwise the vendor's snapshot form is required: a dated suffix for OpenAI (or a
       fine-tune id), a YYYYMMDD suffix for Anthropic or one of its documented dateless snapshots.
    """
    if not model_id or not _MODEL_ID.match(model_id):
        raise FloatingAliasError(
            f"Model id {model_id!r} is not a provider model id: use letters, digits and . _ - : / "
            "with no spaces, e.g. 'gpt-4o-2024-08-06'."
        )
    lowered = model_id.lower()
    if "latest" in lowered:
        raise FloatingAliasError(
            f"'{model_id}' is a floating alias (it contains 'latest'); pin a dated snapshot "
            f"such as '{_suggest(model_id, ctx.api_style)}'."
        )
    if ctx.self_hosted:
        if not ctx.weights_revision.strip():
            raise FloatingAliasError(
                f"'{model_id}' is served by a self-hosted server, where names are arbitrary: "
                "record the weights revision (a commit or sha256 digest) that pins it."
            )
        return
    if lowered in FLOATING_ALIASES:
        raise FloatingAliasError(
            f"'{model_id}' is a floating alias the provider moves to new snapshots; pin a dated "
            f"snapshot such as '{FLOATING_ALIASES[lowered]}'."
        )
    if ctx.api_style == "anthropic_messages":
        if _ANTHROPIC_SNAPSHOT.search(model_id) or lowered in ANTHROPIC_DATELESS_SNAPSHOTS:
            return
        raise FloatingAliasError(
            f"'{model_id}' has no snapshot date; Anthropic pins versions as dated ids such as "
            f"'{_suggest(model_id, ctx.api_style)}' (or a dateless id Anthropic documents as a "
            "snapshot)."
        )
    if _OPENAI_SNAPSHOT.search(model_id) or _OPENAI_FINE_TUNE.match(model_id):
        return
    raise FloatingAliasError(
        f"'{model_id}' has no dated snapshot suffix, so the provider may change it silently; pin "
        f"a snapshot such as '{_suggest(model_id, ctx.api_style)}'."
    )
