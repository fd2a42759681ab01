"""Assertions that measure: similar and levenshtein (against the value or the case's
reference), and the latency and cost budgets of the call."""

from decimal import Decimal
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from evaluations.assertion_types.common import (
    Check,
    Observed,
    ThresholdRule,
    TypeSpec,
    ValueCleaner,
    as_text,
    no_value,
)

# Edit distance is quadratic in the worst case; real answers are far shorter than this, and a
# runaway one is compared on its beginning (the reason says so).
COMPARE_LIMIT = 50_000
SIMILAR_DEFAULT = 0.8
LEVENSHTEIN_DEFAULT = 5.0
NO_REFERENCE = "no reference to compare with: give the assertion a value or the case a reference"


def _clean_target(type_name: str) -> ValueCleaner:
    def clean(raw: object) -> str | None:
        if raw is None or raw == "":
            return None  # the case's reference, at run time
        return as_text(raw, what=type_name)

    return clean


def _target(a: dict[str, Any], o: Observed) -> tuple[str, str]:
    """(text to compare with, what it is called in the reason)."""
    if a["value"] is not None:
        return a["value"], "the expected text"
    return o.reference, "the reference"


def _cut(text: str) -> str:
    return text[:COMPARE_LIMIT]


def _cut_note(*texts: str) -> str:
    if any(len(t) > COMPARE_LIMIT for t in texts):
        return f" (first {COMPARE_LIMIT:,} characters compared)"
    return ""


def _run_similar(a: dict[str, Any], o: Observed) -> Check:
    # promptfoo's `similar` compares embeddings (cosine similarity); ours is edit similarity
    # (rapidfuzz's normalised Indel ratio), which needs no embedding model and is exact to
    # reproduce, but rewards the same wording rather than the same meaning.
    target, name = _target(a, o)
    if not target:
        return Check(False, NO_REFERENCE, score=0.0, undecidable=True)
    threshold = SIMILAR_DEFAULT if a["threshold"] is None else a["threshold"]
    ratio = fuzz.ratio(_cut(o.output), _cut(target)) / 100
    relation = ">=" if ratio >= threshold else "<"
    said = f"similarity to {name} {ratio:.2f} {relation} threshold {threshold:.2f}"
    return Check(ratio >= threshold, said + _cut_note(o.output, target), score=ratio)


def _run_levenshtein(a: dict[str, Any], o: Observed) -> Check:
    target, name = _target(a, o)
    if not target:
        return Check(False, NO_REFERENCE, score=0.0, undecidable=True)
    threshold = LEVENSHTEIN_DEFAULT if a["threshold"] is None else a["threshold"]
    left, right = _cut(o.output), _cut(target)
    distance = Levenshtein.distance(left, right)
    longer = max(len(left), len(right)) or 1
    score = max(0.0, 1 - distance / longer)
    relation = "<=" if distance <= threshold else ">"
    said = f"edit distance to {name} {distance} {relation} threshold {threshold:g}"
    return Check(distance <= threshold, said + _cut_note(o.output, target), score=score)


def _run_latency(a: dict[str, Any], o: Observed) -> Check:
    if o.latency_ms is None:
        return Check(False, "no latency was measured for this call", undecidable=True)
    budget, took = a["threshold"], o.latency_ms
    if took <= budget:
        return Check(True, f"latency {took:.0f} ms <= budget {budget:g} ms")
    return Check(False, f"latency {took:.0f} ms > budget {budget:g} ms")


def _usd(amount: Decimal | float) -> str:
    return f"${Decimal(str(amount)).normalize():f}"


def _run_cost(a: dict[str, Any], o: Observed) -> Check:
    if o.cost is None:
        return Check(
            False,
            "no price known for this model version; set its prices or import the catalog",
            undecidable=True,
        )
    budget = Decimal(str(a["threshold"]))
    if o.cost <= budget:
        return Check(True, f"cost {_usd(o.cost)} <= budget {_usd(budget)}")
    return Check(False, f"cost {_usd(o.cost)} > budget {_usd(budget)}")


TYPES: dict[str, TypeSpec] = {
    "similar": TypeSpec(
        _clean_target("similar"),
        lambda a: (None, "the output not to be similar"),
        _run_similar,
    ),
    "levenshtein": TypeSpec(
        _clean_target("levenshtein"),
        lambda a: (None, "an edit distance over the threshold"),
        _run_levenshtein,
        ThresholdRule("an edit distance of 0 or more characters", high=None),
    ),
    "latency": TypeSpec(
        no_value("latency", "put the budget in milliseconds in threshold"),
        lambda a: (None, "latency over the budget"),
        _run_latency,
        ThresholdRule("a latency budget in milliseconds", high=None, required=True, above_low=True),
    ),
    "cost": TypeSpec(
        no_value("cost", "put the budget in US dollars in threshold"),
        lambda a: (None, "a cost over the budget"),
        _run_cost,
        ThresholdRule("a cost budget in US dollars", high=None, required=True),
    ),
}
