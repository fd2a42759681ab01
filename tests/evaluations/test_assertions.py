# ruff: noqa: RUF001 - curly quotes are what these outputs are about
"""Assertions run on realistic outputs: every type and its not- form, both ways, with reasons a
release manager can read; the case verdict; judged assertions."""

import time
from dataclasses import replace
from decimal import Decimal

import pytest

from evaluations.assertions import (
    ASSERTION_TYPES,
    JUDGED_TYPES,
    Observed,
    Outcome,
    case_verdict,
    clean_assertions,
    evaluate,
    outcome_from_grade,
)
from tests.evaluations import assertion_corpus as corpus

BASE = Observed(
    output="",
    tool_calls=[],
    finish_reason="stop",
    latency_ms=640.0,
    prompt_tokens=420,
    completion_tokens=180,
    cost=Decimal("0.00123"),
    reference="",
    question="Where is my refund?",
)


def seen(output: str = "", **fields: object) -> Observed:
    return replace(BASE, output=output, **fields)  # type: ignore[arg-type]


def one(raw: dict) -> dict:
    return clean_assertions([raw])[0]


# (id, assertion as written, what was observed, does the positive form hold)
ROWS: list[tuple[str, dict, Observed, bool]] = [
    ("equals-text", {"type": "equals", "value": "refund"}, seen("refund"), True),
    ("equals-trailing-newline", {"type": "equals", "value": "refund"}, seen("refund\n"), False),
    ("equals-json", {"type": "equals", "value": corpus.INTENT}, seen(corpus.PRETTY_JSON), True),
    (
        "equals-json-fenced",
        {"type": "equals", "value": corpus.INTENT},
        seen(corpus.FENCED_JSON),
        False,
    ),
    (
        "equals-json-bool-is-not-int",
        {"type": "equals", "value": {"urgent": 0}},
        seen('{"urgent": false}'),
        False,
    ),
    (
        "contains-markdown",
        {"type": "contains", "value": "€49.90"},
        seen(corpus.SUPPORT_MARKDOWN),
        True,
    ),
    (
        "contains-case",
        {"type": "contains", "value": "Refund"},
        seen(corpus.SUPPORT_MARKDOWN),
        False,
    ),
    ("contains-german", {"type": "contains", "value": "Rückerstattung"}, seen(corpus.GERMAN), True),
    ("contains-japanese", {"type": "contains", "value": "返金"}, seen(corpus.JAPANESE), True),
    ("contains-arabic", {"type": "contains", "value": "استرداد"}, seen(corpus.ARABIC), True),
    ("contains-emoji", {"type": "contains", "value": "📦"}, seen(corpus.EMOJI), True),
    (
        "contains-straight-vs-curly",
        {"type": "contains", "value": "don't need"},
        seen(corpus.SUPPORT_MARKDOWN),
        False,
    ),
    (
        "icontains",
        {"type": "icontains", "value": "YOUR REFUND"},
        seen(corpus.SUPPORT_MARKDOWN),
        True,
    ),
    (
        "icontains-sharp-s",
        {"type": "icontains", "value": "HAUPTSTRASSE"},
        seen(corpus.GERMAN),
        True,
    ),
    (
        "icontains-absent",
        {"type": "icontains", "value": "exchange"},
        seen(corpus.SUPPORT_MARKDOWN),
        False,
    ),
    (
        "contains-any",
        {"type": "contains-any", "value": ["exchange", "refund"]},
        seen(corpus.SUPPORT_MARKDOWN),
        True,
    ),
    (
        "contains-any-none",
        {"type": "contains-any", "value": "exchange, store credit"},
        seen(corpus.SUPPORT_MARKDOWN),
        False,
    ),
    (
        "icontains-any",
        {"type": "icontains-any", "value": ["SHIPPED", "lost"]},
        seen(corpus.EMOJI),
        True,
    ),
    (
        "icontains-any-none",
        {"type": "icontains-any", "value": ["LOST", "damaged"]},
        seen(corpus.EMOJI),
        False,
    ),
    (
        "contains-all",
        {"type": "contains-all", "value": ["refund", "4242", "3–5"]},
        seen(corpus.SUPPORT_MARKDOWN),
        True,
    ),
    (
        "contains-all-one-missing",
        {"type": "contains-all", "value": "refund, 4242, PayPal"},
        seen(corpus.SUPPORT_MARKDOWN),
        False,
    ),
    (
        "icontains-all",
        {"type": "icontains-all", "value": ["VIELEN DANK", "€"]},
        seen(corpus.GERMAN),
        True,
    ),
    (
        "icontains-all-missing",
        {"type": "icontains-all", "value": ["vielen dank", "PayPal"]},
        seen(corpus.GERMAN),
        False,
    ),
    (
        "starts-with",
        {"type": "starts-with", "value": "## Your refund"},
        seen(corpus.SUPPORT_MARKDOWN),
        True,
    ),
    ("starts-with-fence", {"type": "starts-with", "value": "{"}, seen(corpus.FENCED_JSON), False),
    ("regex", {"type": "regex", "value": r"A-\d{4}"}, seen(corpus.JAPANESE), True),
    ("regex-inline-flag", {"type": "regex", "value": r"(?i)^great news"}, seen(corpus.EMOJI), True),
    ("regex-absent", {"type": "regex", "value": r"\bB-\d+"}, seen(corpus.ARABIC), False),
    ("is-json", {"type": "is-json"}, seen(corpus.PLAIN_JSON), True),
    ("is-json-fenced", {"type": "is-json"}, seen(corpus.FENCED_JSON), False),
    ("is-json-nan", {"type": "is-json"}, seen(corpus.JSON_WITH_NAN), False),
    (
        "is-json-schema",
        {"type": "is-json", "value": corpus.INTENT_SCHEMA},
        seen(corpus.PRETTY_JSON),
        True,
    ),
    (
        "is-json-schema-missing",
        {"type": "is-json", "value": corpus.INTENT_SCHEMA},
        seen(corpus.JSON_MISSING_INTENT),
        False,
    ),
    (
        "is-json-yaml-schema",
        {"type": "is-json", "value": corpus.INTENT_SCHEMA_YAML},
        seen(corpus.PLAIN_JSON),
        True,
    ),
    ("contains-json-fenced", {"type": "contains-json"}, seen(corpus.JSON_AFTER_PROSE), True),
    ("contains-json-prose", {"type": "contains-json"}, seen(corpus.SUPPORT_MARKDOWN), False),
    (
        "contains-json-schema",
        {"type": "contains-json", "value": corpus.INTENT_SCHEMA},
        seen(corpus.JSON_AFTER_PROSE),
        True,
    ),
    (
        "contains-json-schema-fails",
        {"type": "contains-json", "value": corpus.INTENT_SCHEMA},
        seen("Result: " + corpus.JSON_MISSING_INTENT),
        False,
    ),
    ("max-length", {"type": "max-length", "value": 1000}, seen(corpus.SUPPORT_MARKDOWN), True),
    ("max-length-over", {"type": "max-length", "value": 100}, seen(corpus.SUPPORT_MARKDOWN), False),
    (
        "max-length-counts-characters",
        {"type": "max-length", "value": len(corpus.JAPANESE)},
        seen(corpus.JAPANESE),
        True,
    ),
    ("latency", {"type": "latency", "threshold": 1000}, seen(latency_ms=640.0), True),
    ("latency-over", {"type": "latency", "threshold": 1000}, seen(latency_ms=1532.0), False),
    ("cost", {"type": "cost", "threshold": 0.002}, seen(cost=Decimal("0.00123")), True),
    ("cost-over", {"type": "cost", "threshold": 0.001}, seen(cost=Decimal("0.00123")), False),
    (
        "similar-reference",
        {"type": "similar"},
        seen(corpus.SUPPORT_MARKDOWN, reference=corpus.SUPPORT_MARKDOWN.replace("lovely", "great")),
        True,
    ),
    (
        "similar-other-answer",
        {"type": "similar", "threshold": 0.8},
        seen(corpus.GERMAN, reference=corpus.SUPPORT_MARKDOWN),
        False,
    ),
    (
        "similar-value",
        {"type": "similar", "value": "Your order has shipped", "threshold": 0.9},
        seen("Your order has shipped!"),
        True,
    ),
    (
        "levenshtein",
        {"type": "levenshtein", "value": "Your order has shipped."},
        seen("Your order has shipped!"),
        True,
    ),
    (
        "levenshtein-far",
        {"type": "levenshtein", "value": "Your order has shipped.", "threshold": 2},
        seen("Your parcel is on its way."),
        False,
    ),
    ("is-refusal-curly", {"type": "is-refusal"}, seen(corpus.REFUSAL_CURLY), True),
    ("is-refusal-plain", {"type": "is-refusal"}, seen(corpus.REFUSAL_PLAIN), True),
    ("is-refusal-empty", {"type": "is-refusal"}, seen("   \n"), True),
    ("is-refusal-apology", {"type": "is-refusal"}, seen(corpus.APOLOGY_NOT_REFUSAL), False),
    ("is-refusal-answer", {"type": "is-refusal"}, seen(corpus.SUPPORT_MARKDOWN), False),
    ("finish-reason", {"type": "finish-reason", "value": "stop"}, seen(finish_reason="stop"), True),
    (
        "finish-reason-length",
        {"type": "finish-reason", "value": "stop"},
        seen(corpus.SUPPORT_TRUNCATED, finish_reason="length"),
        False,
    ),
    ("tool-call-any", {"type": "tool-call"}, seen(tool_calls=[corpus.LOOKUP_ORDER]), True),
    ("tool-call-none", {"type": "tool-call"}, seen("Let me check that for you."), False),
    (
        "tool-call-name",
        {"type": "tool-call", "value": {"name": "create_ticket"}},
        seen(tool_calls=[corpus.LOOKUP_ORDER, corpus.CREATE_TICKET]),
        True,
    ),
    (
        "tool-call-nested-subset",
        {
            "type": "tool-call",
            "value": {
                "name": "create_ticket",
                "arguments": {"priority": "high", "customer": corpus.TICKET_ARGUMENTS["customer"]},
            },
        },
        seen(tool_calls=[corpus.CREATE_TICKET]),
        True,
    ),
    (
        "tool-call-nested-differs",
        {
            "type": "tool-call",
            "value": {
                "name": "create_ticket",
                "arguments": {"customer": {"id": "C-77", "tier": "silver", "locale": "de-DE"}},
            },
        },
        seen(tool_calls=[corpus.CREATE_TICKET]),
        False,
    ),
    (
        "tool-call-wrong-tool",
        {"type": "tool-call", "value": {"name": "create_ticket"}},
        seen(tool_calls=[corpus.LOOKUP_ORDER]),
        False,
    ),
    (
        "tool-call-schema",
        {
            "type": "tool-call",
            "value": {
                "name": "create_ticket",
                "schema": {
                    "type": "object",
                    "required": ["priority"],
                    "properties": {"priority": {"enum": ["low", "high"]}},
                },
            },
        },
        seen(tool_calls=[corpus.CREATE_TICKET]),
        True,
    ),
    (
        "tool-call-schema-fails",
        {
            "type": "tool-call",
            "value": {
                "name": "create_ticket",
                "schema": {"type": "object", "required": ["due_date"]},
            },
        },
        seen(tool_calls=[corpus.CREATE_TICKET]),
        False,
    ),
]


def _not(raw: dict) -> dict:
    return {**raw, "type": "not-" + raw["type"]}


@pytest.mark.parametrize(
    ("assertion", "observed", "holds"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_the_positive_form(assertion: dict, observed: Observed, holds: bool) -> None:
    outcome = evaluate(one(assertion), observed)
    assert outcome.passed is holds, outcome.reason
    if assertion["type"] not in ("similar", "levenshtein"):
        assert outcome.score == (1.0 if holds else 0.0)
    assert outcome.type == assertion["type"]
    assert 0 < len(outcome.reason) <= 300


@pytest.mark.parametrize(
    ("assertion", "observed", "holds"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_the_not_form_negates_it(assertion: dict, observed: Observed, holds: bool) -> None:
    positive = evaluate(one(assertion), observed)
    negated = evaluate(one(_not(assertion)), observed)
    assert negated.passed is (not holds), negated.reason
    assert negated.type == "not-" + assertion["type"]
    assert negated.score == pytest.approx(1.0 - positive.score)
    if not negated.passed:
        assert negated.reason.startswith("expected ")


def test_the_table_covers_every_type_both_ways() -> None:
    """A new type without rows (passing and failing) fails here, so its not- form is tested."""
    covered = {(r[1]["type"], r[3]) for r in ROWS}
    unjudged = {t for t in ASSERTION_TYPES if not t.startswith("not-")} - JUDGED_TYPES
    for name in unjudged:
        assert (name, True) in covered and (name, False) in covered, name
    assert {"not-" + t for t in unjudged} <= ASSERTION_TYPES


# Checks that cannot be made fail in both forms: "we could not tell" never reads as a pass.
UNDECIDABLE = [
    (
        "latency-not-measured",
        {"type": "latency", "threshold": 1000},
        seen(latency_ms=None),
        "no latency was measured",
    ),
    (
        "cost-no-price",
        {"type": "cost", "threshold": 0.01},
        seen(cost=None),
        "no price known for this model version; set its prices or import the catalog",
    ),
    ("similar-no-reference", {"type": "similar"}, seen("anything"), "no reference to compare with"),
    ("levenshtein-no-reference", {"type": "levenshtein"}, seen("anything"), "no reference"),
    (
        "tool-call-broken-arguments",
        {
            "type": "tool-call",
            "value": {"name": "create_ticket", "arguments": {"priority": "high"}},
        },
        seen(tool_calls=[corpus.BROKEN_TICKET]),
        "create_ticket arguments are not JSON: Unterminated string",
    ),
    (
        "finish-reason-unknown",
        {"type": "finish-reason", "value": "stop"},
        seen(finish_reason=None),
        "no finish reason",
    ),
]


@pytest.mark.parametrize(
    ("assertion", "observed", "reason"),
    [r[1:] for r in UNDECIDABLE],
    ids=[r[0] for r in UNDECIDABLE],
)
def test_a_check_that_cannot_be_made_fails_both_forms(
    assertion: dict, observed: Observed, reason: str
) -> None:
    for raw in (assertion, _not(assertion)):
        outcome = evaluate(one(raw), observed)
        assert outcome.passed is False
        assert outcome.score == 0.0
        assert reason in outcome.reason


# --- reasons a release manager can read ----------------------------------------------------

REASONS = [
    (
        {"type": "icontains", "value": "refund"},
        seen(corpus.GERMAN),
        'expected the output to contain "refund" (case-insensitive); it does not',
    ),
    (
        {"type": "is-json"},
        seen(corpus.FENCED_JSON),
        'not JSON: Expecting value at line 1 column 1 (the answer starts with "```json")',
    ),
    (
        {"type": "is-json", "value": corpus.INTENT_SCHEMA},
        seen(corpus.JSON_MISSING_INTENT),
        "schema: 'intent' is a required property (at $)",
    ),
    (
        {"type": "is-json", "value": corpus.INTENT_SCHEMA},
        seen('{"intent": "refund", "order_id": "A-1", "items": [{"sku": "x", "qty": 0}]}'),
        "(at $.items[0].qty)",
    ),
    (
        {"type": "latency", "threshold": 1000},
        seen(latency_ms=1532.4),
        "latency 1532 ms > budget 1000 ms",
    ),
    (
        {"type": "cost", "threshold": 0.001},
        seen(cost=Decimal("0.00123")),
        "cost $0.00123 > budget $0.001",
    ),
    (
        {"type": "contains", "value": "don't need"},
        seen(corpus.SUPPORT_MARKDOWN),
        "it does with curly quotes written as straight ones",
    ),
    (
        {"type": "not-contains", "value": "sorry"},
        seen(corpus.SUPPORT_MARKDOWN),
        'expected the output not to contain "sorry"; it does, at character',
    ),
    (
        {"type": "contains-all", "value": "refund, 4242, PayPal"},
        seen(corpus.SUPPORT_MARKDOWN),
        'missing "PayPal"',
    ),
    (
        {"type": "equals", "value": "refund"},
        seen("refund\n"),
        "differs only in leading or trailing whitespace",
    ),
    (
        {"type": "equals", "value": corpus.INTENT},
        seen(corpus.PLAIN_JSON.replace("refund", "exchange")),
        'at $.intent: expected "refund", got "exchange"',
    ),
    (
        {"type": "not-is-refusal"},
        seen(corpus.REFUSAL_CURLY),
        'expected an answer (no refusal); the answer declines: "I’m sorry, but I can’t help',
    ),
    (
        {"type": "tool-call", "value": {"name": "create_ticket"}},
        seen(tool_calls=[corpus.LOOKUP_ORDER]),
        "expected a call to create_ticket; the answer called lookup_order instead",
    ),
    (
        {"type": "tool-call", "value": {"name": "create_ticket", "arguments": {"priority": "low"}}},
        seen(tool_calls=[corpus.CREATE_TICKET]),
        'arguments differ at $.priority: expected "low", got "high"',
    ),
    (
        {"type": "max-length", "value": 100},
        seen(corpus.SUPPORT_MARKDOWN),
        f"{len(corpus.SUPPORT_MARKDOWN)} characters > limit 100",
    ),
    (
        {"type": "similar", "threshold": 0.8},
        seen(corpus.GERMAN, reference=corpus.SUPPORT_MARKDOWN),
        "similarity to the reference 0.",
    ),
    (
        {"type": "finish-reason", "value": "stop"},
        seen(finish_reason="length"),
        'expected the call to finish with "stop"; it finished with "length"',
    ),
]


@pytest.mark.parametrize(("assertion", "observed", "reason"), REASONS)
def test_the_reason_says_what_was_expected_and_found(
    assertion: dict, observed: Observed, reason: str
) -> None:
    assert reason in evaluate(one(assertion), observed).reason


def test_a_reason_quotes_little_of_a_long_output() -> None:
    output = "x" * 5_000 + " refund " + "y" * 5_000
    outcome = evaluate(one({"type": "not-contains", "value": "refund"}), seen(output))
    assert not outcome.passed
    assert len(outcome.reason) <= 300
    assert "refund" in outcome.reason and "…" in outcome.reason


def test_a_reason_keeps_newlines_on_one_line() -> None:
    outcome = evaluate(one({"type": "starts-with", "value": "{"}), seen(corpus.FENCED_JSON))
    assert "\n" not in outcome.reason
    assert "```json\\n" in outcome.reason


# --- scores -------------------------------------------------------------------------------


def test_similar_scores_the_ratio_and_levenshtein_the_normalised_distance() -> None:
    similar = evaluate(one({"type": "similar", "value": "abcd"}), seen("abce"))
    assert similar.score == pytest.approx(0.75)
    assert not similar.passed  # below the default of 0.8
    lev = evaluate(one({"type": "levenshtein", "value": "abcdefghij"}), seen("abcdefghXY"))
    assert lev.score == pytest.approx(0.8)  # 2 edits over 10 characters
    assert lev.passed  # 2 <= the default of 5
    far = evaluate(one({"type": "levenshtein", "value": "ab"}), seen("a much longer answer"))
    assert far.score == pytest.approx(1 - 19 / 20)  # keeps "a", 19 edits over 20 characters


def test_similar_prefers_the_value_over_the_reference() -> None:
    observed = seen("Your order has shipped.", reference="Completely different text here")
    assert evaluate(one({"type": "similar", "value": "Your order has shipped"}), observed).passed
    assert not evaluate(one({"type": "similar"}), observed).passed


def test_weight_and_metric_are_carried_into_the_outcome() -> None:
    outcome = evaluate(
        one({"type": "contains", "value": "refund", "weight": 3, "metric": "accuracy"}),
        seen(corpus.SUPPORT_MARKDOWN),
    )
    assert (outcome.weight, outcome.metric) == (3.0, "accuracy")
    assert outcome.to_json() == {
        "type": "contains",
        "passed": True,
        "score": 1.0,
        "reason": outcome.reason,
        "weight": 3.0,
        "metric": "accuracy",
    }
    assert Outcome.from_json(outcome.to_json()) == outcome


# --- bounded work on untrusted output --------------------------------------------------------


def test_regex_searches_only_the_first_200000_characters() -> None:
    output = "a" * 200_000 + "NEEDLE"
    outcome = evaluate(one({"type": "regex", "value": "NEEDLE"}), seen(output))
    assert not outcome.passed
    assert "first 200,000 characters" in outcome.reason
    assert evaluate(one({"type": "contains", "value": "NEEDLE"}), seen(output)).passed


def test_contains_json_on_a_long_brace_storm_stays_fast() -> None:
    output = "{[" * 300_000
    started = time.perf_counter()
    outcome = evaluate(one({"type": "contains-json"}), seen(output))
    assert not outcome.passed
    assert time.perf_counter() - started < 5


def test_similar_on_huge_outputs_stays_fast_and_says_it_cut() -> None:
    big = corpus.SUPPORT_MARKDOWN * 400  # ~200,000 characters
    started = time.perf_counter()
    outcome = evaluate(one({"type": "similar"}), seen(big, reference=big[::-1]))
    assert time.perf_counter() - started < 10
    assert "first 50,000 characters compared" in outcome.reason


# --- judged assertions ----------------------------------------------------------------------

RUBRIC = {"type": "llm-rubric", "value": "Apologises once and states the refund amount."}


@pytest.mark.parametrize("assertion_type", sorted(JUDGED_TYPES))
def test_evaluate_refuses_judged_types(assertion_type: str) -> None:
    with pytest.raises(ValueError, match="judge"):
        evaluate(one({**RUBRIC, "type": assertion_type}), seen(corpus.SUPPORT_MARKDOWN))


def test_a_grade_becomes_an_outcome_with_the_judges_reasoning() -> None:
    outcome = outcome_from_grade(one(RUBRIC), True, 0.9, "States €49.90 and apologises once.")
    assert (outcome.passed, outcome.score) == (True, 0.9)
    assert outcome.judge == {"reasoning": "States €49.90 and apologises once."}
    assert "rubric met" in outcome.reason and "€49.90" in outcome.reason
    assert outcome.to_json()["judge"] == {"reasoning": "States €49.90 and apologises once."}


def test_a_threshold_on_the_rubric_lets_the_score_decide() -> None:
    strict = one({**RUBRIC, "threshold": 0.95})
    assert not outcome_from_grade(strict, True, 0.9, "close").passed
    assert outcome_from_grade(strict, False, 0.95, "enough").passed


def test_a_grade_without_a_verdict_uses_the_score_and_without_either_fails() -> None:
    assert outcome_from_grade(one(RUBRIC), None, 0.7, "ok").passed
    assert not outcome_from_grade(one(RUBRIC), None, 0.3, "weak").passed
    empty = outcome_from_grade(one(RUBRIC), None, None, "")
    assert not empty.passed and "neither a verdict nor a score" in empty.reason
    assert outcome_from_grade(one(RUBRIC), False, None, "no refund amount").score == 0.0


def test_not_llm_rubric_negates_the_grade() -> None:
    outcome = outcome_from_grade(one({**RUBRIC, "type": "not-llm-rubric"}), True, 0.9, "it does")
    assert not outcome.passed
    assert outcome.score == pytest.approx(0.1)
    assert outcome.reason.startswith("expected the rubric not to be met")


# --- the case verdict -----------------------------------------------------------------------


def _o(passed: bool, score: float | None = None, weight: float = 1.0) -> Outcome:
    value = score if score is not None else (1.0 if passed else 0.0)
    return Outcome(type="contains", passed=passed, score=value, reason="", weight=weight)


VERDICTS = [
    ("all-pass", [_o(True), _o(True)], None, (True, 1.0)),
    ("one-fails", [_o(True), _o(True), _o(False)], None, (False, pytest.approx(2 / 3))),
    ("weight-zero-failure-ignored", [_o(True), _o(False, weight=0)], None, (True, 1.0)),
    ("weighted-score", [_o(True, weight=3), _o(False, weight=1)], None, (False, 0.75)),
    (
        "threshold-reached-despite-a-failure",
        [_o(True, weight=3), _o(False, weight=1)],
        0.75,
        (True, 0.75),
    ),
    ("threshold-missed", [_o(True), _o(False)], 0.6, (False, 0.5)),
    (
        "float-sum-reaches-threshold",
        [_o(True, 0.7), _o(True, 0.8), _o(True, 0.9)],
        0.8,
        (True, pytest.approx(0.8)),
    ),
    ("all-weights-zero-unweighted", [_o(True, weight=0), _o(False, weight=0)], None, (False, 0.5)),
    ("graded-scores", [_o(True, 0.9), _o(False, 0.4)], 0.6, (True, pytest.approx(0.65))),
]


@pytest.mark.parametrize(
    ("outcomes", "threshold", "expected"), [v[1:] for v in VERDICTS], ids=[v[0] for v in VERDICTS]
)
def test_case_verdict(
    outcomes: list[Outcome], threshold: float | None, expected: tuple[bool, float]
) -> None:
    assert case_verdict(outcomes, threshold) == expected


def test_a_case_without_assertions_passes_on_a_non_empty_output() -> None:
    assert case_verdict([], None, output=corpus.EMOJI) == (True, 1.0)
    assert case_verdict([], None, output="  \n") == (False, 0.0)
    assert case_verdict([], 0.5) == (True, 1.0)
