"""The Evaluations list, the suite page and the suite / case forms: permissions, validation
with the field named, audit events, drafts and publishing, starting a run."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evaluations.models import Case, CaseResult, Gate, Run, Suite
from registry.models import AuditEvent


@pytest.fixture
def suite(feature, release) -> Suite:
    return Suite.objects.create(feature=feature, name="smoke", prompt="Answer: {{ question }}")


@pytest.fixture
def case(suite) -> Case:
    return Case.objects.create(
        suite=suite,
        name="parcel question",
        messages=[{"role": "user", "content": "Where is my parcel?"}],
        assertions=[{"type": "icontains", "value": "parcel"}],
        dimension="accuracy",
        critical=True,
        position=1,
    )


def case_post(**overrides) -> dict:
    data = {
        "name": "refund policy",
        "messages": json.dumps([{"role": "user", "content": "Can I get a refund?"}]),
        "variables": "",
        "prompt": "",
        "reference": "Yes, within 30 days.",
        "dimension": "accuracy",
        "weight": "1",
        "threshold": "",
        "assertions": json.dumps([{"type": "icontains", "value": "refund"}]),
    }
    data.update(overrides)
    return data


def read_urls(suite, case) -> list[str]:
    return [
        "/evaluations/",
        f"/evaluations/suites/{suite.code}/",
        f"/evaluations/suites/{suite.code}/cases.jsonl",
    ]


def write_pages(suite, case) -> list[str]:
    return [
        "/evaluations/suites/new/",
        f"/evaluations/suites/{suite.code}/edit/",
        f"/evaluations/suites/{suite.code}/cases/new/",
        f"/evaluations/cases/{case.code}/edit/",
    ]


def test_anonymous_visitors_are_sent_to_sign_in(client_for, suite, case):
    client = client_for(None)
    for url in read_urls(suite, case) + write_pages(suite, case):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/"), url
    response = client.post(f"/evaluations/cases/{case.code}/delete/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert Case.objects.filter(pk=case.pk).exists()


def test_a_viewer_reads_every_page_but_cannot_open_the_forms(client_for, suite, case):
    client = client_for("viewer")
    for url in read_urls(suite, case):
        assert client.get(url).status_code == 200, url
    for url in write_pages(suite, case):
        assert client.get(url).status_code == 403, url


def test_a_viewer_cannot_write_anything(client_for, suite, case, make_config):
    client = client_for("viewer")
    posts = {
        "/evaluations/suites/new/": {"feature": suite.feature.key, "name": "x", "threshold_pp": 5},
        f"/evaluations/suites/{suite.code}/edit/": {"name": "renamed", "threshold_pp": 5},
        f"/evaluations/suites/{suite.code}/cases/new/": case_post(),
        f"/evaluations/cases/{case.code}/edit/": case_post(name="renamed"),
        f"/evaluations/cases/{case.code}/delete/": {},
        f"/evaluations/cases/{case.code}/publish/": {},
        f"/evaluations/suites/{suite.code}/run/": {"config": make_config().pk, "trials": 1},
    }
    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, url
    assert Suite.objects.get().name == "smoke"
    assert list(Case.objects.values_list("name", flat=True)) == ["parcel question"]
    assert not Run.objects.exists()


def test_the_list_shows_each_feature_with_its_suites_and_case_counts(client_for, suite, case):
    Case.objects.create(suite=suite, name="sampled", draft=True, messages=case.messages)
    page = client_for("viewer").get("/evaluations/").content.decode()
    assert "support-reply" in page and "smoke" in page
    assert "+ 1 draft" in page
    assert "never run" in page
    assert "New suite" not in page  # only for release managers
    assert "New suite" in client_for("release").get("/evaluations/").content.decode()


def test_a_release_manager_creates_a_suite_and_it_is_audited(client_for, feature):
    response = client_for("release").post(
        "/evaluations/suites/new/",
        {"feature": feature.key, "name": "tone checks", "threshold_pp": "3", "active": "on"},
    )
    suite = Suite.objects.get(name="tone checks")
    assert response.status_code == 302
    assert response["Location"] == f"/evaluations/suites/{suite.code}/"
    assert suite.threshold_pp == 3
    assert AuditEvent.objects.filter(action="eval_suite.create", object_id=str(suite.code)).exists()


def test_a_duplicate_suite_name_is_refused_on_the_name_field(client_for, suite):
    response = client_for("release").post(
        "/evaluations/suites/new/",
        {"feature": suite.feature.key, "name": "smoke", "threshold_pp": "5"},
    )
    assert response.status_code == 200
    assert "has a suite named" in response.context["form"].errors["name"][0]


def test_editing_a_suite_saves_and_audits(client_for, suite):
    response = client_for("release").post(
        f"/evaluations/suites/{suite.code}/edit/",
        {"name": "smoke", "prompt": "Q: {q}", "threshold_pp": "12.5", "active": "on"},
    )
    assert response.status_code == 302
    suite.refresh_from_db()
    assert (suite.prompt, suite.threshold_pp) == ("Q: {q}", 12.5)
    assert AuditEvent.objects.filter(action="eval_suite.update").exists()


def test_the_suite_page_groups_cases_by_dimension_and_keeps_drafts_apart(client_for, suite, case):
    Case.objects.create(
        suite=suite,
        name="polite",
        variables={"question": "hello"},
        assertions=[{"type": "not-icontains", "value": "stupid"}],
        dimension="tone",
        position=2,
    )
    Case.objects.create(
        suite=suite, name="sampled from traffic", draft=True, messages=case.messages, position=3
    )
    page = client_for("release").get(f"/evaluations/suites/{suite.code}/").content.decode()
    assert page.index("Tone") < page.index("polite")
    assert page.index("Accuracy / reasoning") < page.index("parcel question")
    assert "critical" in page
    assert "icontains “parcel”" in page and "not-icontains “stupid”" in page
    drafts = page[page.index("Drafts") :]
    assert "sampled from traffic" in drafts and "Publish" in drafts
    assert "polite" not in drafts


def test_case_text_is_escaped_on_the_suite_page(client_for, suite):
    Case.objects.create(
        suite=suite,
        name="<b>bold</b>",
        messages=[{"role": "user", "content": "<script>x</script>"}],
    )
    page = client_for("viewer").get(f"/evaluations/suites/{suite.code}/").content.decode()
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page


def test_a_release_manager_adds_a_case_and_it_is_audited(client_for, suite):
    response = client_for("release").post(
        f"/evaluations/suites/{suite.code}/cases/new/", case_post(critical="on")
    )
    assert response.status_code == 302
    case = Case.objects.get(name="refund policy")
    assert case.critical and case.messages[0]["content"] == "Can I get a refund?"
    assert case.assertions[0]["type"] == "icontains"
    assert AuditEvent.objects.filter(action="eval_case.create", object_id=str(case.code)).exists()


@pytest.mark.parametrize(
    ("assertions", "named"),
    [
        (
            [{"type": "icontains", "value": "ok"}, {"type": "regex", "value": "(unclosed"}],
            "assertions[1]",
        ),
        ([{"type": "is-json", "value": {"type": "no-such-type"}}], "assertions[0]"),
        ([{"type": "no-such-assertion"}], "assertions[0]"),
    ],
)
def test_a_malformed_assertion_is_refused_on_the_assertions_field(
    client_for, suite, assertions, named
):
    response = client_for("release").post(
        f"/evaluations/suites/{suite.code}/cases/new/", case_post(assertions=json.dumps(assertions))
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["assertions"]
    assert errors and errors[0].startswith(named), errors
    assert not Case.objects.exists()
    assert 'id="assertions-error"' in response.content.decode()


def test_assertions_that_are_not_json_are_refused_with_the_position(client_for, suite):
    response = client_for("release").post(
        f"/evaluations/suites/{suite.code}/cases/new/", case_post(assertions='[{"type": }]')
    )
    errors = response.context["form"].errors["assertions"]
    assert "Not valid JSON (line 1, column 11)" in errors[0]


@pytest.mark.parametrize(
    ("messages", "named", "hint"),
    [
        ([{"role": "robot", "content": "hi"}], "messages[0].role", "Unknown role 'robot'"),
        ([{"role": "user", "content": "a"}, {"role": "user"}], "messages[1].content", "string"),
        ({"role": "user"}, "Give a JSON list", "messages"),
    ],
)
def test_malformed_messages_are_refused_naming_the_entry(client_for, suite, messages, named, hint):
    response = client_for("release").post(
        f"/evaluations/suites/{suite.code}/cases/new/",
        case_post(messages=json.dumps(messages), assertions="[]"),
    )
    errors = response.context["form"].errors["messages"]
    assert errors[0].startswith(named) and hint in errors[0], errors
    assert not Case.objects.exists()


def test_editing_a_case_keeps_what_was_typed_when_refused(client_for, case):
    client = client_for("release")
    page = client.get(f"/evaluations/cases/{case.code}/edit/").content.decode()
    assert "Where is my parcel?" in page  # the JSON text areas are filled
    response = client.post(
        f"/evaluations/cases/{case.code}/edit/",
        case_post(name="parcel question", weight="-1"),
    )
    assert response.status_code == 200
    assert "weight" in response.context["form"].errors
    response = client.post(
        f"/evaluations/cases/{case.code}/edit/", case_post(name="parcel, reworded", draft="on")
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.name == "parcel, reworded" and case.draft
    assert AuditEvent.objects.filter(action="eval_case.update", object_id=str(case.code)).exists()


def test_publishing_a_draft_makes_it_run(client_for, suite, case):
    Case.objects.filter(pk=case.pk).update(draft=True)
    response = client_for("release").post(f"/evaluations/cases/{case.code}/publish/", follow=True)
    case.refresh_from_db()
    assert not case.draft
    assert "published" in response.content.decode()
    again = client_for("release").post(f"/evaluations/cases/{case.code}/publish/", follow=True)
    assert "published already" in again.content.decode()


def test_deleting_a_case_is_audited_but_a_case_with_results_stays(
    client_for, suite, case, make_config
):
    client = client_for("release")
    other = Case.objects.create(suite=suite, name="spare", messages=case.messages)
    client.post(f"/evaluations/cases/{other.code}/delete/")
    assert not Case.objects.filter(pk=other.pk).exists()
    assert AuditEvent.objects.filter(action="eval_case.delete", object_id=str(other.code)).exists()
    run = Run.objects.create(suite=suite, config=make_config())
    CaseResult.objects.create(run=run, case=case)
    response = client.post(f"/evaluations/cases/{case.code}/delete/", follow=True)
    assert Case.objects.filter(pk=case.pk).exists()
    assert "stays as history" in response.content.decode()


def test_run_on_config_starts_a_run_and_shows_its_page(
    client_for, suite, case, make_config, release
):
    config = make_config("candidate")
    client = client_for("release")
    page = client.get(f"/evaluations/suites/{suite.code}/").content.decode()
    assert "candidate · gpt-4o-2024-08-06" in page  # the model version beside each config
    response = client.post(
        f"/evaluations/suites/{suite.code}/run/", {"config": config.pk, "trials": "3"}
    )
    run = Run.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/evaluations/runs/{run.code}/"
    assert (run.config, run.trials, run.created_by) == (config, 3, release)
    assert CaseResult.objects.filter(run=run).count() == 3
    page = client.get(f"/evaluations/suites/{suite.code}/").content.decode()
    assert f"/evaluations/runs/{run.code}/" in page


@pytest.mark.parametrize("trials", ["0", "21", "many"])
def test_trials_outside_1_to_20_are_refused(client_for, suite, case, make_config, trials):
    response = client_for("release").post(
        f"/evaluations/suites/{suite.code}/run/", {"config": make_config().pk, "trials": trials}
    )
    assert response.status_code == 400
    assert "trials" in response.context["run_form"].errors
    assert not Run.objects.exists()


def test_a_suite_with_only_drafts_cannot_run(client_for, suite, case, make_config):
    Case.objects.filter(pk=case.pk).update(draft=True)
    response = client_for("release").post(
        f"/evaluations/suites/{suite.code}/run/", {"config": make_config().pk, "trials": "1"}
    )
    assert response.status_code == 400
    assert "no cases to run" in response.content.decode()


def test_the_nav_links_to_evaluations_and_marks_it_current(client_for, suite):
    page = client_for("viewer").get(f"/evaluations/suites/{suite.code}/").content.decode()
    assert '<a href="/evaluations/" aria-current="page">Evaluations</a>' in page
    home = client_for("viewer").get("/").content.decode()
    assert '<a href="/evaluations/" >Evaluations</a>' in home


def test_the_list_shows_the_last_run_and_gate_verdict_in_a_fixed_number_of_queries(
    client_for, feature, suite, case, make_config
):
    client = client_for("viewer")
    client.get("/evaluations/")

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            client.get("/evaluations/")
        return len(ctx)

    few = queries()
    candidate = make_config("candidate")
    gate = Gate.objects.create(
        feature=feature, baseline=feature.served_config, candidate=candidate, verdict="needs_ack"
    )
    Run.objects.create(suite=suite, config=candidate, gate=gate, side="candidate")
    for i in range(5):
        other = Suite.objects.create(feature=feature, name=f"suite {i}")
        Case.objects.create(suite=other, name="c", messages=case.messages)
    assert queries() == few
    page = client.get("/evaluations/").content.decode()
    assert "Needs acknowledgement" in page and "never run" in page


def test_a_missing_judge_is_a_warning_only_when_cases_need_one(client_for, suite, case):
    url = f"/evaluations/suites/{suite.code}/"
    page = client_for("viewer").get(url).content.decode()
    # No llm-rubric case: nothing to warn about.
    assert "none (no case needs one)" in page and "end as errors" not in page
    rubric = [{"type": "llm-rubric", "value": "Says where the parcel is."}]
    Case.objects.create(suite=suite, name="judged", messages=case.messages, assertions=rubric)
    page = client_for("viewer").get(url).content.decode()
    assert "1 case with <code>llm-rubric</code> assertions ends as errors" in page
    not_rubric = [{"type": "not-llm-rubric", "value": "Is rude."}]
    Case.objects.create(suite=suite, name="judged 2", messages=case.messages, assertions=not_rubric)
    # A draft never runs: it needs no judge yet.
    Case.objects.create(
        suite=suite, name="draft", messages=case.messages, assertions=rubric, draft=True
    )
    page = client_for("viewer").get(url).content.decode()
    assert "2 cases with <code>llm-rubric</code> assertions end as errors" in page


def test_a_gate_run_links_to_its_rollout_from_the_suite_page(
    client_for, feature, suite, case, make_config
):
    from rollouts.services.rollouts import rollout_create

    candidate = make_config("candidate")
    rollout = rollout_create(feature=feature, candidate=candidate, actor=None)
    gate = Gate.objects.create(
        feature=feature, rollout=rollout, baseline=feature.served_config, candidate=candidate
    )
    Run.objects.create(suite=suite, config=candidate, gate=gate, side="candidate")
    client = client_for("viewer")
    url = f"/evaluations/suites/{suite.code}/"
    page = client.get(url).content.decode()
    assert "candidate side of a gate" in page
    assert f'href="/rollouts/{rollout.code}/#gate">its rollout</a>' in page

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            client.get(url)
        return len(ctx)

    few = queries()
    Run.objects.create(suite=suite, config=feature.served_config, gate=gate, side="baseline")
    for _ in range(2):  # earlier gates of the same rollout
        older = Gate.objects.create(
            feature=feature, rollout=rollout, baseline=feature.served_config,
            candidate=candidate, verdict="passed",
        )  # fmt: skip
        Run.objects.create(suite=suite, config=candidate, gate=older, side="candidate")
    assert queries() == few  # the rollout comes with the runs, not one query per run
    assert client.get(url).content.decode().count(">its rollout</a>") == 4
