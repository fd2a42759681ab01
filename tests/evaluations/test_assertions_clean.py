"""Assertions checked at save time: every malformed shape is refused with the field named
(`assertions[0].value`) and a fix, never at run time; good input comes back normalised."""

import pytest
from django.core.exceptions import ValidationError

from evaluations.assertions import (
    ASSERTION_TYPES,
    UNSUPPORTED_HINT,
    clean_assertions,
    is_supported,
)
from tests.evaluations import assertion_corpus as corpus


def refusal(raw: object, **kwargs: str) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        clean_assertions(raw, **kwargs)
    return caught.value.message_dict


TICKET = "create_ticket"

# (id, one assertion as written, the field named, a fragment of the message)
MALFORMED: list[tuple[str, object, str, str]] = [
    (
        "regex-unbalanced",
        {"type": "regex", "value": "(refund"},
        "value",
        "not a valid regular expression: missing ), unterminated subpattern",
    ),
    ("regex-bad-escape", {"type": "not-regex", "value": r"\p{L}+"}, "value", "bad escape"),
    (
        "regex-catastrophic",
        {"type": "regex", "value": r"^(\w+\s?)*$"},
        "value",
        "nested repetition",
    ),
    ("regex-too-long", {"type": "regex", "value": "a" * 1001}, "value", "keep it under 1000"),
    ("regex-missing", {"type": "regex"}, "value", "regex needs a value"),
    (
        "schema-unknown-type",
        {"type": "is-json", "value": {"type": "objekt"}},
        "value",
        "not a valid JSON Schema",
    ),
    (
        "schema-bad-required",
        {"type": "contains-json", "value": {"type": "object", "required": "intent"}},
        "value",
        "(at $.required)",
    ),
    (
        "schema-unreadable-text",
        {"type": "is-json", "value": "{type: [object"},
        "value",
        "neither JSON nor YAML",
    ),
    (
        "schema-not-an-object",
        {"type": "not-is-json", "value": "[1, 2]"},
        "value",
        "must be an object",
    ),
    (
        "tool-schema-bad",
        {"type": "tool-call", "value": {"name": TICKET, "schema": {"type": 5}}},
        "value.schema",
        "not a valid JSON Schema",
    ),
    (
        "tool-unknown-key",
        {"type": "tool-call", "value": {"name": TICKET, "args": {}}},
        "value.args",
        "use name, arguments, schema",
    ),
    (
        "tool-no-name",
        {"type": "tool-call", "value": {"arguments": {"priority": "high"}}},
        "value.name",
        "give the name of the tool",
    ),
    (
        "tool-arguments-list",
        {"type": "tool-call", "value": {"name": TICKET, "arguments": ["high"]}},
        "value.arguments",
        "as an object",
    ),
    (
        "tool-arguments-bad-json",
        {"type": "tool-call", "value": {"name": TICKET, "arguments": '{"a": '}},
        "value.arguments",
        "not JSON",
    ),
    ("tool-value-number", {"type": "tool-call", "value": 3}, "value", "needs an object"),
    ("equals-missing", {"type": "equals"}, "value", "equals needs a value"),
    ("contains-missing", {"type": "contains"}, "value", "contains needs a value"),
    ("contains-empty", {"type": "not-icontains", "value": ""}, "value", "icontains needs a value"),
    (
        "contains-object",
        {"type": "contains", "value": {"text": "refund"}},
        "value",
        "give a text value",
    ),
    (
        "contains-file-reference",
        {"type": "contains", "value": "file://expected.txt"},
        "value",
        "paste the text itself",
    ),
    (
        "starts-with-missing",
        {"type": "starts-with", "value": None},
        "value",
        "starts-with needs a value",
    ),
    ("contains-any-empty-list", {"type": "contains-any", "value": []}, "value", "a list of texts"),
    (
        "contains-all-only-commas",
        {"type": "contains-all", "value": " , ,"},
        "value",
        "at least one non-empty text",
    ),
    (
        "contains-any-object",
        {"type": "icontains-any", "value": {"a": 1}},
        "value",
        "needs a list of texts",
    ),
    (
        "contains-all-nested-list",
        {"type": "icontains-all", "value": [["refund"]]},
        "value",
        "give a text value",
    ),
    ("max-length-missing", {"type": "max-length"}, "value", "the most characters"),
    ("max-length-words", {"type": "max-length", "value": "two hundred"}, "value", "whole number"),
    ("max-length-zero", {"type": "max-length", "value": 0}, "value", "at least 1"),
    ("max-length-bool", {"type": "max-length", "value": True}, "value", "whole number"),
    ("rubric-missing", {"type": "llm-rubric"}, "value", "llm-rubric needs a value"),
    (
        "rubric-blank",
        {"type": "llm-rubric", "value": "   "},
        "value",
        "the rubric the judge grades",
    ),
    ("finish-reason-missing", {"type": "finish-reason"}, "value", "finish-reason needs a value"),
    ("refusal-with-value", {"type": "is-refusal", "value": "sorry"}, "value", "takes no value"),
    (
        "latency-value-not-threshold",
        {"type": "latency", "value": 1000, "threshold": 1000},
        "value",
        "put the budget in milliseconds in threshold",
    ),
    ("latency-no-threshold", {"type": "latency"}, "threshold", "latency needs a threshold"),
    (
        "cost-no-threshold",
        {"type": "not-cost"},
        "threshold",
        "needs a threshold: a cost budget in US dollars",
    ),
    (
        "latency-zero",
        {"type": "latency", "threshold": 0},
        "threshold",
        "a latency budget in milliseconds; got 0",
    ),
    ("cost-negative", {"type": "cost", "threshold": -0.01}, "threshold", "got -0.01"),
    (
        "similar-above-one",
        {"type": "similar", "value": "x", "threshold": 1.5},
        "threshold",
        "a score from 0 to 1; got 1.5",
    ),
    (
        "similar-below-zero",
        {"type": "not-similar", "threshold": -0.1},
        "threshold",
        "a score from 0 to 1",
    ),
    (
        "rubric-threshold-above-one",
        {"type": "llm-rubric", "value": "polite", "threshold": 7},
        "threshold",
        "from 0 to 1",
    ),
    (
        "levenshtein-negative",
        {"type": "levenshtein", "value": "x", "threshold": -1},
        "threshold",
        "0 or more",
    ),
    ("threshold-text", {"type": "similar", "threshold": "high"}, "threshold", "must be a number"),
    ("threshold-bool", {"type": "similar", "threshold": True}, "threshold", "not true"),
    ("threshold-nan", {"type": "similar", "threshold": "nan"}, "threshold", "finite"),
    (
        "weight-negative",
        {"type": "contains", "value": "refund", "weight": -1},
        "weight",
        "give a weight of 0 or more",
    ),
    (
        "weight-text",
        {"type": "contains", "value": "refund", "weight": "heavy"},
        "weight",
        "must be a number",
    ),
    (
        "weight-infinite",
        {"type": "contains", "value": "refund", "weight": float("inf")},
        "weight",
        "finite",
    ),
    (
        "metric-number",
        {"type": "contains", "value": "refund", "metric": 3},
        "metric",
        "give the metric a name",
    ),
    (
        "metric-long",
        {"type": "contains", "value": "refund", "metric": "m" * 101},
        "metric",
        "under 100",
    ),
    (
        "unknown-key",
        {"type": "contains", "valu": "refund"},
        "valu",
        "unknown key; use type, value, threshold, weight or metric",
    ),
    (
        "promptfoo-only-key",
        {"type": "contains", "value": "x", "transform": "output.trim()"},
        "transform",
        "unknown key",
    ),
    ("no-type", {"value": "refund"}, "type", "give the assertion a type"),
    ("type-number", {"type": 7, "value": "refund"}, "type", "give the assertion a type"),
    ("unknown-type", {"type": "contians", "value": "refund"}, "type", 'did you mean "contains"?'),
    (
        "unknown-not-type",
        {"type": "not-contians", "value": "refund"},
        "type",
        'did you mean "not-contains"?',
    ),
]


@pytest.mark.parametrize(
    ("raw", "key", "fragment"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_a_malformed_assertion_is_refused_naming_the_field(
    raw: object, key: str, fragment: str
) -> None:
    errors = refusal([{"type": "contains", "value": "ok"}, raw])
    field = f"assertions[1].{key}"
    assert field in errors, errors
    assert any(fragment in message for message in errors[field]), errors[field]
    assert "assertions[0].value" not in errors and "assertions[0].type" not in errors


UNSUPPORTED = [
    "javascript",
    "python",
    "webhook",
    "model-graded-closedqa",
    "answer-relevance",
    "moderation",
    "perplexity",
    "classifier",
    "select-best",
    "factuality",
    "rouge-n",
    "is-xml",
    "is-valid-openai-tools-call",
    "not-javascript",
    "some-future-type",
]


@pytest.mark.parametrize("assertion_type", UNSUPPORTED)
def test_a_type_the_product_does_not_run_is_refused_by_name(assertion_type: str) -> None:
    errors = refusal([{"type": assertion_type, "value": "output.length < 500"}])
    (message,) = errors["assertions[0].type"]
    assert f'"{assertion_type}"' in message
    assert "does not run" in message
    assert not is_supported(assertion_type)
    hint = UNSUPPORTED_HINT(assertion_type)
    assert hint == message and hint.endswith((".", "?"))


def test_the_hint_says_what_to_write_instead() -> None:
    assert "llm-rubric" in UNSUPPORTED_HINT("model-graded-closedqa")
    assert "regex" in UNSUPPORTED_HINT("javascript")
    assert "similar" in UNSUPPORTED_HINT("bleu")
    assert "tool-call" in UNSUPPORTED_HINT("is-valid-openai-tools-call")


def test_every_supported_type_and_its_not_form_is_supported() -> None:
    assert {
        "contains",
        "not-contains",
        "is-json",
        "not-is-json",
        "llm-rubric",
        "not-is-refusal",
    } <= ASSERTION_TYPES
    assert all(is_supported(t) for t in ASSERTION_TYPES)
    assert not is_supported("not-not-contains")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"type": "contains"}, "give a list of assertions"),
        ("contains: refund", "give a list of assertions"),
        (42, "give a list of assertions"),
    ],
)
def test_something_other_than_a_list_is_refused_as_a_whole(raw: object, expected: str) -> None:
    errors = refusal(raw)
    assert list(errors) == ["assertions"]
    assert expected in errors["assertions"][0]


def test_the_field_prefix_follows_the_caller() -> None:
    errors = refusal([{"type": "regex", "value": "("}], field="defaultTest.assert")
    assert list(errors) == ["defaultTest.assert[0].value"]
    assert list(refusal({}, field="tests[3].assert")) == ["tests[3].assert"]


def test_an_entry_that_is_not_an_object_is_named_by_its_index() -> None:
    errors = refusal([{"type": "is-json"}, "contains refund", ["regex"]])
    assert errors["assertions[1]"] == [
        'give an assertion object {type, value}, not "contains refund"'
    ]
    assert "an array" in errors["assertions[2]"][0]


def test_every_problem_is_reported_at_once() -> None:
    errors = refusal(
        [
            {"type": "regex", "value": "[", "weight": -2},
            {"type": "is-json", "value": {"type": "objekt"}},
            {"type": "javascript", "value": "true"},
            {"type": "similar", "threshold": 2, "valu": "x"},
        ]
    )
    assert set(errors) == {
        "assertions[0].value",
        "assertions[0].weight",
        "assertions[1].value",
        "assertions[2].type",
        "assertions[3].threshold",
        "assertions[3].valu",
    }


# --- what comes back ------------------------------------------------------------------------


def test_the_cleaned_shape_has_every_key_with_defaults() -> None:
    (cleaned,) = clean_assertions([{"type": "is-json"}])
    assert cleaned == {
        "type": "is-json",
        "value": None,
        "threshold": None,
        "weight": 1.0,
        "metric": "",
    }


def test_promptfoo_forms_are_normalised() -> None:
    cleaned = clean_assertions(
        [
            {"type": "contains-any", "value": " refund , return,exchange "},
            {"type": "contains", "value": 42, "weight": "2", "metric": " accuracy "},
            {"type": "is-json", "value": corpus.INTENT_SCHEMA_YAML},
            {
                "type": "tool-call",
                "value": {"name": " create_ticket ", "arguments": '{"priority": "high"}'},
            },
            {"type": "tool-call", "value": "lookup_order"},
            {"type": "Not-IContains", "value": "Entschuldigung"},
            {"type": "similar", "threshold": "0.75", "weight": 0},
            {"type": "max-length", "value": "500"},
            {"type": "equals", "value": {"intent": "refund"}},
        ]
    )
    assert cleaned[0]["value"] == ["refund", "return", "exchange"]
    assert (cleaned[1]["value"], cleaned[1]["weight"], cleaned[1]["metric"]) == (
        "42",
        2.0,
        "accuracy",
    )
    assert cleaned[2]["value"]["required"] == ["intent", "order_id"]
    assert cleaned[3]["value"] == {
        "name": "create_ticket",
        "arguments": {"priority": "high"},
        "schema": None,
    }
    assert cleaned[4]["value"] == {"name": "lookup_order", "arguments": {}, "schema": None}
    assert cleaned[5]["type"] == "not-icontains"
    assert (cleaned[6]["threshold"], cleaned[6]["weight"]) == (0.75, 0.0)
    assert cleaned[7]["value"] == 500
    assert cleaned[8]["value"] == {"intent": "refund"}


def test_cleaning_twice_changes_nothing() -> None:
    raw = [
        {"type": "icontains-all", "value": "refund, 4242"},
        {"type": "tool-call", "value": {"name": "create_ticket", "schema": {"type": "object"}}},
        {"type": "latency", "threshold": 1500, "weight": 2},
        {"type": "llm-rubric", "value": "Polite and states the amount.", "threshold": 0.7},
    ]
    once = clean_assertions(raw)
    assert clean_assertions(once) == once


def test_nothing_means_no_assertions() -> None:
    assert clean_assertions(None) == []
    assert clean_assertions("") == []
    assert clean_assertions([]) == []
