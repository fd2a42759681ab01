"""What every assertion type shares: the observed call, the outcome, and the wording helpers.

Reasons are read by a release manager on a run page, next to the output itself: they say what
was expected and what was found, quote at most ~80 characters of the (untrusted) output, and
stay under ~300 characters so a failing case list stays scannable.
"""

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml
from jsonschema import Draft202012Validator, SchemaError
from jsonschema.exceptions import best_match

REASON_LIMIT = 300
QUOTE_LIMIT = 80
# Regex matching and JSON scanning look at most this far into an answer: a runaway output of
# several megabytes must not hold a worker for minutes.
SCAN_LIMIT = 200_000


@dataclass(frozen=True)
class Observed:
    """One provider call as the assertions see it (a CaseResult before it is written)."""

    output: str
    tool_calls: list[dict[str, Any]]
    finish_reason: str | None
    latency_ms: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost: Decimal | None
    reference: str
    question: str


@dataclass(frozen=True)
class Outcome:
    """One assertion's verdict on one output; `to_json()` is what CaseResult.outcomes stores."""

    type: str
    passed: bool
    score: float
    reason: str
    weight: float
    metric: str = ""
    judge: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "passed": self.passed,
            "score": self.score,
            "reason": self.reason,
            "weight": self.weight,
        }
        if self.metric:
            data["metric"] = self.metric
        if self.judge is not None:
            data["judge"] = self.judge
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Outcome":
        return cls(
            type=str(data["type"]),
            passed=bool(data["passed"]),
            score=float(data["score"]),
            reason=str(data.get("reason", "")),
            weight=float(data.get("weight", 1.0)),
            metric=str(data.get("metric", "")),
            judge=data.get("judge"),
        )


@dataclass(frozen=True)
class Check:
    """What one type found, in its positive form; `evaluate` turns it into an Outcome.

    `said` describes the observation; `undecidable` marks a check that could not be made at all
    (no latency measured, no price known, arguments that do not parse): it fails in both the
    positive and the `not-` form, since "we could not tell" must never read as a pass.
    """

    holds: bool
    said: str
    score: float | None = None  # None: 1.0 when it holds, else 0.0
    undecidable: bool = False


class Refused(Exception):
    """A save-time refusal of one key of an assertion (`value`, `threshold`, `value.name`)."""

    def __init__(self, message: str, *, key: str = "value") -> None:
        super().__init__(message)
        self.message = message
        self.key = key


# A type's pieces: the value's save-time cleaner, the positive/negated expectation phrases
# (None: `said` reads on its own), and the run-time check.
ValueCleaner = Callable[[object], object]
Expect = Callable[[dict[str, Any]], tuple[str | None, str]]
Run = Callable[[dict[str, Any], Observed], Check]


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """A short, one-line, double-quoted excerpt of untrusted text."""
    clipped = text if len(text) <= limit else text[: limit - 1] + "…"
    escaped = clipped.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped.replace("\t", "\\t").replace('"', '\\"') + '"'


def around(text: str, start: int, end: int, limit: int = QUOTE_LIMIT) -> str:
    """The quoted neighbourhood of text[start:end], with ellipses where it was cut."""
    room = max(limit - (end - start), 0)
    lo = max(start - room // 3, 0)
    hi = min(max(end, lo + limit), len(text))
    piece = text[lo:hi]
    if len(piece) > limit:
        piece = piece[:limit]
    return quote(("…" if lo > 0 else "") + piece + ("…" if hi < len(text) else ""), limit + 2)


def clip(reason: str) -> str:
    return reason if len(reason) <= REASON_LIMIT else reason[: REASON_LIMIT - 1] + "…"


def number(value: object, *, what: str, key: str = "threshold") -> float:
    """A finite number from YAML, JSON or a CSV cell; booleans are not numbers here."""
    if isinstance(value, bool):
        raise Refused(f"{what} must be a number, not {str(value).lower()}", key=key)
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise Refused(f"{what} must be a number, got {quote(str(value), 30)}", key=key) from None
    if not math.isfinite(result):
        raise Refused(f"{what} must be a finite number", key=key)
    return result


# --- JSON --------------------------------------------------------------------------------


def _no_constants(name: str) -> object:
    # Python's json accepts NaN and Infinity; JSON does not, and neither would the consumer.
    raise ValueError(f"{name} is not JSON")


def loads_strict(text: str) -> object:
    """json.loads without NaN/Infinity; raises json.JSONDecodeError or ValueError."""
    return json.loads(text, parse_constant=_no_constants)


def json_error(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc)


def json_equal(a: object, b: object) -> bool:
    """Equality as JSON means it: `true` is not `1`, `1` equals `1.0`, key order is free."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def json_difference(expected: object, actual: object, path: str = "$") -> str:
    """Where two JSON values first differ, for a reason: `at $.intent: expected …, got …`."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in expected:
            if key not in actual:
                return f"at {path}: key {quote(str(key), 40)} is missing"
            if not json_equal(expected[key], actual[key]):
                return json_difference(expected[key], actual[key], f"{path}.{key}")
        extra = [k for k in actual if k not in expected]
        return f"at {path}: unexpected key {quote(str(extra[0]), 40)}" if extra else ""
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return f"at {path}: expected {len(expected)} items, got {len(actual)}"
        for i, (x, y) in enumerate(zip(expected, actual, strict=True)):
            if not json_equal(x, y):
                return json_difference(x, y, f"{path}[{i}]")
        return ""
    return f"at {path}: expected {shown_json(expected)}, got {shown_json(actual)}"


def shown_json(value: object, limit: int = 40) -> str:
    """A JSON value as JSON (strings keep their quotes), clipped for a reason."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def kind(value: object) -> str:
    if isinstance(value, dict):
        return f"an object with {len(value)} key{'s' if len(value) != 1 else ''}"
    if isinstance(value, list):
        return f"an array of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a boolean" if isinstance(value, bool) else "a number"


# --- JSON Schema -------------------------------------------------------------------------


def clean_schema(raw: object, *, key: str = "value") -> dict[str, Any] | None:
    """A JSON Schema (Draft 2020-12) from a dict or a JSON/YAML string; None when absent."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    schema = raw
    if isinstance(raw, str):
        # YAML is a superset of JSON, and promptfoo files write schemas either way.
        try:
            schema = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            first = str(exc).splitlines()[0] if str(exc) else "unreadable"
            raise Refused(f"the schema is neither JSON nor YAML: {first}", key=key) from None
    if not isinstance(schema, dict):
        raise Refused(
            f"a JSON Schema must be an object (e.g. {{'type': 'object'}}), got {kind(schema)}",
            key=key,
        )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise Refused(
            f"not a valid JSON Schema: {exc.message[:150]} (at {exc.json_path})", key=key
        ) from None
    return schema


def schema_problem(schema: dict[str, Any], instance: object) -> str:
    """'' when the instance matches, else the most relevant error: `schema: … (at $.items[0])`."""
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    error = best_match(validator.iter_errors(instance))
    if error is None:
        return ""
    message = error.message if len(error.message) <= 150 else error.message[:149] + "…"
    return f"schema: {message} (at {error.json_path})"


# --- a type's description ----------------------------------------------------------------


@dataclass(frozen=True)
class ThresholdRule:
    """What `threshold` means for a type and which values it takes."""

    what: str  # e.g. "a score from 0 to 1", used in the refusal
    low: float = 0.0
    high: float | None = 1.0
    required: bool = False
    above_low: bool = False  # strictly greater than `low` (a budget of 0 ms is no budget)


FRACTION = ThresholdRule("a score from 0 to 1")


@dataclass(frozen=True)
class TypeSpec:
    clean_value: ValueCleaner
    expect: Expect
    run: Run | None  # None: graded by the judge (evaluations/judge.py), not here
    threshold: ThresholdRule = FRACTION


def as_text(raw: object, *, what: str) -> str:
    """A string value; YAML turns `value: 42` into a number, promptfoo compares String(value)."""
    if isinstance(raw, bool) or raw is None:
        raise Refused(f"{what}: give a text value")
    if isinstance(raw, int | float):
        return str(raw)
    if not isinstance(raw, str):
        raise Refused(f"{what}: give a text value, not {kind(raw)}")
    if raw.startswith("file://"):
        raise Refused(
            f"{what}: file references ({quote(raw, 40)}) are read by the promptfoo import; "
            "paste the text itself here"
        )
    return raw


def required_text(type_name: str) -> ValueCleaner:
    def clean(raw: object) -> str:
        if raw is None or raw == "":
            raise Refused(f"{type_name} needs a value: the text to look for")
        return as_text(raw, what=type_name)

    return clean


def no_value(type_name: str, hint: str) -> ValueCleaner:
    def clean(raw: object) -> None:
        if raw is not None and raw != "":
            raise Refused(f"{type_name} takes no value; {hint}")

    return clean
