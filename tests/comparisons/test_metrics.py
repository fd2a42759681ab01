# ruff: noqa: RUF001, RUF003 - curly quotes are what these texts are about
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
            ["json_structure_changed"],
        ),
        (
            '{"intent": "billing"}',
            '```json\n{"intent": "billing"}\n```',
            ["json_broken:candidate", "format_changed"],
        ),
        ('{"n": 1}', '{"n": "1"}', ["json_structure_changed"]),
        ('{"intent": "billing", "c": 0.9}', '{"intent": "bug", "c": 0.9}', []),
        (
            "Sure, here is how to reset it.",
            "I'm sorry, but I can't help with that request.",
            # Was also "low_similarity" (issue 8): similarity no longer flags free text.
            ["refusal:candidate"],
        ),
    ],
)
def test_flag_rules(baseline, candidate, expected):
    assert flags(compare(baseline=baseline, candidate=candidate), similarity_below=0.3) == expected


def test_a_candidate_error_is_flagged_and_not_judged_on_similarity():
    m = compare(baseline="Hello", candidate="", candidate_error=True)
    assert flags(m, similarity_below=0.9) == ["error:candidate"]


def test_a_shared_failure_or_refusal_is_no_regression():
    m = compare(baseline="I can't help with that.", candidate="I cannot help with that.")
    assert flags(m, similarity_below=0.1) == []


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


def test_a_curly_apostrophe_refusal_is_flagged_on_its_side():
    # Issue 8: "I’m sorry, but I can’t help with that." (U+2019) was missed.
    answer = "Sure! Open Billing, choose the months and click Export as CSV."
    refusal = "I’m sorry, but I can’t help with that."
    assert "refusal:candidate" in flags(compare(baseline=answer, candidate=refusal))
    assert "refusal:baseline" in flags(compare(baseline=refusal, candidate=answer))


def test_a_rewritten_free_text_answer_is_not_flagged_for_low_similarity():
    # Issue 8: every real pair (similarity 0.12-0.40) was flagged "low_similarity".
    baseline = (
        "Refunds go back to the card you paid with. Once we receive the returned item, it "
        "takes us up to two working days to process it, and your bank may need another three "
        "to five days to show it on your statement."
    )
    candidate = (
        "We refund to the original payment card. After the return reaches our warehouse we "
        "process it within two working days; your bank can then take three to five more days "
        "before it appears on your statement."
    )
    m = compare(baseline=baseline, candidate=candidate)
    assert m.similarity < 0.5
    assert flags(m, similarity_below=0.5) == []


def test_length_ratio_bounds_come_from_the_caller():
    m = compare(baseline="ships soon " * 10, candidate="ships soon " * 17)
    assert flags(m) == []
    assert flags(m, length_ratio_min=0.8, length_ratio_max=1.5) == ["length_ratio"]
    short = compare(baseline="Yes.", candidate="Yes, it does ship.")
    assert "length_ratio" not in flags(short)  # both too short for the ratio to mean anything


def test_truncation_and_tool_calls_are_compared():
    call = {"type": "function", "function": {"name": "refund", "arguments": '{"amount": 5}'}}
    same = {
        "id": "other",
        "type": "function",
        "function": {"name": "refund", "arguments": '{ "amount" : 5 }'},
    }
    assert (
        flags(
            compare(
                baseline="", candidate="", baseline_tool_calls=[call], candidate_tool_calls=[same]
            )
        )
        == []
    )
    m = compare(
        baseline="The parcel ships Monday.",
        candidate="The parcel ships",
        baseline_finish_reason="stop",
        candidate_finish_reason="length",
    )
    assert flags(m) == ["truncated:candidate"]


def test_the_language_identifier_runs_only_when_the_answers_share_few_common_words(monkeypatch):
    from comparisons import metrics

    calls = []
    real = metrics.language
    monkeypatch.setattr(metrics, "language", lambda text: calls.append(text) or real(text))
    english = (
        "To reset your password, open the settings page and choose the security tab. Then "
        "click the reset link and follow the instructions in the email we send to you."
    ) * 2
    rewrite = (
        "Open the settings page, choose the security tab and click the reset link; the email "
        "we send to you has the instructions to reset your password from there."
    ) * 2
    spanish = (
        "Para restablecer la contraseña, abra la página de configuración y elija la pestaña de "
        "seguridad. Luego haga clic en el enlace y siga las instrucciones del correo."
    ) * 2
    assert "language_changed" not in metrics.flags(
        metrics.compare(baseline=english, candidate=rewrite), similarity_below=0.5
    )
    assert calls == []  # same words, same language: the identifier is not asked
    assert "language_changed" in metrics.flags(
        metrics.compare(baseline=english, candidate=spanish), similarity_below=0.5
    )
    assert len(calls) == 2
