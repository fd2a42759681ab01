"""Anthropic: first-party dated ids, and the same snapshots as Bedrock and Vertex AI name them.

first party  claude-sonnet-4-5-20250929
Bedrock      anthropic.claude-sonnet-4-5-20250929-v1:0   (cross-region: us./eu./apac./global.)
Vertex AI    claude-sonnet-4-5@20250929
"""

import re
from dataclasses import dataclass

from registry.pinning.base import (
    COMPACT_DATE,
    ISO_DATE,
    FloatingAliasError,
    is_date,
    strip_latest,
)

# Aliases Anthropic moves to new snapshots, with the snapshot to suggest.
ALIASES: dict[str, str] = {
    "claude-3-5-sonnet": "claude-3-5-sonnet-20241022",
    "claude-3-5-haiku": "claude-3-5-haiku-20241022",
    "claude-3-7-sonnet": "claude-3-7-sonnet-20250219",
    "claude-3-opus": "claude-3-opus-20240229",
    "claude-3-haiku": "claude-3-haiku-20240307",
    "claude-sonnet-4": "claude-sonnet-4-20250514",
    "claude-sonnet-4-0": "claude-sonnet-4-20250514",
    "claude-opus-4": "claude-opus-4-20250514",
    "claude-opus-4-0": "claude-opus-4-20250514",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-opus-4-5": "claude-opus-4-5-20251101",
}

# Dateless ids that Anthropic documents as pinned snapshots (from the 4.6 generation on, the
# dateless id *is* the snapshot). Extend this set when Anthropic documents a new one.
DATELESS_SNAPSHOTS = frozenset(
    {"claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-4-7", "claude-opus-4-8"}
)

# Where a platform's name for a snapshot is not the mechanical one (3.5 Sonnet's second release).
_VERTEX_NAMES = {("claude-3-5-sonnet", "20241022"): "claude-3-5-sonnet-v2"}
_BEDROCK_VERSIONS = {("claude-3-5-sonnet", "20241022"): "-v2:0"}

_BEDROCK = re.compile(
    r"^(?P<geo>(?:[a-z]{2,6}(?:-gov)?\.)?)anthropic\.(?P<core>claude-.+?)(?P<ver>-v\d+(?::\d+)?)?$"
)
_VERTEX = re.compile(r"^(?P<name>claude-[^@]+)@(?P<date>[^@]*)$")
_FORM_LABELS = {
    "first_party": "Anthropic's API",
    "bedrock": "Amazon Bedrock",
    "vertex": "Vertex AI",
}


def is_bedrock_shape(model_id: str) -> bool:
    return bool(_BEDROCK.match(model_id.lower()))


@dataclass(frozen=True)
class _Parsed:
    form: str  # first_party, bedrock or vertex
    name: str  # the dateless first-party name, e.g. claude-sonnet-4-5
    date: str  # YYYYMMDD when the id carries a valid one, else ""
    geo: str = ""  # Bedrock cross-region prefix, e.g. "us."
    ver: str = ""  # Bedrock version suffix, e.g. "-v1:0"
    problem: str = ""  # why the id's own date is not a snapshot date


def _split_date(core: str) -> tuple[str, str, str]:
    """(name, YYYYMMDD, problem) of a first-party id; ISO dates are recognised, not accepted."""
    if m := COMPACT_DATE.search(core):
        ok = is_date(m[1], m[2], m[3])
        return core[: m.start()], m[1] + m[2] + m[3] if ok else "", "" if ok else "bad date"
    if m := ISO_DATE.search(core):
        return core[: m.start()], "", "iso:" + m[1] + m[2] + m[3]
    return core, "", ""


def _parse(model_id: str) -> _Parsed:
    lowered = strip_latest(model_id.lower())
    if m := _BEDROCK.match(lowered):
        name, found, problem = _split_date(m["core"])
        return _Parsed("bedrock", name, found, m["geo"], m["ver"] or "", problem)
    if m := _VERTEX.match(lowered):
        name, inner, inner_problem = _split_date(m["name"])
        vertex_date = m["date"]
        if inner or inner_problem:
            return _Parsed("vertex", re.sub(r"-v\d+$", "", name), inner, problem="date twice")
        ok = bool(re.fullmatch(r"\d{8}", vertex_date)) and is_date(
            vertex_date[:4], vertex_date[4:6], vertex_date[6:]
        )
        return _Parsed("vertex", re.sub(r"-v\d+$", "", name), vertex_date if ok else "", problem="")
    name, found, problem = _split_date(lowered)
    return _Parsed("first_party", name, found, problem=problem)


def _render(parsed: _Parsed, form: str) -> str:
    name, found = parsed.name, parsed.date
    if not found and parsed.problem.startswith("iso:"):
        found = parsed.problem[4:]
    if not found and name not in DATELESS_SNAPSHOTS:
        pinned = ALIASES.get(name)
        if pinned:
            name, found = pinned[:-9], pinned[-8:]
    if form == "vertex":
        if not found:
            return name if name in DATELESS_SNAPSHOTS else f"{name}@YYYYMMDD"
        return f"{_VERTEX_NAMES.get((name, found), name)}@{found}"
    if form == "bedrock":
        ver = parsed.ver or _BEDROCK_VERSIONS.get((name, found), "-v1:0")
        dated = f"{name}-{found}" if found else name
        if not found and name not in DATELESS_SNAPSHOTS:
            dated = f"{name}-YYYYMMDD"
        return f"{parsed.geo}anthropic.{dated}{ver}"
    if not found:
        return name if name in DATELESS_SNAPSHOTS else f"{name}-YYYYMMDD"
    return f"{name}-{found}"


def suggest(model_id: str, *, host_form: str = "") -> str:
    parsed = _parse(model_id)
    return _render(parsed, host_form or parsed.form)


def check(model_id: str, *, host_form: str = "") -> None:
    """`host_form` is the form the provider's host expects ("" when the host is unknown)."""
    parsed = _parse(model_id)
    want = host_form or parsed.form
    pinned = bool(parsed.date) or (parsed.name in DATELESS_SNAPSHOTS and not parsed.problem)
    if parsed.problem == "date twice":
        raise FloatingAliasError(
            f"'{model_id}' carries a snapshot date twice; Vertex AI names Anthropic snapshots as "
            f"'<model>@YYYYMMDD', e.g. '{_render(parsed, want)}'."
        )
    if not pinned:
        if parsed.problem.startswith("iso:") or parsed.problem == "bad date":
            why = "has no snapshot date in Anthropic's form (YYYYMMDD)"
        elif parsed.name in ALIASES:
            why = "is a floating alias the provider moves to new snapshots"
        else:
            why = "has no snapshot date"
        raise FloatingAliasError(
            f"'{model_id}' {why}; {_FORM_LABELS[want]} pins versions as ids such as "
            f"'{_render(parsed, want)}' (or a dateless id Anthropic documents as a snapshot)."
        )
    if parsed.form == "bedrock" and not parsed.ver:
        raise FloatingAliasError(
            f"'{model_id}' lacks Bedrock's version suffix; Bedrock names this snapshot "
            f"'{_render(parsed, 'bedrock')}' (check the suffix in the Bedrock model catalog)."
        )
    # A dateless snapshot has one name everywhere it is served (Bedrock adds its suffix).
    if parsed.form != want and _render(parsed, want) != model_id.lower():
        raise FloatingAliasError(
            f"'{model_id}' is how {_FORM_LABELS[parsed.form]} names this snapshot, but this "
            f"provider is {_FORM_LABELS[want]}, which names it '{_render(parsed, want)}'."
        )
