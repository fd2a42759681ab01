"""The gate API for deployment pipelines: POST /api/v1/gates, GET /api/v1/gates/<code>."""

import uuid

import pytest

from evaluations.models import Gate
from rollouts.services import rollouts
from tests.gates import finish_gate_runs, make_suite

from .conftest import bearer

P, F = ("pass",), ("fail",)
CASES = [("refund intent is JSON", "format", True), ("polite greeting", "tone", False)]


@pytest.fixture
def suite(feature):
    return make_suite(feature, cases=CASES)


@pytest.fixture
def post(client, token_for, feature):
    token = token_for(feature)

    def send(body, headers=None):
        return client.post(
            "/api/v1/gates",
            body,
            content_type="application/json",
            headers=bearer(token) if headers is None else headers,
        )

    send.token = token  # type: ignore[attr-defined]
    return send


def test_a_pipeline_starts_a_gate_and_reads_its_verdict(client, post, feature, candidate, suite):
    response = post({"feature": "support-reply", "candidate": str(candidate.code), "trials": 2})
    assert response.status_code == 202, response.json()
    body = response.json()
    gate = Gate.objects.get(code=body["code"])
    assert body["verdict"] == "running"
    assert body["url"] == f"http://testserver/api/v1/gates/{gate.code}"
    assert (gate.trials, gate.rollout, gate.candidate) == (2, None, candidate)
    finish_gate_runs(
        gate,
        {
            "baseline": {"refund intent is JSON": P * 2, "polite greeting": P * 2},
            "candidate": {"refund intent is JSON": F * 2, "polite greeting": P * 2},
        },
    )
    read = client.get(f"/api/v1/gates/{gate.code}", headers=bearer(post.token)).json()
    assert read["verdict"] == "blocked"
    assert read["feature"] == "support-reply"
    assert read["finished"]
    assert read["baseline_run"] == str(gate.runs.get(side="baseline").code)
    assert read["candidate_run"] == str(gate.runs.get(side="candidate").code)
    assert read["regressed"] == [
        {
            "case": "refund intent is JSON",
            "suite": "Support",
            "reason": "Critical case 'refund intent is JSON' passed on the baseline and fails "
            "on the candidate.",
        }
    ]
    assert {d["dimension"] for d in read["dimensions"]} == {"format", "tone"}


def test_the_gate_of_the_features_rollout_with_that_candidate_is_the_rollouts(
    post, feature, candidate, suite
):
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    response = post({"feature": "support-reply", "candidate": str(candidate.code)})
    assert response.status_code == 202
    assert Gate.objects.get().rollout == rollout
    rollout.refresh_from_db()
    assert rollout.status == "gate"
    again = post({"feature": "support-reply", "candidate": str(candidate.code)})
    assert again.status_code == 409
    assert "running already" in again.json()["message"]


def test_the_token_must_be_scoped_to_the_feature(
    client, token_for, other_feature, feature, candidate, suite
):
    other_token = token_for(other_feature)
    body = {"feature": "support-reply", "candidate": str(candidate.code)}
    response = client.post(
        "/api/v1/gates", body, content_type="application/json", headers=bearer(other_token)
    )
    assert response.status_code == 403
    assert response.json()["field"] == "feature"
    assert not Gate.objects.exists()


def test_a_session_may_read_a_gate_but_not_start_one(client_for, feature, candidate, suite, post):
    client = client_for("release")
    body = {"feature": "support-reply", "candidate": str(candidate.code)}
    refused = client.post("/api/v1/gates", body, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "token_required"
    code = post(body).json()["code"]
    assert client.get(f"/api/v1/gates/{code}").json()["verdict"] == "running"


def test_a_token_of_another_feature_does_not_see_the_gate(
    client, post, token_for, other_feature, candidate, suite
):
    code = post({"feature": "support-reply", "candidate": str(candidate.code)}).json()["code"]
    response = client.get(f"/api/v1/gates/{code}", headers=bearer(token_for(other_feature)))
    assert response.status_code == 404
    assert (
        client.get(f"/api/v1/gates/{uuid.uuid4()}", headers=bearer(post.token)).status_code == 404
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "(body)"),
        ({"candidate": "x"}, "feature"),
        ({"feature": "bad key!", "candidate": "x"}, "feature"),
        ({"feature": "support-reply"}, "candidate"),
        ({"feature": "support-reply", "candidate": "not-a-uuid"}, "candidate"),
        ({"feature": "support-reply", "candidate": uuid.uuid4().hex}, "candidate"),
        ({"feature": "support-reply", "candidate": "CANDIDATE", "trials": 0}, "trials"),
        ({"feature": "support-reply", "candidate": "CANDIDATE", "trials": 21}, "trials"),
        ({"feature": "support-reply", "candidate": "CANDIDATE", "trials": "2"}, "trials"),
        ({"feature": "support-reply", "candidate": "CANDIDATE", "trials": True}, "trials"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(post, candidate, suite, body, field):
    if isinstance(body, dict) and body.get("candidate") == "CANDIDATE":
        body = body | {"candidate": str(candidate.code)}
    response = post(body)
    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field
    assert not Gate.objects.exists()


def test_unknown_names_are_404s_and_rules_409s_or_422s(post, feature, candidate):
    unknown = post({"feature": "nope", "candidate": str(candidate.code)})
    assert (unknown.status_code, unknown.json()["field"]) == (404, "feature")
    missing = post({"feature": "support-reply", "candidate": str(uuid.uuid4())})
    assert (missing.status_code, missing.json()["field"]) == (404, "candidate")
    no_suite = post({"feature": "support-reply", "candidate": str(candidate.code)})
    assert no_suite.status_code == 409
    assert "has no eval suite with cases" in no_suite.json()["message"]
    make_suite(feature, cases=CASES)
    baseline = post({"feature": "support-reply", "candidate": str(feature.served_config.code)})
    assert (baseline.status_code, baseline.json()["field"]) == (422, "candidate")


def test_the_operations_are_documented(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert set(paths["/api/v1/gates"]["post"]["responses"]) >= {"202", "400", "403", "404", "409"}
    assert "200" in paths["/api/v1/gates/{code}"]["get"]["responses"]
