"""The admin for suites (with their cases inline), runs and gates: pages load for the Admin
role only, case assertions are refused at save time as on the pages, writes are audited."""

import json

import pytest

from evaluations.models import Case, CaseResult, Gate, Run, Suite
from registry.models import AuditEvent


@pytest.fixture
def suite(feature) -> Suite:
    return Suite.objects.create(feature=feature, name="smoke")


@pytest.fixture
def case(suite) -> Case:
    return Case.objects.create(
        suite=suite,
        name="parcel",
        messages=[{"role": "user", "content": "Where is my parcel?"}],
        assertions=[{"type": "icontains", "value": "parcel"}],
    )


@pytest.fixture
def run(suite, case, make_config) -> Run:
    run = Run.objects.create(suite=suite, config=make_config("candidate"))
    CaseResult.objects.bulk_create(CaseResult(run=run, case=case, trial=t) for t in range(3))
    return run


@pytest.fixture
def gate(feature, make_config) -> Gate:
    return Gate.objects.create(
        feature=feature, baseline=feature.served_config, candidate=make_config("candidate")
    )


def suite_form(suite, *cases: dict, existing: tuple[Case, ...] = ()) -> dict:
    data = {
        "name": suite.name,
        "description": "",
        "prompt": "",
        "threshold_pp": "5",
        "judge_config": "",
        "active": "on",
        "cases-TOTAL_FORMS": str(len(existing) + len(cases)),
        "cases-INITIAL_FORMS": str(len(existing)),
        "cases-MIN_NUM_FORMS": "0",
        "cases-MAX_NUM_FORMS": "1000",
    }
    rows = [
        {
            "id": c.pk,
            "suite": suite.pk,
            "name": c.name,
            "messages": json.dumps(c.messages),
            "variables": json.dumps(c.variables),
            "prompt": c.prompt,
            "reference": c.reference,
            "assertions": json.dumps(c.assertions),
            "dimension": c.dimension,
            "weight": str(c.weight),
            "threshold": "",
        }
        for c in existing
    ]
    rows += [{"suite": suite.pk, "id": "", **c} for c in cases]
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"cases-{index}-{key}"] = value
    return data


def new_case(**overrides) -> dict:
    row = {
        "name": "refund",
        "messages": json.dumps([{"role": "user", "content": "Refund?"}]),
        "variables": "{}",
        "prompt": "",
        "reference": "",
        "assertions": json.dumps([{"type": "icontains", "value": "refund"}]),
        "dimension": "accuracy",
        "weight": "1",
        "threshold": "",
    }
    row.update(overrides)
    return row


def test_the_admin_pages_load(client_for, suite, case, run, gate):
    client = client_for("admin")
    pages = [
        "/admin/evaluations/suite/",
        "/admin/evaluations/suite/add/",
        f"/admin/evaluations/suite/{suite.pk}/change/",
        "/admin/evaluations/run/",
        f"/admin/evaluations/run/{run.pk}/change/",
        "/admin/evaluations/gate/",
        f"/admin/evaluations/gate/{gate.pk}/change/",
    ]
    for url in pages:
        assert client.get(url).status_code == 200, url
    change = client.get(f"/admin/evaluations/suite/{suite.pk}/change/").content.decode()
    assert "Where is my parcel?" in change  # the cases inline
    runs = client.get("/admin/evaluations/run/").content.decode()
    assert '<td class="field-result_count">3</td>' in runs


def test_only_the_admin_role_gets_in(client_for, suite):
    for name in ("viewer", "release"):
        response = client_for(name).get("/admin/evaluations/suite/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"], name


def test_runs_and_gates_are_read_only(client_for, run, gate):
    client = client_for("admin")
    assert client.get("/admin/evaluations/run/add/").status_code == 403
    assert client.get("/admin/evaluations/gate/add/").status_code == 403
    response = client.post(f"/admin/evaluations/run/{run.pk}/change/", {"trials": "5"})
    assert response.status_code == 403
    run.refresh_from_db()
    assert run.trials == 1
    assert (
        client.post(f"/admin/evaluations/gate/{gate.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert Gate.objects.filter(pk=gate.pk).exists()


def test_a_case_added_inline_goes_through_the_service_and_is_audited(client_for, suite, case):
    response = client_for("admin").post(
        f"/admin/evaluations/suite/{suite.pk}/change/",
        suite_form(suite, new_case(), existing=(case,)),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    added = Case.objects.get(name="refund")
    assert added.assertions[0]["type"] == "icontains" and added.position == case.position + 1
    assert AuditEvent.objects.filter(action="eval_case.create", object_id=str(added.code)).exists()


def test_a_malformed_regex_is_refused_on_the_inline_field(client_for, suite):
    bad = json.dumps([{"type": "regex", "value": "([a-z"}])
    response = client_for("admin").post(
        f"/admin/evaluations/suite/{suite.pk}/change/", suite_form(suite, new_case(assertions=bad))
    )
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    errors = formset.forms[0].errors["assertions"]
    assert errors[0].startswith("assertions[0]"), errors
    assert not Case.objects.exists()


def test_a_suite_added_in_the_admin_is_audited(client_for, feature):
    data = {
        "feature": feature.pk,
        "name": "from the admin",
        "description": "",
        "prompt": "",
        "threshold_pp": "5",
        "judge_config": "",
        "active": "on",
        "cases-TOTAL_FORMS": "0",
        "cases-INITIAL_FORMS": "0",
        "cases-MIN_NUM_FORMS": "0",
        "cases-MAX_NUM_FORMS": "1000",
    }
    response = client_for("admin").post("/admin/evaluations/suite/add/", data)
    assert response.status_code == 302
    suite = Suite.objects.get(name="from the admin")
    assert AuditEvent.objects.filter(action="eval_suite.create", object_id=str(suite.code)).exists()
