"""OpenAI (and Azure OpenAI, and unknown OpenAI-compatible servers): dated snapshot ids."""

import re

from registry.pinning.base import (
    COMPACT_DATE,
    ISO_DATE,
    FloatingAliasError,
    is_month_day,
    strip_latest,
)

# Aliases that OpenAI moves to new snapshots without notice, with a pinned form to suggest.
ALIASES: dict[str, str] = {
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4-turbo": "gpt-4-turbo-2024-04-09",
    "gpt-4-turbo-preview": "gpt-4-0125-preview",
    "gpt-4": "gpt-4-0613",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "gpt-35-turbo": "gpt-35-turbo-0125",  # Azure's spelling
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-5": "gpt-5-2025-08-07",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "gpt-5-nano": "gpt-5-nano-2025-08-07",
    "o1": "o1-2024-12-17",
    "o1-mini": "o1-mini-2024-09-12",
    "o1-preview": "o1-preview-2024-09-12",
    "o3": "o3-2025-04-16",
    "o3-mini": "o3-mini-2025-01-31",
    "o4-mini": "o4-mini-2025-04-16",
    "chatgpt-4o": "gpt-4o-2024-08-06",
    "chat": "gpt-4o-2024-08-06",
    "gpt-5-chat": "gpt-5-2025-08-07",
    "codex-mini": "o4-mini-2025-04-16",
}

# `-YYYY-MM-DD`, or the older `-MMDD` (optionally `-preview`, `-vision-preview`): gpt-4-0613.
_MMDD = re.compile(r"-(\d{2})(\d{2})(?:-vision)?(?:-preview)?$")
# Fine-tuned models are immutable by construction: ft:<base>:<org>:<suffix>:<job id>.
_FINE_TUNE = re.compile(r"^ft:[^:\s]+:[^\s]*:[A-Za-z0-9]+$")


def is_pinned(model_id: str) -> bool:
    if _FINE_TUNE.match(model_id):
        return True
    if iso := ISO_DATE.search(model_id):
        return is_month_day(iso[2], iso[3])
    mmdd = _MMDD.search(model_id)
    return bool(mmdd and is_month_day(mmdd[1], mmdd[2]))


def suggest(model_id: str) -> str:
    """A pinned form in OpenAI's shape; an id that has a date already gets it reshaped."""
    base = strip_latest(model_id)
    if pinned := ALIASES.get(base.lower()):
        return pinned
    if compact := COMPACT_DATE.search(base):
        return f"{base[: compact.start()]}-{compact[1]}-{compact[2]}-{compact[3]}"
    if mmdd := _MMDD.search(base):  # four digits that are no month and day: replace, not append
        base = base[: mmdd.start()]
        if pinned := ALIASES.get(base.lower()):
            return pinned
    return f"{base or 'model'}-YYYY-MM-DD"


def check(model_id: str, *, azure: bool = False) -> None:
    lowered = model_id.lower()
    if lowered in ALIASES:
        raise FloatingAliasError(
            f"'{model_id}' is a floating alias the provider moves to new snapshots; pin a dated "
            f"snapshot such as '{ALIASES[lowered]}'." + (_AZURE_HINT if azure else "")
        )
    if is_pinned(model_id):
        return
    if azure:
        raise FloatingAliasError(
            f"'{model_id}' is an Azure OpenAI deployment name without the model version it "
            f"serves; name the deployment after its snapshot, e.g. '{suggest(model_id)}'."
            + _AZURE_HINT
        )
    raise FloatingAliasError(
        f"'{model_id}' has no dated snapshot suffix, so the provider may change it silently; pin "
        f"a snapshot such as '{suggest(model_id)}'."
    )


# On Azure the id is a deployment name: what runs is the deployment's model version.
_AZURE_HINT = (
    " On Azure OpenAI the id is your deployment name: set the deployment's version upgrade "
    "policy to 'No autoupgrade' so the name keeps meaning that snapshot."
)
