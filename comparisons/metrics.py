"""Automatic comparison of a shadow pair: pure functions over the two outputs.

`compare` measures; `flags` decides what a reviewer must see (the kinds, their weights and
labels are in comparisons/flags.py). The rules, one flag each:

- ``error:<side>``: that side failed and the other did not.
- ``refusal:<side>``: that side declined and the other did not (traffic/refusals.py).
- ``truncated:<side>``: that side stopped at the token limit (finish_reason "length") and the
  other did not.
- ``json_broken:<side>``: JSON was expected on that side (its config asks for JSON, or only the
  other side is JSON) and the side is not JSON as a whole.
- ``schema_violation:<side>``: that side's JSON fails its config's JSON Schema.
- ``json_structure_changed``: both sides JSON, keys added/removed or a value's type changed.
- ``tool_calls_changed``: tool names or arguments differ (ids are ignored; order is not).
- ``format_changed``: Markdown vs plain (one side uses markup at least twice, the other never),
  code fences appear or disappear, a list (2+ items) vs prose (no items), or a prose baseline
  whose candidate answers in JSON (nothing asked for JSON on the baseline side).
- ``language_changed``: the answers share few of their most frequent words (a rewrite in one
  language shares its function words), both sides have at least LANGUAGE_MIN_CHARS of prose
  (code and links removed), the identifier is at least LANGUAGE_MIN_CONFIDENCE sure of both,
  and they differ.
- ``length_ratio``: candidate/baseline length in characters outside the feature's bounds, when
  the longer side has at least LENGTH_MIN_CHARS (a "Yes." against "Yes, it does." is no news).
- ``low_similarity``: only for short label-like outputs (both one line of at most
  LABEL_MAX_WORDS words, not JSON) whose word similarity is below the feature's threshold.

Word similarity of free text is NOT a flag: two versions of a model rewrite every answer
(0.1-0.4 on real upgrades), so it only ranks pairs within the queue (comparisons/flags.py).
A failed side is not judged on anything else: there is no output to judge.
"""

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from rapidfuzz.distance import Indel

from traffic.refusals import is_refusal, normalise_apostrophes

__all__ = ["compare", "flags", "is_refusal", "parse_json", "structure_diff"]

LANGUAGE_MIN_CHARS = 160
LANGUAGE_MIN_CONFIDENCE = 0.95
# The identifier reads the start of the prose: enough to tell, and it keeps scoring cheap.
LANGUAGE_SAMPLE_CHARS = 300
# The identifier only runs when the two answers share less than this share of their
# LANGUAGE_GATE_WORDS most frequent words (see _shared_vocabulary).
LANGUAGE_GATE_WORDS = 30
LANGUAGE_GATE_SHARE = 0.3
# Stripped from words before they are counted; curly quotes and dashes written as escapes.
_NO_PUNCTUATION = str.maketrans(
    "", "", ".,;:!?¡¿\"'()[]{}*_`«»\u201c\u201d\u2018\u2019\u2014\u2013-"
)
LANGUAGE_GATE_SAMPLE = 200  # words read from each side
LENGTH_MIN_CHARS = 80
LABEL_MAX_WORDS = 5
DEFAULT_LENGTH_BOUNDS = (0.5, 2.0)


@dataclass(frozen=True)
class Structure:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    type_changed: list[str] = field(default_factory=list)
    value_changed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.type_changed)


@dataclass(frozen=True)
class Format:
    markup: int  # headings, tables, bold/italic spans, inline code, links
    fenced: bool  # a ``` or ~~~ code fence
    list_items: int  # lines that start a bullet or a numbered item


@dataclass(frozen=True)
class ToolCalls:
    baseline: list[str]
    candidate: list[str]
    names_changed: bool
    arguments_changed: bool

    @property
    def changed(self) -> bool:
        return self.names_changed or self.arguments_changed


@dataclass(frozen=True)
class Metrics:
    similarity: float
    length_ratio: float | None
    exact: bool
    baseline_json: bool
    candidate_json: bool
    structure: Structure | None
    baseline_refusal: bool
    candidate_refusal: bool
    latency_delta_ms: float | None
    baseline_error: bool
    candidate_error: bool
    baseline_truncated: bool = False
    candidate_truncated: bool = False
    baseline_json_expected: bool = False
    candidate_json_expected: bool = False
    baseline_schema_errors: list[str] = field(default_factory=list)
    candidate_schema_errors: list[str] = field(default_factory=list)
    tool_calls: ToolCalls | None = None
    baseline_format: Format | None = None
    candidate_format: Format | None = None
    baseline_language: str | None = None
    candidate_language: str | None = None
    baseline_chars: int = 0
    candidate_chars: int = 0
    label_like: bool = False

    def as_json(self) -> dict:
        return asdict(self)


def parse_json(text: str) -> Any:
    """The JSON value in `text`, or None. Only whole-text JSON counts: fenced JSON is a format
    change an application's parser would trip on, which is exactly what should be flagged."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        return None


def _walk(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out[path] = item
            _walk(item, path, out)


def structure_diff(baseline: Any, candidate: Any) -> Structure:
    """Key-level differences between two parsed JSON values (nested keys as dotted paths)."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    _walk(baseline, "", a)
    _walk(candidate, "", b)
    common = a.keys() & b.keys()
    return Structure(
        added=sorted(b.keys() - a.keys()),
        removed=sorted(a.keys() - b.keys()),
        type_changed=sorted(k for k in common if type(a[k]) is not type(b[k])),
        value_changed=sorted(
            k
            for k in common
            if type(a[k]) is type(b[k]) and not isinstance(a[k], dict) and a[k] != b[k]
        ),
    )


def schema_errors(value: Any, schema: dict | None) -> list[str]:
    """The first few violations of `schema` by `value`, as "path: message"."""
    if not schema:
        return []
    try:
        validator = Draft202012Validator(schema)
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    except Exception:
        return []
    out = []
    for error in errors[:3]:
        path = ".".join(str(p) for p in error.absolute_path) or "(root)"
        out.append(f"{path}: {error.message}"[:200])
    return out


# -- tool calls ---------------------------------------------------------------------------------


def _tool_call_key(call: Any) -> tuple[str, str]:
    """(name, canonical arguments) of one recorded call, OpenAI shape or a flat one."""
    if not isinstance(call, dict):
        return ("?", json.dumps(call, sort_keys=True, default=str))
    inner = call.get("function")
    function: dict[str, Any] = inner if isinstance(inner, dict) else call
    name = str(function.get("name", "?"))
    arguments: Any = function.get("arguments", function.get("input", ""))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            return (name, arguments.strip())
    return (name, json.dumps(arguments, sort_keys=True, default=str))


def tool_calls_diff(baseline: list | None, candidate: list | None) -> ToolCalls | None:
    if baseline is None or candidate is None or (not baseline and not candidate):
        return None
    a = sorted(_tool_call_key(c) for c in baseline)
    b = sorted(_tool_call_key(c) for c in candidate)
    names_a, names_b = sorted(n for n, _ in a), sorted(n for n, _ in b)
    return ToolCalls(
        baseline=names_a,
        candidate=names_b,
        names_changed=names_a != names_b,
        arguments_changed=names_a == names_b and a != b,
    )


# -- format -------------------------------------------------------------------------------------

_FENCE = re.compile(r"^[ \t]{0,3}(?:```|~~~)", re.MULTILINE)
_FENCED_BLOCK = re.compile(r"^[ \t]{0,3}(```|~~~).*?(?:^[ \t]{0,3}\1|\Z)", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+\S", re.MULTILINE)
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*\|", re.MULTILINE)
_SPAN = re.compile(
    r"\*\*[^*\n]+\*\*|__[^_\n]+__|(?<![*\w])\*[^*\s][^*\n]*\*(?![*\w])|`[^`\n]+`"
    r"|\[[^\]\n]+\]\([^)\s]+\)"
)
# A bullet, or a numbered item of at most two digits (so "2024. was a good year" is prose).
_LIST_ITEM = re.compile(r"^[ \t]{0,6}(?:[-*+•]|\d{1,2}[.)])[ \t]+\S", re.MULTILINE)


def text_format(text: str) -> Format:
    """Markup, fences and list items, read line by line with cheap string tests first: most
    lines of an answer start with a letter and are skipped at once."""
    fenced = bool(_FENCE.search(text)) if ("```" in text or "~~~" in text) else False
    prose = _FENCED_BLOCK.sub(" ", text) if fenced else text
    markup = list_items = 0
    for line in prose.splitlines():
        head = line.lstrip()[:1]
        if head in ("#", "|", "-", "*", "+", "•", ":") or head.isdigit():
            markup += bool(_HEADING.match(line)) + bool(_TABLE_RULE.match(line))
            list_items += bool(_LIST_ITEM.match(line))
    if "*" in prose or "_" in prose or "`" in prose or "](" in prose:
        markup += len(_SPAN.findall(prose))
    return Format(markup=markup, fenced=fenced, list_items=list_items)


def format_changed(a: Format, b: Format) -> bool:
    markdown_vs_plain = (a.markup >= 2 and b.markup == 0) or (b.markup >= 2 and a.markup == 0)
    list_vs_prose = (a.list_items >= 2 and b.list_items == 0) or (
        b.list_items >= 2 and a.list_items == 0
    )
    return markdown_vs_plain or a.fenced != b.fenced or list_vs_prose


# -- language -----------------------------------------------------------------------------------

_NOT_PROSE = re.compile(r"`[^`\n]*`|https?://\S+|[#*_>|~\-]{1,}|\[|\]\([^)]*\)")


@lru_cache(maxsize=1)
def _identifier() -> Any:
    # Loaded once per process (about 0.2 s); probabilities normalised so a threshold means
    # something.
    from py3langid.langid import _load_identifier  # type: ignore[import-untyped]

    return _load_identifier(norm_probs=True)


def language(text: str) -> str | None:
    """The language of the prose in `text` (ISO 639-1), or None when too short to tell."""
    head = text[: LANGUAGE_SAMPLE_CHARS * 3]  # enough prose to sample, whatever is stripped
    if "```" in head or "~~~" in head:
        head = _FENCED_BLOCK.sub(" ", head)
    prose = _NOT_PROSE.sub(" ", head)
    prose = " ".join(prose.split())
    if len(prose) < LANGUAGE_MIN_CHARS:
        return None
    lang, confidence = _identifier().classify(prose[:LANGUAGE_SAMPLE_CHARS])
    return str(lang) if confidence >= LANGUAGE_MIN_CONFIDENCE else None


# -- the comparison -----------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return normalise_apostrophes(text).replace("“", '"').replace("”", '"').split()


def _frequent(words: list[str]) -> set[str]:
    # The first words are enough: function words are the most frequent from the start.
    sample = " ".join(words[:LANGUAGE_GATE_SAMPLE]).lower().translate(_NO_PUNCTUATION).split()
    return {w for w, _ in Counter(sample).most_common(LANGUAGE_GATE_WORDS)}


def _shared_vocabulary(a: list[str], b: list[str]) -> bool:
    """Whether two answers share enough of their most frequent words to be in one language.

    The identifier costs ~0.2-1 ms a side, more than the rest of the comparison; a rewrite in
    the same language shares its function words ("the", "and", "de", "und"), a translation
    shares almost none. Texts without spaces between words (Chinese, Japanese) share few
    "words" and so always reach the identifier."""
    top_a, top_b = _frequent(a), _frequent(b)
    if not top_a or not top_b:
        return False
    return len(top_a & top_b) >= LANGUAGE_GATE_SHARE * min(len(top_a), len(top_b))


def _label_like(text: str) -> bool:
    stripped = text.strip()
    return bool(stripped) and "\n" not in stripped and len(stripped.split()) <= LABEL_MAX_WORDS


def compare(
    *,
    baseline: str,
    candidate: str,
    baseline_error: bool = False,
    candidate_error: bool = False,
    baseline_latency_ms: float | None = None,
    candidate_latency_ms: float | None = None,
    baseline_finish_reason: str = "",
    candidate_finish_reason: str = "",
    baseline_tool_calls: list | None = None,
    candidate_tool_calls: list | None = None,
    baseline_schema: dict | None = None,
    candidate_schema: dict | None = None,
    baseline_json_expected: bool = False,
    candidate_json_expected: bool = False,
) -> Metrics:
    """Measure the pair. A schema implies JSON is expected on that side."""
    a_json, b_json = parse_json(baseline), parse_json(candidate)
    a_is_json, b_is_json = a_json is not None, b_json is not None
    both_answered = not (baseline_error or candidate_error)
    a_words, b_words = _words(baseline), _words(candidate)
    a_lang = b_lang = None
    if both_answered and not (a_is_json or b_is_json) and not _shared_vocabulary(a_words, b_words):
        a_lang = language(baseline)
        b_lang = language(candidate) if a_lang else None
    return Metrics(
        similarity=round(Indel.normalized_similarity(a_words, b_words), 4),
        length_ratio=round(len(candidate) / len(baseline), 4) if baseline else None,
        exact=baseline == candidate,
        baseline_json=a_is_json,
        candidate_json=b_is_json,
        structure=structure_diff(a_json, b_json) if a_is_json and b_is_json else None,
        baseline_refusal=is_refusal(baseline),
        candidate_refusal=is_refusal(candidate),
        latency_delta_ms=(
            round(candidate_latency_ms - baseline_latency_ms, 1)
            if candidate_latency_ms is not None and baseline_latency_ms is not None
            else None
        ),
        baseline_error=baseline_error,
        candidate_error=candidate_error,
        baseline_truncated=baseline_finish_reason == "length",
        candidate_truncated=candidate_finish_reason == "length",
        baseline_json_expected=baseline_json_expected or bool(baseline_schema),
        candidate_json_expected=candidate_json_expected or bool(candidate_schema),
        baseline_schema_errors=schema_errors(a_json, baseline_schema) if a_is_json else [],
        candidate_schema_errors=schema_errors(b_json, candidate_schema) if b_is_json else [],
        tool_calls=tool_calls_diff(baseline_tool_calls, candidate_tool_calls),
        baseline_format=text_format(baseline),
        candidate_format=text_format(candidate),
        baseline_language=a_lang,
        candidate_language=b_lang,
        baseline_chars=len(baseline),
        candidate_chars=len(candidate),
        label_like=_label_like(baseline)
        and _label_like(candidate)
        and not (a_is_json or b_is_json),
    )


def _one_sided(kind: str, baseline: bool, candidate: bool) -> list[str]:
    if baseline and not candidate:
        return [f"{kind}:baseline"]
    if candidate and not baseline:
        return [f"{kind}:candidate"]
    return []


def flags(
    metrics: Metrics,
    *,
    similarity_below: float = 0.5,
    length_ratio_min: float = DEFAULT_LENGTH_BOUNDS[0],
    length_ratio_max: float = DEFAULT_LENGTH_BOUNDS[1],
) -> list[str]:
    """Why this pair deserves a reviewer's eyes first (empty: it looks like the normal case).
    The rules are in the module docstring."""
    m = metrics
    reasons = _one_sided("error", m.baseline_error, m.candidate_error)
    if m.tool_calls is not None and m.tool_calls.changed:
        reasons.append("tool_calls_changed")
    if m.baseline_error or m.candidate_error:
        return reasons  # nothing more to judge on a side without an output
    reasons += _one_sided("refusal", m.baseline_refusal, m.candidate_refusal)
    reasons += _one_sided("truncated", m.baseline_truncated, m.candidate_truncated)
    # JSON expected: by the side's config, or because the other side is JSON and this one's
    # config says nothing (a prose baseline beside a JSON candidate is a format change).
    for side, is_json, expected, other_json in (
        ("baseline", m.baseline_json, m.baseline_json_expected, m.candidate_json),
        ("candidate", m.candidate_json, m.candidate_json_expected, m.baseline_json),
    ):
        inferred = side == "candidate" and other_json
        if not is_json and (expected or inferred):
            reasons.append(f"json_broken:{side}")
    for side, errors in (
        ("baseline", m.baseline_schema_errors),
        ("candidate", m.candidate_schema_errors),
    ):
        if errors:
            reasons.append(f"schema_violation:{side}")
    if m.structure is not None and m.structure.changed:
        reasons.append("json_structure_changed")
    prose_became_json = m.candidate_json and not (m.baseline_json or m.baseline_json_expected)
    if prose_became_json or (
        m.baseline_format is not None
        and m.candidate_format is not None
        and format_changed(m.baseline_format, m.candidate_format)
    ):
        reasons.append("format_changed")
    if m.baseline_language and m.candidate_language and m.baseline_language != m.candidate_language:
        reasons.append("language_changed")
    if max(m.baseline_chars, m.candidate_chars) >= LENGTH_MIN_CHARS:
        ratio = m.candidate_chars / m.baseline_chars if m.baseline_chars else float("inf")
        if not length_ratio_min <= ratio <= length_ratio_max:
            reasons.append("length_ratio")
    if m.label_like and m.similarity < similarity_below:
        reasons.append("low_similarity")
    return reasons
