"""A hostile reviewer's inputs to the Evaluations pages: whatever is typed or posted, the answer
is a page naming the field, never a 500, and nothing unstorable reaches the database."""

import json

import pytest

from evaluations.models import Case, CaseResult, Run, Suite
from evaluations.services import suites as suite_services
from tests.gates import make_suite


@pytest.fixture
def suite(feature) -> Suite:
    return make_suite(feature, cases=[("refund intent", "format", True)])


@pytest.fixture
def case(suite) -> Case:
    return suite.cases.get()


def case_post(**overrides: str) -> dict[str, str]:
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


UNSTORABLE = {
    # Valid JSON, but PostgreSQL's jsonb refuses \u0000 and no database encodes a lone surrogate.
    "messages-nul": ("messages", '[{"role": "user", "content": "a\\u0000b"}]'),
    "messages-surrogate": ("messages", '[{"role": "user", "content": "a\\ud800b"}]'),
    "variables-nul": ("variables", '{"ticket": "x\\u0000"}'),
    "variables-surrogate": ("variables", '{"ticket": "\\udfff"}'),
    "assertions-nul": ("assertions", '[{"type": "contains", "value": "a\\u0000"}]'),
    "assertions-surrogate": ("assertions", '[{"type": "contains", "value": "\\ud83d"}]'),
    "messages-key-surrogate": (
        "messages",
        '[{"role": "user", "content": "hi", "\\ud800": 1}]',
    ),
}


@pytest.mark.parametrize("name", sorted(UNSTORABLE))
def test_a_case_with_unstorable_text_is_refused_naming_the_field(client_for, suite, name):
    field, text = UNSTORABLE[name]
    response = client_for("release").post(
        f"/evaluations/suites/{suite.code}/cases/new/", case_post(**{field: text})
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert "NUL" in str(errors[field]) or "surrogate" in str(errors[field])
    assert not suite.cases.filter(name="refund policy").exists()


@pytest.mark.parametrize("weight", ["nan", "inf", "-inf", "1e400", "1e300"])
def test_a_weight_that_breaks_the_gate_arithmetic_is_refused(client_for, suite, weight):
    response = client_for("release").post(
        f"/evaluations/suites/{suite.code}/cases/new/", case_post(weight=weight)
    )
    assert response.status_code == 200
    assert "weight" in response.context["form"].errors
    assert not suite.cases.filter(name="refund policy").exists()


@pytest.mark.parametrize("weight", [float("nan"), float("inf"), 1e300])
def test_the_case_service_refuses_a_weight_no_form_checked(suite, weight):
    # The imports and the admin call the service directly, without a form's FloatField.
    with pytest.raises(suite_services.ValidationError) as exc:
        suite_services.case_create(
            suite=suite,
            actor=None,
            name="imported",
            messages=[{"role": "user", "content": "hi"}],
            weight=weight,
        )
    assert "weight" in exc.value.message_dict


def test_the_case_service_refuses_nul_in_the_name_prompt_and_reference(suite):
    with pytest.raises(suite_services.ValidationError) as exc:
        suite_services.case_create(
            suite=suite,
            actor=None,
            name="a\x00b",
            prompt="p\x00",
            reference="\ud800",
            messages=[{"role": "user", "content": "hi"}],
        )
    assert {"name", "prompt", "reference"} <= set(exc.value.message_dict)


@pytest.mark.parametrize(
    "trials", ["0", "21", "-1", "10000000000000000000000000000000", "1.5", "x", "", "1" * 5000]
)
def test_a_run_with_bad_trials_is_refused_naming_the_field(client_for, suite, feature, trials):
    response = client_for("release").post(
        f"/evaluations/suites/{suite.code}/run/",
        {"config": feature.served_config.pk, "trials": trials},
    )
    assert response.status_code == 400
    assert "trials" in response.context["run_form"].errors
    assert not Run.objects.exists()


@pytest.mark.parametrize("config", ["999999", "x", "", "1e3", "-1"])
def test_a_run_on_no_such_config_is_refused_naming_the_field(client_for, suite, config):
    response = client_for("release").post(
        f"/evaluations/suites/{suite.code}/run/", {"config": config, "trials": "1"}
    )
    assert response.status_code == 400
    assert "config" in response.context["run_form"].errors


def test_a_run_on_an_archived_config_is_refused(client_for, suite, make_config):
    from registry.services import registry

    old = make_config("retired")
    registry.config_archive(config=old, actor=None)
    response = client_for("release").post(
        f"/evaluations/suites/{suite.code}/run/", {"config": old.pk, "trials": "1"}
    )
    assert response.status_code == 400
    assert "config" in response.context["run_form"].errors
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/evaluations/suites/not-a-uuid/",
        "/evaluations/runs/12/",
        "/evaluations/suites/00000000-0000-0000-0000-000000000000/",
        "/evaluations/runs/00000000-0000-0000-0000-000000000000/export.csv",
        "/evaluations/runs/00000000-0000-0000-0000-000000000000/export.json",
        "/evaluations/cases/00000000-0000-0000-0000-000000000000/edit/",
    ],
)
def test_unknown_codes_are_404(client_for, path):
    assert client_for("release").get(path).status_code == 404


def test_the_suite_form_refuses_a_nul_in_the_name_and_prompt(client_for, feature):
    response = client_for("release").post(
        "/evaluations/suites/new/",
        {"feature": feature.key, "name": "a\x00", "prompt": "b\x00", "threshold_pp": "5"},
    )
    assert response.status_code == 200
    assert {"name", "prompt"} <= set(response.context["form"].errors)
    assert not Suite.objects.filter(name__startswith="a").exists()


@pytest.mark.parametrize("threshold", ["nan", "inf", "101", "-1"])
def test_the_suite_form_refuses_a_threshold_out_of_range(client_for, feature, threshold):
    response = client_for("release").post(
        "/evaluations/suites/new/",
        {"feature": feature.key, "name": "n", "threshold_pp": threshold},
    )
    assert response.status_code == 200
    assert "threshold_pp" in response.context["form"].errors


@pytest.mark.parametrize("role", ["viewer", "reviewer"])
def test_readers_cannot_write_anything(client_for, suite, case, feature, role):
    client = client_for(role)
    posts = [
        "/evaluations/suites/new/",
        f"/evaluations/suites/{suite.code}/edit/",
        f"/evaluations/suites/{suite.code}/run/",
        f"/evaluations/suites/{suite.code}/cases/new/",
        f"/evaluations/cases/{case.code}/edit/",
        f"/evaluations/cases/{case.code}/delete/",
        f"/evaluations/cases/{case.code}/publish/",
    ]
    for url in posts:
        assert client.post(url, {"config": feature.served_config.pk}).status_code == 403, url
    assert not Run.objects.exists()
    assert not CaseResult.objects.exists()


def test_the_suite_service_refuses_unstorable_text_no_form_checked(feature):
    with pytest.raises(suite_services.ValidationError) as exc:
        suite_services.suite_create(
            feature=feature, actor=None, name="imported\ud800", description="d\x00"
        )
    assert {"name", "description"} <= set(exc.value.message_dict)
    assert not Suite.objects.filter(feature=feature, name__startswith="imported").exists()


@pytest.mark.parametrize(
    "text", ['[{"type": "latency", "threshold": NaN}]', '[{"type": "cost", "threshold": 1e999}]']
)
def test_assertions_with_nan_or_infinity_are_refused(client_for, suite, text):
    response = client_for("release").post(
        f"/evaluations/suites/{suite.code}/cases/new/", case_post(assertions=text)
    )
    assert response.status_code == 200
    assert "assertions" in response.context["form"].errors
    assert not suite.cases.filter(name="refund policy").exists()
