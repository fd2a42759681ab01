# ruff: noqa: RUF001 - curly quotes are what some of these texts are about
"""Golden cases from production (issue 9): a reviewed pair, or sampled traffic, into cases."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from comparisons.models import Adjudication, Label, ShadowPair
from evaluations.assertions import clean_assertions
from evaluations.models import Case
from evaluations.services.suites import suite_create
from registry.errors import DomainError
from registry.models import AuditEvent, Feedback, RequestLog
from registry.services.audit import db_now
from rollouts.services import rollouts
from rollouts.services.golden import (
    TrafficFilters,
    case_dimension,
    case_from_pair,
    cases_from_traffic,
    suggest_assertions,
    traffic_sample,
)


@pytest.fixture
def shadow_rollout(feature, make_config, make_version):
    """Overrides the shared fixture: a draft rollout is reviewable (imported pairs) and needs
    no eval gate, which golden cases do not care about."""
    candidate = make_config("support v2", make_version("gpt-4o-2024-11-20"))
    return rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)


INTENT = '{"intent": "refund", "order_id": "A-1042", "confidence": 0.93}'
FENCED = '```json\n{"intent": "refund", "order_id": "A-1042"}\n```'
REFUSAL = "I’m sorry, but I can’t help with that."
APOLOGY = "I’m sorry for the delay — your parcel “A-1042” ships on Monday."
MARKDOWN = "## Refund steps\n\n" + "\n".join(
    f"{n}. Open **Orders**, pick the order from 2024, and choose *Return item* (step {n})."
    for n in range(1, 16)
)


def _types(assertions: list[dict]) -> list[str]:
    return [a["type"] for a in assertions]


# --- suggest_assertions: a pure function of the two answers


def test_a_json_answer_gets_is_json_with_its_keys_required_and_no_fence():
    suggested = suggest_assertions(INTENT, FENCED)
    assert suggested[0] == {
        "type": "is-json",
        "value": {"type": "object", "required": ["intent", "order_id", "confidence"]},
    }
    assert {"type": "not-contains", "value": "```"} in suggested
    assert "similar" not in _types(suggested)  # JSON is checked by structure, not wording


def test_a_json_answer_against_plain_json_gets_no_fence_rule():
    suggested = suggest_assertions(INTENT, '{"intent": "refund"}')
    assert _types(suggested) == ["is-json"]


def test_a_fenced_reference_is_free_text_not_json():
    assert "is-json" not in _types(suggest_assertions(FENCED, INTENT))


def test_a_refusal_on_the_other_side_asks_for_no_refusal_curly_quotes_included():
    suggested = suggest_assertions("Your refund of €20 was issued today.", REFUSAL)
    assert _types(suggested) == ["not-is-refusal", "similar"]
    # Against the case's reference at run time (no copy of it to drift from an edit).
    assert suggested[1] == {"type": "similar", "threshold": 0.6}


def test_an_apology_that_helps_is_not_taken_for_a_refusal():
    assert "not-is-refusal" not in _types(suggest_assertions("It ships Monday.", APOLOGY))
    assert "is-refusal" not in _types(suggest_assertions(APOLOGY, "It ships Monday."))


def test_a_preferred_refusal_becomes_a_refusal_case_without_similarity():
    suggested = suggest_assertions(REFUSAL, "Sure, here is how to pick the lock: ...")
    assert _types(suggested) == ["is-refusal"]


def test_long_markdown_gets_a_length_budget_of_about_twice_its_size():
    suggested = suggest_assertions(MARKDOWN, "Go to Orders.")
    assert _types(suggested) == ["similar", "max-length"]
    budget = suggested[1]["value"]
    assert 2 * len(MARKDOWN) <= budget < 2 * len(MARKDOWN) + 100


def test_a_short_answer_has_no_length_budget():
    assert "max-length" not in _types(suggest_assertions("It ships Monday.", "Monday."))


def test_a_disliked_answer_is_never_a_similarity_target():
    assert "similar" not in _types(suggest_assertions("It ships Monday.", preferred=False))
    assert _types(suggest_assertions(REFUSAL, preferred=False)) == ["not-is-refusal"]


def test_an_empty_reference_suggests_nothing():
    assert suggest_assertions("  ", REFUSAL) == []


@pytest.mark.parametrize(
    "reference, other",
    [(INTENT, FENCED), ("Refund issued.", REFUSAL), (REFUSAL, "Sure."), (MARKDOWN, "")],
)
def test_every_suggestion_is_a_valid_assertion(reference, other):
    suggested = suggest_assertions(reference, other)
    assert clean_assertions(suggested) and len(clean_assertions(suggested)) == len(suggested)


# --- dimensions


@pytest.mark.parametrize(
    "tags, expected",
    [
        ([["other", "tone"]], "tone"),
        ([["reasoning"]], "accuracy"),
        ([[], ["safety", "format"]], "safety"),
        ([["other"]], "other"),
        ([], "other"),
    ],
)
def test_the_case_dimension_is_the_first_reviewer_tag_that_names_one(tags, expected):
    assert case_dimension([Label(dimensions=t) for t in tags]) == expected


# --- case_from_pair


@pytest.fixture
def suite(feature):
    return suite_create(feature=feature, actor=None, name="Golden")


@pytest.fixture
def label(cast):
    def make(pair: ShadowPair, verdict: str, *, who="reviewer", dimensions=(), critical=False):
        return Label.objects.create(
            pair=pair,
            reviewer=cast[who],
            verdict=verdict,
            dimensions=list(dimensions),
            critical=critical,
        )

    return make


@pytest.fixture
def pair(make_pair):
    return make_pair(baseline="Your parcel ships Monday.", candidate="It ships on Monday, 9 June.")


@pytest.mark.parametrize(
    "verdict, reference",
    [
        ("better", "It ships on Monday, 9 June."),
        ("worse", "Your parcel ships Monday."),
        ("same", "Your parcel ships Monday."),
    ],
)
def test_the_reference_is_the_preferred_answer(pair, suite, label, release, verdict, reference):
    label(pair, verdict)
    case = case_from_pair(pair=pair, suite=suite, actor=release)
    case.refresh_from_db()
    assert case.reference == reference
    assert case.messages == [{"role": "user", "content": "Where is my parcel?"}]
    assert (case.source, case.source_ref, case.draft) == ("pair", str(pair.code), False)
    assert "similar" in _types(case.assertions)
    assert AuditEvent.objects.filter(action="eval_case.create", object_id=str(case.code)).exists()


def test_both_bad_needs_a_written_reference(pair, suite, label, release):
    label(pair, "both_bad")
    with pytest.raises(ValidationError) as exc:
        case_from_pair(pair=pair, suite=suite, actor=release)
    assert "write the answer" in exc.value.message_dict["reference"][0]
    case = case_from_pair(pair=pair, suite=suite, actor=release, reference="It ships 9 June.")
    assert case.reference == "It ships 9 June."
    assert _types(case.assertions) == ["similar"]  # suggested for what was written


def test_the_reviewers_dimension_and_critical_mark_are_the_defaults(pair, suite, label, release):
    label(pair, "worse", dimensions=["other", "accuracy"], critical=True)
    case = case_from_pair(pair=pair, suite=suite, actor=release, critical=True)
    assert (case.dimension, case.critical) == ("accuracy", True)
    other = suite_create(feature=suite.feature, actor=None, name="Second")
    assert case_from_pair(pair=pair, suite=other, actor=release, dimension="tone").dimension == (
        "tone"
    )


def test_given_assertions_replace_the_suggestions(pair, suite, label, release):
    label(pair, "worse")
    given = [{"type": "icontains", "value": "monday"}]
    case = case_from_pair(pair=pair, suite=suite, actor=release, assertions=given)
    assert _types(case.assertions) == ["icontains"]


def test_a_malformed_regex_is_refused_naming_the_entry(pair, suite, label, release):
    label(pair, "worse")
    with pytest.raises(ValidationError) as exc:
        case_from_pair(
            pair=pair, suite=suite, actor=release, assertions=[{"type": "regex", "value": "(["}]
        )
    assert any(key.startswith("assertions[0]") for key in exc.value.message_dict)
    assert not Case.objects.exists()


def test_a_pair_is_added_to_a_suite_once(pair, suite, label, release):
    label(pair, "worse")
    first = case_from_pair(pair=pair, suite=suite, actor=release, name="Parcel date")
    with pytest.raises(ValidationError) as exc:
        case_from_pair(pair=pair, suite=suite, actor=release)
    assert exc.value.message_dict["suite"] == [
        "This pair is already in suite 'Golden' as case 'Parcel date'."
    ]
    assert list(Case.objects.values_list("pk", flat=True)) == [first.pk]


def test_a_suite_of_another_feature_is_refused(pair, label, release, other_feature):
    foreign = suite_create(feature=other_feature, actor=None, name="Summaries")
    label(pair, "worse")
    with pytest.raises(ValidationError) as exc:
        case_from_pair(pair=pair, suite=foreign, actor=release)
    assert "pick one of support-reply's suites" in exc.value.message_dict["suite"][0]
    assert not Case.objects.exists()


def test_an_unlabelled_or_disputed_pair_is_refused(pair, suite, label, release):
    with pytest.raises(DomainError, match="Nobody has labelled"):
        case_from_pair(pair=pair, suite=suite, actor=release)
    label(pair, "better")
    label(pair, "worse", who="release")
    with pytest.raises(DomainError, match="disagree"):
        case_from_pair(pair=pair, suite=suite, actor=release)
    Adjudication.objects.create(pair=pair, adjudicator=release, verdict="better", note="dated")
    case = case_from_pair(pair=pair, suite=suite, actor=release)
    assert case.reference == "It ships on Monday, 9 June."


# --- cases_from_traffic


@pytest.fixture
def log(feature):
    def make(request_id, *, hours_ago=1.0, output="It ships Monday.", **kwargs):
        return RequestLog.objects.create(
            feature=feature,
            request_id=request_id,
            source="ingest",
            config=feature.served_config,
            variant="baseline",
            messages=kwargs.pop("messages", [{"role": "user", "content": f"Ask {request_id}"}]),
            variables={"customer": "Ada"},
            output=output,
            started=db_now() - timedelta(hours=hours_ago),
            **kwargs,
        )

    return make


def _window(**kwargs):
    now = db_now()
    return {"start": now - timedelta(days=1), "end": now, **kwargs}


def test_traffic_becomes_draft_cases_with_the_served_answer(feature, suite, log, release):
    log("r-1", output=INTENT)
    log("r-old", hours_ago=48)  # outside the range
    log("r-failed", output="", error_kind="timeout", error="provider timed out")
    cases = cases_from_traffic(feature=feature, suite=suite, actor=release, **_window())
    assert [c.source_ref for c in cases] == ["r-1"]
    case = cases[0]
    assert (case.draft, case.source, case.reference) == (True, "traffic", INTENT)
    assert case.variables == {"customer": "Ada"}
    assert _types(case.assertions) == ["is-json"]


def test_requests_already_sampled_into_the_suite_are_skipped(feature, suite, log, release):
    log("r-1")
    assert len(cases_from_traffic(feature=feature, suite=suite, actor=release, **_window())) == 1
    log("r-2")
    again = cases_from_traffic(feature=feature, suite=suite, actor=release, **_window())
    assert [c.source_ref for c in again] == ["r-2"]
    assert Case.objects.filter(suite=suite).count() == 2


def test_only_flagged_takes_requests_with_a_flagged_pair(feature, suite, log, release, make_pair):
    flagged = make_pair(baseline="It ships Monday.", candidate=REFUSAL)
    plain = make_pair()
    assert flagged.flagged and not plain.flagged
    log("r-unpaired")
    cases = cases_from_traffic(
        feature=feature, suite=suite, actor=release, only_flagged=True, **_window()
    )
    assert [c.source_ref for c in cases] == [flagged.request_key]


def test_only_negative_takes_thumbs_down_and_low_scores(feature, suite, log, release):
    down, low, up, high = log("r-down"), log("r-low"), log("r-up"), log("r-high")
    Feedback.objects.create(request=down, kind="thumbs", value=-1)
    Feedback.objects.create(request=low, kind="score", value=2)
    Feedback.objects.create(request=up, kind="thumbs", value=1)
    Feedback.objects.create(request=high, kind="score", value=4)
    cases = cases_from_traffic(
        feature=feature, suite=suite, actor=release, only_negative=True, **_window()
    )
    assert sorted(c.source_ref for c in cases) == ["r-down", "r-low"]
    # A disliked answer is kept as the starting reference, never as something to resemble.
    assert all("similar" not in _types(c.assertions) for c in cases)
    assert all("negative feedback" in c.name for c in cases)


def test_the_sample_is_random_seeded_and_bounded(feature, suite, log, release):
    for n in range(12):
        log(f"r-{n}")
    other = suite_create(feature=feature, actor=None, name="Second")
    picks = [
        {
            c.source_ref
            for c in cases_from_traffic(
                feature=feature, suite=s, actor=release, size=4, seed=7, **_window()
            )
        }
        for s in (suite, other)
    ]
    assert len(picks[0]) == 4 and picks[0] == picks[1]


@pytest.mark.parametrize(
    "changes, field",
    [({"size": 0}, "size"), ({"size": 501}, "size"), ({"end": timedelta(days=-2)}, "end")],
)
def test_bad_sampling_input_names_the_field(feature, suite, release, changes, field):
    if "end" in changes:
        changes = {"end": db_now() + changes["end"]}
    with pytest.raises(ValidationError) as exc:
        cases_from_traffic(feature=feature, suite=suite, actor=release, **{**_window(), **changes})
    assert field in exc.value.message_dict


def test_a_request_a_case_cannot_take_is_skipped_not_blocking(feature, suite, log, release):
    log("r-bad", messages=[{"role": "robot", "content": "beep"}])
    log("r-good")
    sample = traffic_sample(
        feature=feature, suite=suite, actor=release, filters=TrafficFilters(**_window())
    )
    assert [c.source_ref for c in sample.cases] == ["r-good"]
    assert sample.skipped["r-bad"].startswith("messages[0].role: Unknown role 'robot'")


def test_a_tilde_fence_is_the_one_refused():
    suggested = suggest_assertions(INTENT, FENCED.replace("```", "~~~"))
    assert {"type": "not-contains", "value": "~~~"} in suggested
