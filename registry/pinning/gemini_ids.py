"""Google Gemini (Gemini API and Vertex AI): stable `-00N` versions and dated previews.

Google documents four kinds of name: a stable version (`gemini-1.5-pro-002`), an auto-updated
alias (`gemini-1.5-pro`, `gemini-pro`, `*-latest`), a dated preview (`gemini-2.5-pro-preview-06-05`)
and experimental ids (`gemini-exp-1206`, `*-exp-*`) that Google may swap or withdraw at any time.
"""

import re

from registry.pinning.base import FloatingAliasError, is_date, is_month_day, strip_latest

ALIASES: dict[str, str] = {
    "gemini-pro": "gemini-1.0-pro-002",
    "gemini-1.0-pro": "gemini-1.0-pro-002",
    "gemini-pro-vision": "gemini-1.0-pro-vision-001",
    "gemini-1.5-pro": "gemini-1.5-pro-002",
    "gemini-1.5-flash": "gemini-1.5-flash-002",
    "gemini-1.5-flash-8b": "gemini-1.5-flash-8b-001",
    "gemini-2.0-flash": "gemini-2.0-flash-001",
    "gemini-2.0-flash-lite": "gemini-2.0-flash-lite-001",
    # The *-latest names track the newest generation, not the 1.0 "gemini-pro".
    "gemini-pro-latest": "gemini-2.5-pro",
    "gemini-flash-latest": "gemini-2.5-flash",
    "gemini-flash-lite-latest": "gemini-2.5-flash-lite",
}

# From Gemini 2.5 on, Google publishes the stable model under a dateless, versionless id and no
# `-00N` form exists (the moving names are `*-latest`). Extend when Google documents a new one.
STABLE_DATELESS = frozenset({"gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"})

_STABLE = re.compile(r"-\d{3}$")  # gemini-1.5-pro-002, text-embedding-004
_PREVIEW = re.compile(r"-preview-(\d{2})-(\d{2}|\d{4})$")  # -preview-06-05, -preview-09-2025
_OLD_PREVIEW = re.compile(r"-preview-(\d{2})(\d{2})$")  # Vertex's gemini-1.5-flash-preview-0514
_EXPERIMENTAL = re.compile(r"(?:^|-)exp(?:-|$)")
_VERSIONED_SUFFIX = re.compile(r"(?:-exp(?:-[\d-]+)?|-preview(?:-[\d-]+)?|-\d{3})$")


def _bare(model_id: str) -> str:
    # The Gemini API also lists models by resource name: models/gemini-1.5-pro-002.
    return re.sub(r"^(?:publishers/google/)?models/", "", model_id.lower())


def _preview_dated(model_id: str) -> bool:
    if m := _PREVIEW.search(model_id):
        first, second = m[1], m[2]
        if len(second) == 4:  # MM-YYYY
            return is_date(second, first, 1)
        return is_month_day(first, second)
    m = _OLD_PREVIEW.search(model_id)
    return bool(m and is_month_day(m[1], m[2]))


def suggest(model_id: str) -> str:
    if (bare := _bare(model_id)) in ALIASES:
        return ALIASES[bare]
    bare = strip_latest(bare)
    family = _VERSIONED_SUFFIX.sub("", bare)
    if bare in ALIASES:
        return ALIASES[bare]
    # Walk back to a family Google has a stable version of (gemini-2.0-flash-thinking ->
    # gemini-2.0-flash), rather than invent a '-001' that does not exist.
    while family:
        if family in ALIASES:
            return ALIASES[family]
        if family in STABLE_DATELESS:
            return family
        family = family.rpartition("-")[0]
    return "gemini-2.5-pro"


def check(model_id: str) -> None:
    bare = _bare(model_id)
    if _EXPERIMENTAL.search(bare):
        raise FloatingAliasError(
            f"'{model_id}' is an experimental Gemini model, which Google may swap or withdraw "
            f"without notice; pin a stable version such as '{suggest(model_id)}' (or a dated "
            "preview, e.g. 'gemini-2.5-pro-preview-06-05')."
        )
    if _STABLE.search(bare) or _preview_dated(bare) or bare in STABLE_DATELESS:
        return
    if bare.endswith("-preview") or "-preview-" in bare:
        why = "is a preview without a release date, which Google may swap"
    else:
        why = "is an auto-updated Gemini alias that Google moves to new stable versions"
    raise FloatingAliasError(
        f"'{model_id}' {why}; pin a stable version such as '{suggest(model_id)}' (a '-00N' "
        "suffix) or a dated preview."
    )
