"""The golden-case pages: "add to suite" from a pair, "build cases from traffic" on a feature."""

import json
from datetime import timedelta

import pytest

from comparisons.models import Label
from comparisons.services import review
from evaluations.models import Case
from evaluations.services.suites import suite_create
from registry.models import RequestLog
from registry.services.audit import db_now
from rollouts.services import rollouts


@pytest.fixture
def shadow_rollout(feature, make_config, make_version):
    """Overrides the shared fixture: a draft rollout is reviewable (imported pairs) and needs
    no eval gate, which golden cases do not care about."""
    candidate = make_config("support v2", make_version("gpt-4o-2024-11-20"))
    return rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)


@pytest.fixture
def suite(feature):
    return suite_create(feature=feature, actor=None, name="Golden")


@pytest.fixture
def pair(make_pair):
    return make_pair(
        baseline="Your parcel ships Monday.",
        candidate="<script>alert('x')</script> It ships on Monday, 9 June.",
    )


@pytest.fixture
def labelled(pair, cast):
    """The reviewer labelled it: candidate better (in candidate terms, whatever the sides)."""
    Label.objects.create(
        pair=pair, reviewer=cast["reviewer"], verdict="better", dimensions=["tone"]
    )
    return pair


def _url(pair) -> str:
    return f"/pairs/{pair.code}/add-to-suite/"


# --- add to suite: who may


@pytest.mark.parametrize(
    "who, status", [("viewer", 403), ("reviewer", 403), ("release", 200), ("admin", 200)]
)
def test_who_may_open_the_form_of_a_pair_they_did_not_label(client_for, pair, suite, who, status):
    Label.objects.create(pair=pair, reviewer=_other_reviewer(), verdict="better")
    assert client_for(who).get(_url(pair)).status_code == status


def _other_reviewer():
    from registry.roles import Role
    from tests.conftest import _make_user

    return _make_user("second reviewer", Role.REVIEWER)


def test_a_reviewer_who_labelled_may_add_the_pair(client_for, labelled, suite):
    response = client_for("reviewer").get(_url(labelled))
    assert response.status_code == 200
    assert "candidate" in response.content.decode()  # they labelled: the sides are theirs


def test_a_blinded_reviewer_sees_no_link_before_labelling_and_one_after(client_for, pair, cast):
    assert pair.rollout.blinded
    client = client_for("reviewer")
    assert _url(pair) not in client.get(f"/pairs/{pair.code}/").content.decode()
    assert client.post(_url(pair), {}).status_code == 403  # a hand-made POST is held too
    review.label_save(pair=pair, reviewer=cast["reviewer"], data=review.LabelInput("same"))
    assert _url(pair) in client.get(f"/pairs/{pair.code}/").content.decode()


def test_release_managers_see_the_link(client_for, pair):
    assert _url(pair) in client_for("release").get(f"/pairs/{pair.code}/").content.decode()


# --- add to suite: the form


def test_the_form_is_prefilled_and_escapes_the_reference(client_for, labelled, suite):
    html = client_for("release").get(_url(labelled)).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; It ships" in html
    assert f'<option value="{suite.code}" selected>Golden</option>' in html
    assert '<option value="tone" selected>' in html
    assert "redacted" in html
    assert "&quot;similar&quot;" in html  # the suggested assertions, editable


def test_posting_creates_the_case_and_goes_to_the_suite(client_for, labelled, suite):
    form = {
        "suite": suite.code,
        "name": "Parcel date",
        "dimension": "accuracy",
        "critical": "on",
        "reference": "It ships on Monday, 9 June.",
        "assertions": json.dumps([{"type": "icontains", "value": "9 june"}]),
    }
    response = client_for("release").post(_url(labelled), form)
    assert response.status_code == 302
    assert response["Location"] == f"/evaluations/suites/{suite.code}/"
    case = Case.objects.get()
    assert (case.name, case.dimension, case.critical) == ("Parcel date", "accuracy", True)
    assert case.assertions[0]["type"] == "icontains"
    assert case.source_ref == str(labelled.code)


def _post(client, pair, suite, **changes):
    form = {"suite": suite.code, "name": "Case", "dimension": "other", "reference": "Monday."}
    return client.post(_url(pair), {**form, **changes})


def test_bad_json_in_the_assertions_is_shown_on_the_field(client_for, labelled, suite):
    response = _post(client_for("release"), labelled, suite, assertions='[{"type": "contains",')
    assert response.status_code == 200
    assert response.context["form"].errors["assertions"][0].startswith("Not valid JSON (line 1")
    assert not Case.objects.exists()


def test_a_malformed_regex_is_shown_on_the_assertions_field(client_for, labelled, suite):
    bad = json.dumps([{"type": "regex", "value": "(["}])
    response = _post(client_for("release"), labelled, suite, assertions=bad)
    assert response.status_code == 200
    assert response.context["form"].errors["assertions"][0].startswith("assertions[0]")
    assert not Case.objects.exists()


def test_a_suite_of_another_feature_is_refused_on_the_suite_field(
    client_for, labelled, suite, other_feature
):
    foreign = suite_create(feature=other_feature, actor=None, name="Summaries")
    response = _post(client_for("release"), labelled, foreign)
    assert response.status_code == 200
    assert "belongs to another feature" in response.context["form"].errors["suite"][0]


def test_adding_a_pair_twice_says_where_it_is(client_for, labelled, suite):
    client = client_for("release")
    assert _post(client, labelled, suite, name="First").status_code == 302
    response = _post(client, labelled, suite)
    assert response.context["form"].errors["suite"] == [
        "This pair is already in suite 'Golden' as case 'First'."
    ]


def test_both_bad_asks_for_a_reference(client_for, pair, suite, cast):
    Label.objects.create(pair=pair, reviewer=cast["reviewer"], verdict="both_bad")
    client = client_for("release")
    assert "write the reference below" in client.get(_url(pair)).content.decode()
    response = _post(client, pair, suite, reference="")
    assert "write the answer" in response.context["form"].errors["reference"][0]


def test_an_unlabelled_pair_is_refused_with_the_reason(client_for, pair, suite):
    response = client_for("release").get(_url(pair))
    assert response.status_code == 409
    assert "Nobody has labelled this pair yet" in response.content.decode()


# --- build cases from traffic

TRAFFIC = "/features/support-reply/golden/"


@pytest.fixture
def logs(feature):
    for n in range(3):
        RequestLog.objects.create(
            feature=feature,
            request_id=f"t-{n}",
            source="ingest",
            config=feature.served_config,
            variant="baseline",
            messages=[{"role": "user", "content": f"Question {n}"}],
            output=f"Answer {n}",
            started=db_now() - timedelta(hours=1),
        )


def _range(**changes):
    now = db_now()
    form = {
        "start": (now - timedelta(days=1)).strftime("%Y-%m-%d %H:%M"),
        "end": (now + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M"),
        "size": 2,
    }
    return {**form, **changes}


@pytest.mark.parametrize("who, status", [("viewer", 403), ("reviewer", 403), ("release", 200)])
def test_who_may_sample_traffic(client_for, feature, suite, who, status):
    assert client_for(who).get(TRAFFIC).status_code == status
    assert client_for(who).post(TRAFFIC, _range(suite=suite.code)).status_code == status


def test_preview_counts_then_create_makes_drafts(client_for, suite, logs):
    client = client_for("release")
    preview = client.post(TRAFFIC, _range(suite=suite.code, action="preview"))
    assert (preview.context["matching"], preview.context["taking"]) == (3, 2)
    assert "will become draft cases" in preview.content.decode()
    assert not Case.objects.exists()
    created = client.post(TRAFFIC, _range(suite=suite.code, action="create"))
    assert created["Location"] == f"/evaluations/suites/{suite.code}/"
    assert Case.objects.filter(draft=True, source="traffic").count() == 2


@pytest.mark.parametrize(
    "changes, field, text",
    [
        ({"size": 501}, "size", "less than or equal to 500"),
        ({"end": "2020-01-01 00:00"}, "end", "after its start"),
        ({"start": "yesterday"}, "start", "valid date/time"),
    ],
)
def test_bad_sampling_input_is_shown_on_its_field(client_for, suite, logs, changes, field, text):
    response = client_for("release").post(TRAFFIC, _range(suite=suite.code, **changes))
    assert response.status_code == 200
    assert text in " ".join(response.context["form"].errors[field])
    assert not Case.objects.exists()


def test_a_suite_of_another_feature_is_refused_when_sampling(client_for, logs, other_feature):
    foreign = suite_create(feature=other_feature, actor=None, name="Summaries")
    response = client_for("release").post(TRAFFIC, _range(suite=foreign.code, action="create"))
    assert "another feature" in response.context["form"].errors["suite"][0]
    assert not Case.objects.exists()


def test_a_feature_without_a_suite_says_where_to_make_one(client_for, labelled, feature):
    for url in (_url(labelled), TRAFFIC):
        html = client_for("release").get(url).content.decode()
        assert "has no eval suite yet" in html and 'href="/evaluations/"' in html
