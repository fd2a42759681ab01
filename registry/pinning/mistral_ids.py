"""Mistral: snapshots end in `-YYMM` (mistral-large-2411); `*-latest` moves."""

import re

from registry.pinning.base import COMPACT_DATE, ISO_DATE, FloatingAliasError, strip_latest

ALIASES: dict[str, str] = {
    "mistral-large": "mistral-large-2411",
    "mistral-medium": "mistral-medium-2505",
    "mistral-small": "mistral-small-2503",
    "mistral-tiny": "open-mistral-nemo-2407",
    "codestral": "codestral-2501",
    "ministral-3b": "ministral-3b-2410",
    "ministral-8b": "ministral-8b-2410",
    "pixtral-12b": "pixtral-12b-2409",
    "pixtral-large": "pixtral-large-2411",
    "mistral-saba": "mistral-saba-2502",
    "mistral-embed": "mistral-embed-2312",
    "mistral-moderation": "mistral-moderation-2411",
    "mistral-ocr": "mistral-ocr-2505",
    "magistral-medium": "magistral-medium-2506",
    "magistral-small": "magistral-small-2506",
    "devstral-small": "devstral-small-2507",
    "devstral-medium": "devstral-medium-2507",
    "open-mistral-nemo": "open-mistral-nemo-2407",
}

FAMILY = re.compile(
    r"^(?:open-)?(?:mistral|mixtral|codestral|ministral|pixtral|magistral|devstral|voxtral)(?:-|$)"
)
_YYMM = re.compile(r"-(\d{2})(\d{2})$")


def _is_yymm(year: str, month: str) -> bool:
    # Mistral's first API models date from late 2023.
    return 23 <= int(year) <= 99 and 1 <= int(month) <= 12


def suggest(model_id: str) -> str:
    base = strip_latest(model_id.lower())
    if iso := ISO_DATE.search(base) or COMPACT_DATE.search(base):
        return f"{base[: iso.start()]}-{iso[1][2:]}{iso[2]}"
    if (m := _YYMM.search(base)) and not _is_yymm(m[1], m[2]):
        base = base[: m.start()]
    return ALIASES.get(base, f"{base or 'mistral-large'}-YYMM")


def check(model_id: str) -> None:
    lowered = model_id.lower()
    if (m := _YYMM.search(lowered)) and _is_yymm(m[1], m[2]):
        return
    why = "is a floating alias the provider moves" if lowered in ALIASES else "has no -YYMM suffix"
    raise FloatingAliasError(
        f"'{model_id}' {why}; Mistral pins versions as '<model>-YYMM' ids such as "
        f"'{suggest(model_id)}'."
    )
