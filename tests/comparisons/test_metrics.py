import pytest

from comparisons.metrics import compare, flags, parse_json, structure_diff


def test_identical_answers_are_an_exact_match_and_not_flagged():
    m = compare(baseline="Your refund is on its way.", candidate="Your refund is on its way.")
    assert (m.exact, m.similarity, m.length_ratio) == (True, 1.0, 1.0)
    assert flags(m, similarity_below=0.5) == []


def test_similarity_is_word_level_and_normalised():
    m = compare(baseline="the parcel ships on monday", candidate="the parcel ships on friday")
    assert m.similarity == pytest.approx(0.8)
    assert not m.exact
    unrelated = compare(baseline="alpha beta gamma", candidate="delta epsilon zeta")
    assert unrelated.similarity == 0.0
    assert flags(unrelated, similarity_below=0.5) == ["low_similarity"]


@pytest.mark.parametrize(
    ("baseline", "candidate", "expected"),
    [
        (
            '{"intent": "billing", "confidence": 0.9}',
            '{"label": "billing", "confidence": 0.8}',
            ["structure_changed"],
        ),
        ('{"intent": "billing"}', '```json\n{"intent": "billing"}\n```', ["json_broken"]),
        ('{"n": 1}', '{"n": "1"}', ["structure_changed"]),
        ('{"intent": "billing", "c": 0.9}', '{"intent": "bug", "c": 0.9}', []),
        (
            "Sure, here is how to reset it.",
            "I'm sorry, but I can't help with that request.",
            ["candidate_refusal", "low_similarity"],
        ),
    ],
)
def test_flag_rules(baseline, candidate, expected):
    assert flags(compare(baseline=baseline, candidate=candidate), similarity_below=0.3) == expected


def test_a_candidate_error_is_flagged_and_not_judged_on_similarity():
    m = compare(baseline="Hello", candidate="", candidate_error=True)
    assert flags(m, similarity_below=0.9) == ["candidate_error"]


def test_a_shared_failure_or_refusal_is_no_regression():
    m = compare(baseline="I can't help with that.", candidate="I cannot help with that.")
    assert "candidate_refusal" not in flags(m, similarity_below=0.1)


def test_structure_diff_reports_nested_paths_and_value_changes():
    diff = structure_diff({"a": {"b": 1, "c": [1]}, "d": "x"}, {"a": {"b": 2, "e": 1}, "d": 3})
    assert diff.added == ["a.e"] and diff.removed == ["a.c"]
    assert diff.type_changed == ["d"] and diff.value_changed == ["a.b"]


def test_only_whole_text_json_counts():
    assert parse_json(' {"a": 1} ') == {"a": 1}
    assert parse_json('Here: {"a": 1}') is None
    assert parse_json("[1, 2") is None


def test_latency_delta_and_length_ratio():
    m = compare(baseline="ab", candidate="abcd", baseline_latency_ms=100, candidate_latency_ms=250)
    assert m.latency_delta_ms == 150 and m.length_ratio == 2.0
    assert compare(baseline="", candidate="x").length_ratio is None


def test_refusals_are_found_anywhere_and_hints_alone_are_not_refusals():
    long = "Here is some context. " * 200 + "I'm sorry, but I can't help with that request."
    assert compare(baseline="x", candidate=long).candidate_refusal
    assert not compare(baseline="x", candidate="Sorry for the wait! Here it is.").candidate_refusal
