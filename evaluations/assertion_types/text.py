"""Assertions on the answer's text: equals, contains and its family, starts-with, regex,
max-length, finish-reason and is-refusal (promptfoo's names and meanings)."""

import importlib
import re
import unicodedata
from functools import lru_cache
from typing import Any

from evaluations.assertion_types.common import (
    SCAN_LIMIT,
    Check,
    Observed,
    Refused,
    ThresholdRule,
    TypeSpec,
    ValueCleaner,
    around,
    as_text,
    json_difference,
    json_equal,
    json_error,
    kind,
    loads_strict,
    no_value,
    quote,
    required_text,
)
from traffic.refusals import REFUSAL, is_refusal, normalise_apostrophes

# The standard library's own regex parser (re._parser has no type stubs): walking its parse
# tree is the only exact way to see a pattern's nesting.
re_parser: Any = importlib.import_module("re._parser")
c: Any = importlib.import_module("re._constants")

# A pattern longer than this is a program, not a check; it is refused at save time.
PATTERN_LIMIT = 1_000


def _nfc(text: str) -> str:
    # "é" typed as one code point and as e + combining accent are the same letter to a reader.
    return unicodedata.normalize("NFC", text)


UNKNOWN_PLACE = -2


def _find(haystack: str, needle: str, *, fold: bool) -> int:
    """Index of needle in haystack: -1 when absent, UNKNOWN_PLACE when found at a place the
    original text cannot show (case-insensitive with Unicode case folding: "ß" folds to "ss")."""
    if not fold:
        return haystack.find(needle)
    folded = haystack.casefold()
    at = folded.find(needle.casefold())
    return at if at < 0 or len(folded) == len(haystack) else UNKNOWN_PLACE


def _apostrophe_note(output: str, needle: str, *, fold: bool) -> str:
    """The reason's hint when only the apostrophe style differs (U+2019 against ')."""
    if _find(normalise_apostrophes(output), normalise_apostrophes(needle), fold=fold) != -1:
        return " (it does with curly quotes written as straight ones)"
    return ""


def _ci(type_name: str) -> str:
    return " (case-insensitive)" if type_name.startswith("i") else ""


# --- equals ------------------------------------------------------------------------------


def _clean_equals(raw: object) -> object:
    if raw is None:
        raise Refused("equals needs a value: the exact expected output (text, or JSON)")
    if isinstance(raw, str):
        return as_text(raw, what="equals")
    return raw  # a JSON value: compared with the parsed output


def _run_equals(a: dict[str, Any], o: Observed) -> Check:
    expected = a["value"]
    if not isinstance(expected, str):
        try:
            parsed = loads_strict(o.output)
        except ValueError as exc:
            start = quote(o.output.lstrip()[:12], 20)
            return Check(False, f"the output is not JSON ({json_error(exc)}; it starts {start})")
        if json_equal(expected, parsed):
            return Check(True, "it does (as JSON)")
        return Check(False, f"it differs {json_difference(expected, parsed)}")
    if o.output == expected:
        return Check(True, "it does")
    if o.output.strip() == expected.strip():
        return Check(False, "it differs only in leading or trailing whitespace")
    at = next(
        (i for i, (x, y) in enumerate(zip(o.output, expected, strict=False)) if x != y),
        min(len(o.output), len(expected)),
    )
    return Check(False, f"it differs from character {at}: {around(o.output, at, at + 1, 40)}")


def _expect_equals(a: dict[str, Any]) -> tuple[str, str]:
    value = a["value"]
    shown = quote(value, 60) if isinstance(value, str) else f"the expected JSON ({kind(value)})"
    return f"the output to equal {shown}", f"the output not to equal {shown}"


# --- contains, icontains, starts-with ------------------------------------------------------


def _contains(type_name: str) -> TypeSpec:
    fold = type_name.startswith("i")

    def run(a: dict[str, Any], o: Observed) -> Check:
        output, needle = _nfc(o.output), _nfc(a["value"])
        at = _find(output, needle, fold=fold)
        if at == UNKNOWN_PLACE:
            return Check(True, "it does")
        if at >= 0:
            where = around(output, at, at + len(needle))
            return Check(True, f"it does, at character {at}: {where}")
        return Check(False, "it does not" + _apostrophe_note(output, needle, fold=fold))

    def expect(a: dict[str, Any]) -> tuple[str, str]:
        what = f"{quote(a['value'], 60)}{_ci(type_name)}"
        return f"the output to contain {what}", f"the output not to contain {what}"

    return TypeSpec(required_text(type_name), expect, run)


def _run_starts_with(a: dict[str, Any], o: Observed) -> Check:
    output, prefix = _nfc(o.output), _nfc(a["value"])
    if output.startswith(prefix):
        return Check(True, "it does")
    return Check(False, f"it starts with {quote(output[: max(len(prefix), 20)], 60)}")


def _expect_starts_with(a: dict[str, Any]) -> tuple[str, str]:
    shown = quote(a["value"], 60)
    return f"the output to start with {shown}", f"the output not to start with {shown}"


# --- contains-any, contains-all and their case-insensitive forms ----------------------------


def _text_list(type_name: str) -> ValueCleaner:
    def clean(raw: object) -> list[str]:
        if raw is None or raw == "" or raw == []:
            raise Refused(f"{type_name} needs a value: a list of texts, or texts and commas")
        if isinstance(raw, str):
            # promptfoo's form: "refund, return, exchange" is three texts.
            items: list[object] = [part.strip() for part in raw.split(",")]
        elif isinstance(raw, list):
            items = list(raw)
        else:
            raise Refused(f"{type_name} needs a list of texts, not {kind(raw)}")
        texts = [as_text(item, what=f"{type_name} item") for item in items if item != ""]
        if not texts:
            raise Refused(f"{type_name} needs at least one non-empty text")
        return texts

    return clean


def _contains_many(type_name: str) -> TypeSpec:
    fold = type_name.startswith("i")
    every = type_name.endswith("-all")

    def run(a: dict[str, Any], o: Observed) -> Check:
        output = _nfc(o.output)
        found = [t for t in a["value"] if _find(output, _nfc(t), fold=fold) != -1]
        missing = [t for t in a["value"] if t not in found]
        if every:
            if not missing:
                return Check(True, "all of them appear")
            return Check(False, "missing " + ", ".join(quote(t, 30) for t in missing[:5]))
        if found:
            return Check(True, "found " + ", ".join(quote(t, 30) for t in found[:5]))
        return Check(False, "none of them appear")

    def expect(a: dict[str, Any]) -> tuple[str, str]:
        shown = ", ".join(quote(t, 30) for t in a["value"][:6])
        more = f" (+{len(a['value']) - 6} more)" if len(a["value"]) > 6 else ""
        which = "all" if every else "any"
        return (
            f"the output to contain {which} of {shown}{more}{_ci(type_name)}",
            f"the output not to contain {which} of {shown}{more}{_ci(type_name)}",
        )

    return TypeSpec(_text_list(type_name), expect, run)


# --- regex --------------------------------------------------------------------------------


def _children(op: object, arg: object) -> list[object]:
    """The sub-patterns a parsed node holds; atomic groups and possessive repeats hold none
    that matter here, since they never backtrack into their contents."""
    if op in (c.MAX_REPEAT, c.MIN_REPEAT):
        return [arg[2]]  # type: ignore[index]
    if op == c.SUBPATTERN:
        return [arg[3]]  # type: ignore[index]
    if op == c.BRANCH:
        return list(arg[1])  # type: ignore[index]
    return []


def _unbounded(items: object) -> bool:
    """True when a parsed (sub)pattern holds a backtracking repeat without an upper bound."""
    for op, arg in items:  # type: ignore[attr-defined]
        if op in (c.MAX_REPEAT, c.MIN_REPEAT) and arg[1] == c.MAXREPEAT:
            return True
        if any(_unbounded(child) for child in _children(op, arg)):
            return True
    return False


def _nested_repeat(items: object) -> bool:
    """(a+)+, (\\w+\\s?)*: an unbounded repeat of something that repeats without bound, the
    shape that backtracks exponentially on a long answer that almost matches."""
    for op, arg in items:  # type: ignore[attr-defined]
        if op in (c.MAX_REPEAT, c.MIN_REPEAT) and arg[1] == c.MAXREPEAT and _unbounded(arg[2]):
            return True
        if any(_nested_repeat(child) for child in _children(op, arg)):
            return True
    return False


def _clean_regex(raw: object) -> str:
    pattern = str(required_text("regex")(raw))
    if len(pattern) > PATTERN_LIMIT:
        raise Refused(f"the pattern is {len(pattern)} characters; keep it under {PATTERN_LIMIT}")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise Refused(f"not a valid regular expression: {exc}") from None
    if _nested_repeat(re_parser.parse(compiled.pattern)):
        raise Refused(
            "nested repetition such as (a+)+ can take exponential time on a long answer; "
            "make the inner repetition possessive (a++) or wrap it in an atomic group (?>...)"
        )
    return pattern


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _run_regex(a: dict[str, Any], o: Observed) -> Check:
    text = o.output[:SCAN_LIMIT]
    match = _compiled(a["value"]).search(text)
    if match:
        where = around(text, match.start(), match.end())
        return Check(True, f"it does, at character {match.start()}: {where}")
    cut = ""
    if len(o.output) > SCAN_LIMIT:
        cut = f" (only the first {SCAN_LIMIT:,} characters were searched)"
    return Check(False, "no match" + cut)


def _expect_regex(a: dict[str, Any]) -> tuple[str, str]:
    shown = "/" + a["value"][:60] + ("…" if len(a["value"]) > 60 else "") + "/"
    return f"the output to match {shown}", f"the output not to match {shown}"


# --- max-length, finish-reason, is-refusal --------------------------------------------------


def _clean_max_length(raw: object) -> int:
    if raw is None or raw == "":
        raise Refused("max-length needs a value: the most characters the answer may have")
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).strip().isdigit():
        raise Refused(f"max-length needs a whole number of characters, got {quote(str(raw), 30)}")
    limit = int(str(raw).strip())
    if limit < 1:
        raise Refused("max-length needs at least 1 character")
    return limit


def _run_max_length(a: dict[str, Any], o: Observed) -> Check:
    n, limit = len(o.output), a["value"]
    if n <= limit:
        return Check(True, f"{n:,} characters <= limit {limit:,}")
    return Check(False, f"{n:,} characters > limit {limit:,}")


def _run_finish_reason(a: dict[str, Any], o: Observed) -> Check:
    if not o.finish_reason:
        return Check(False, "the provider reported no finish reason", undecidable=True)
    if o.finish_reason == a["value"]:
        return Check(True, f"it finished with {quote(o.finish_reason, 30)}")
    return Check(False, f"it finished with {quote(o.finish_reason, 30)}")


def _run_is_refusal(a: dict[str, Any], o: Observed) -> Check:
    if not o.output.strip():
        return Check(True, "the answer is empty")
    if not is_refusal(o.output):
        return Check(False, "the answer does not decline")
    normal = normalise_apostrophes(o.output)  # same length: the translation is one to one
    match = REFUSAL.search(normal)
    where = f": {around(o.output, match.start(), match.end())}" if match else ""
    return Check(True, "the answer declines" + where)


TYPES: dict[str, TypeSpec] = {
    "equals": TypeSpec(_clean_equals, _expect_equals, _run_equals),
    "contains": _contains("contains"),
    "icontains": _contains("icontains"),
    "contains-any": _contains_many("contains-any"),
    "icontains-any": _contains_many("icontains-any"),
    "contains-all": _contains_many("contains-all"),
    "icontains-all": _contains_many("icontains-all"),
    "starts-with": TypeSpec(required_text("starts-with"), _expect_starts_with, _run_starts_with),
    "regex": TypeSpec(_clean_regex, _expect_regex, _run_regex),
    "max-length": TypeSpec(
        _clean_max_length,
        lambda a: (None, f"the output to be longer than {a['value']:,} characters"),
        _run_max_length,
    ),
    "finish-reason": TypeSpec(
        required_text("finish-reason"),
        lambda a: (
            f"the call to finish with {quote(a['value'], 30)}",
            f"the call not to finish with {quote(a['value'], 30)}",
        ),
        _run_finish_reason,
    ),
    "is-refusal": TypeSpec(
        no_value("is-refusal", "use not-is-refusal to require an answer"),
        lambda a: ("a refusal", "an answer (no refusal)"),
        _run_is_refusal,
        ThresholdRule("unused by is-refusal"),
    ),
}
