"""Reading a model catalog in the format of LiteLLM's community-kept
`model_prices_and_context_window.json` (applied by registry/catalog.py).

The format: one JSON object, model name -> details (`input_cost_per_token`,
`output_cost_per_token`, `max_input_tokens`, `max_tokens`, `max_output_tokens`,
`deprecation_date` "YYYY-MM-DD", `litellm_provider`, `mode`, ...), plus a `sample_spec` entry that
documents the fields and is not a model. Names carry the route LiteLLM calls them through
(`azure/`, `bedrock/`, `vertex_ai/`, `openrouter/<vendor>/`, Bedrock's `anthropic.<id>-v1:0`):
`name_forms` says which bare ids a name may stand for.

`catalog_parse(text)` (pure) reads the file: a malformed entry (a cost that is not a number,
a date that is not YYYY-MM-DD) is reported by key and field and skipped whole, so one bad entry
never blocks the others, and a half-read entry is never applied.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

PER_MILLION = Decimal(1_000_000)
PRICE_STEP = Decimal("0.0001")  # ModelVersion's prices keep 4 decimal places
PRICE_MAX = Decimal("99999999.9999")
INT_MAX = 2_147_483_647  # PositiveIntegerField on PostgreSQL
IGNORED_KEYS = frozenset({"sample_spec"})

# Routes LiteLLM writes before a vendor's own id (registry/catalog.py knows the provider hosts
# each belongs to).
_ROUTE = re.compile(
    r"^(?P<route>azure_ai|azure|bedrock(?:/converse)?(?:/[a-z]{2}(?:-gov)?-[a-z]+-\d)?|"
    r"vertex_ai_beta|vertex_ai|gemini|anthropic|openai|mistral|openrouter/[a-z0-9_.-]+)/"
)
# Bedrock's cross-region inference profiles (us.anthropic...) and its Anthropic form.
_BEDROCK_REGION = re.compile(r"^(?:us|eu|apac|global|us-gov)\.(?=anthropic\.)")
_BEDROCK_ANTHROPIC = re.compile(r"^anthropic\.(?P<id>.+?)-v\d+(?::\d+)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FIELDS = ("input_price", "output_price", "context_window", "max_output_tokens", "deprecates")


class CatalogError(ValueError):
    """The catalog as a whole cannot be used; the message says why and what to give instead."""


@dataclass(frozen=True)
class Problem:
    key: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.key}.{self.field}" if self.field else self.key
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Entry:
    key: str
    values: dict[str, Any]  # only the FIELDS the entry gives


@dataclass
class Catalog:
    entries: dict[str, Entry]
    problems: list[Problem] = field(default_factory=list)


# --- parsing (pure) ---------------------------------------------------------------------------


def _price(raw: Any) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal):
        raise ValueError(f"must be a number (USD per token), got {raw!r}")
    bounds = f"outside 0 to {PRICE_MAX} USD per 1M tokens"
    try:
        price = (Decimal(raw) * PER_MILLION).quantize(PRICE_STEP, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # 1e400: more digits than the 4 places can be rounded to
        raise ValueError(f"{str(raw)[:40]} per token is {bounds}") from None
    if price < 0 or price > PRICE_MAX:
        raise ValueError(f"{raw} per token is outside 0 to {PRICE_MAX} USD per 1M tokens")
    return price


def _tokens(raw: Any) -> int:
    if isinstance(raw, Decimal) and raw == raw.to_integral_value():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw <= INT_MAX:
        raise ValueError(f"must be a positive whole number of tokens, got {raw!r}")
    return raw


def _date(raw: Any) -> date:
    if not isinstance(raw, str) or not _ISO_DATE.fullmatch(raw):
        raise ValueError(f"must be a date written YYYY-MM-DD, got {raw!r}")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a calendar date") from None


# (our field, the catalog's fields in order of preference, the reader)
_READERS = (
    ("input_price", ("input_cost_per_token",), _price),
    ("output_price", ("output_cost_per_token",), _price),
    ("context_window", ("max_input_tokens", "max_tokens"), _tokens),
    ("max_output_tokens", ("max_output_tokens",), _tokens),
    ("deprecates", ("deprecation_date",), _date),
)


def _entry(key: str, raw: Any) -> tuple[Entry | None, list[Problem]]:
    if not isinstance(raw, dict):
        return None, [Problem(key, "", f"must be an object of fields, got {type(raw).__name__}")]
    values: dict[str, Any] = {}
    problems = [
        Problem(key, name, "is given twice in this entry; entry skipped")
        for name in getattr(raw, "duplicates", ())
    ]
    for ours, theirs, reader in _READERS:
        name = next((n for n in theirs if raw.get(n) is not None), None)
        if name is None:
            continue
        try:
            values[ours] = reader(raw[name])
        except ValueError as exc:
            problems.append(Problem(key, name, f"{exc}; entry skipped"))
    return (None if problems else Entry(key, values)), problems


class _Fields(dict[str, Any]):
    """A JSON object that remembers the names it was given more than once (json.loads keeps
    the last one silently)."""

    duplicates: list[str]

    @classmethod
    def of(cls, pairs: list[tuple[str, Any]]) -> "_Fields":
        fields = cls(pairs)
        seen: set[str] = set()
        fields.duplicates = []
        for key, _value in pairs:
            if key in seen:
                fields.duplicates.append(key)
            seen.add(key)
        return fields


def catalog_parse(text: str | bytes) -> Catalog:
    """Read a catalog file. Numbers are read as Decimal, so 2.5e-06 USD a token is exactly
    2.5 USD per million, without float noise."""
    try:
        data = json.loads(text, parse_float=Decimal, object_pairs_hook=_Fields.of)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CatalogError(f"The catalog is not valid JSON ({str(exc)[:300]}).") from None
    except RecursionError:
        raise CatalogError(
            "The catalog nests too deeply to be a catalog: one object of model name -> details."
        ) from None
    if not isinstance(data, dict):
        raise CatalogError(
            "The catalog must be a JSON object of model name -> details, as LiteLLM's "
            f"model_prices_and_context_window.json is; this file holds a {type(data).__name__}."
        )
    catalog = Catalog(entries={})
    twice = set(getattr(data, "duplicates", ()))
    for key in sorted(twice):
        # Which of the two is meant is anyone's guess: neither is applied.
        catalog.problems.append(Problem(key, "", "appears twice in the catalog; entry skipped"))
    for key, raw in data.items():
        if key in IGNORED_KEYS or key in twice:
            continue
        entry, problems = _entry(key, raw)
        catalog.problems.extend(problems)
        if entry is not None:
            catalog.entries[key] = entry
    return catalog


def name_forms(key: str) -> list[tuple[str, str]]:
    """(route, bare id) pairs a catalog name may stand for, most literal first:
    `bedrock/us.anthropic.claude-x-v1:0` -> anthropic.claude-x-v1:0, claude-x."""
    route, bare = "", key
    match = _ROUTE.match(key)
    if match:
        route, bare = match["route"].split("/")[0], key[match.end() :]
    forms = [(route, bare)] if bare != key else []
    bare = _BEDROCK_REGION.sub("", bare)
    anthropic = _BEDROCK_ANTHROPIC.match(bare)
    if anthropic:
        forms += [("bedrock", bare), ("bedrock", anthropic["id"])]
    return list(dict.fromkeys(forms))
