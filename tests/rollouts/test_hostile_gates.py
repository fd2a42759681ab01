"""A hostile reviewer's pass over the gate: the API and the rollout actions answer bad input with
a 4xx naming the field, tokens only reach their own features, and the verdict never passes a
gate on missing evidence."""

import uuid

import pytest

from evaluations.gate import CaseTrials, gate_verdict
from evaluations.models import Gate, Run
from registry.models import AuditEvent, Rollout
from registry.services import registry
from rollouts.services import rollouts
from tests.gates import finish_gate_runs, make_suite
from traffic.tokens import token_revoke

from .conftest import bearer

CASES = [("refund intent is JSON", "format", True), ("polite greeting", "tone", False)]


@pytest.fixture
def suite(feature):
    return make_suite(feature, cases=CASES)


@pytest.fixture
def token(token_for, feature):
    return token_for(feature)


def post(client, body, token, content_type="application/json"):
    return client.post(
        "/api/v1/gates", body, content_type=content_type, headers=bearer(token) if token else {}
    )


def _bad(response, status: int, field: str | None) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert body["message"] and body["code"]
    if field is not None:
        assert body.get("field") == field, body
    return body


@pytest.mark.parametrize(
    "body,field",
    [
        ([], "(body)"),
        ("a string", None),  # the test client sends it raw: not JSON
        (7, "(body)"),
        (None, None),  # an empty body
        ({}, "feature"),
        ({"feature": 5, "candidate": "x"}, "feature"),
        ({"feature": "a" * 10_000, "candidate": "x"}, "feature"),
        ({"feature": "support-reply"}, "candidate"),
        ({"feature": "support-reply", "candidate": 12}, "candidate"),
        ({"feature": "support-reply", "candidate": "not-a-uuid"}, "candidate"),
        ({"feature": "support-reply", "candidate": ["x"]}, "candidate"),
    ],
)
def test_a_malformed_gate_request_is_a_400_naming_the_field(client, token, suite, body, field):
    _bad(post(client, body, token), 400, field)
    assert not Gate.objects.exists()


@pytest.mark.parametrize("trials", [0, 21, -1, 10**30, 1.5, "2", True, None, [1], 1e308])
def test_bad_trials_are_a_400_naming_trials(client, token, suite, candidate, trials):
    body = {"feature": "support-reply", "candidate": str(candidate.code), "trials": trials}
    _bad(post(client, body, token), 400, "trials")
    assert not Gate.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        b'{"feature": "support-reply\\u0000"}',
        b'{"feature": "\\ud800"}',
        b'{"feature": "x", "trials": 1e999}',
        b'{"feature": NaN}',
        b"{not json",
        b"\xff\xfe",
        b"[" * 5000,
    ],
)
def test_a_body_that_is_not_storable_json_is_a_400(client, token, suite, raw):
    response = client.post(
        "/api/v1/gates", raw, content_type="application/json", headers=bearer(token)
    )
    _bad(response, 400, None)


def test_a_body_that_is_not_json_is_a_415(client, token, suite, candidate):
    response = post(client, "feature=support-reply", token, content_type="text/plain")
    _bad(response, 415, None)


def test_the_candidate_equal_to_the_baseline_is_a_422_naming_candidate(
    client, token, suite, feature
):
    body = {"feature": "support-reply", "candidate": str(feature.served_config.code)}
    _bad(post(client, body, token), 422, "candidate")
    assert not Gate.objects.exists()


def test_an_archived_candidate_is_a_422_naming_candidate(client, token, suite, make_config):
    old = make_config("retired")
    registry.config_archive(config=old, actor=None)
    body = {"feature": "support-reply", "candidate": str(old.code)}
    _bad(post(client, body, token), 422, "candidate")
    assert not Gate.objects.exists()


def test_an_unknown_feature_or_candidate_is_a_404(client, token, suite, candidate):
    _bad(post(client, {"feature": "nope", "candidate": str(candidate.code)}, token), 404, "feature")
    body = {"feature": "support-reply", "candidate": str(uuid.uuid4())}
    _bad(post(client, body, token), 404, "candidate")


def test_a_feature_without_suites_is_a_409_saying_what_to_do(client, token, feature, candidate):
    body = {"feature": "support-reply", "candidate": str(candidate.code)}
    assert "no eval suite" in _bad(post(client, body, token), 409, None)["message"]


def test_a_token_of_another_feature_can_neither_start_nor_read_a_gate(
    client, token_for, token, suite, candidate, other_feature
):
    foreign = token_for(other_feature, name="other-app")
    body = {"feature": "support-reply", "candidate": str(candidate.code)}
    _bad(post(client, body, foreign), 403, "feature")
    assert not Gate.objects.exists()
    started = post(client, body, token)
    assert started.status_code == 202
    code = started.json()["code"]
    assert client.get(f"/api/v1/gates/{code}", headers=bearer(foreign)).status_code == 404
    assert client.get(f"/api/v1/gates/{code}", headers=bearer(token)).status_code == 200


def test_a_revoked_token_can_neither_start_nor_read(client, token_for, feature, suite, candidate):
    from traffic.routing import invalidate_local
    from traffic.tokens import token_create

    row, plaintext = token_create(name="ci", features=[feature], actor=None)
    invalidate_local()
    body = {"feature": "support-reply", "candidate": str(candidate.code)}
    code = post(client, body, plaintext).json()["code"]
    token_revoke(token=row, actor=None)
    invalidate_local()
    _bad(client.get(f"/api/v1/gates/{code}", headers=bearer(plaintext)), 401, None)
    _bad(post(client, body, plaintext), 401, None)


def test_a_session_may_read_but_not_start_a_gate(client_for, token, suite, candidate):
    body = {"feature": "support-reply", "candidate": str(candidate.code)}
    client = client_for("admin")
    response = client.post("/api/v1/gates", body, content_type="application/json")
    assert response.status_code == 403
    assert not Gate.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/gates/not-a-uuid", "/api/v1/gates/12"])
def test_a_gate_code_that_is_not_a_uuid_is_not_a_500(client, token, path):
    response = client.get(path, headers=bearer(token))
    assert response.status_code == 404


def test_the_gates_endpoint_refuses_other_methods_with_an_api_error(client, token):
    _bad(client.get("/api/v1/gates", headers=bearer(token)), 405, None)
    code = uuid.uuid4()
    _bad(client.post(f"/api/v1/gates/{code}", headers=bearer(token)), 405, None)


# --- the rollout page's gate actions -----------------------------------------------------------


@pytest.fixture
def rollout(feature, candidate, suite):
    return rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)


def act(client, rollout, action, data):
    return client.post(f"/rollouts/{rollout.code}/{action}/", data)


@pytest.mark.parametrize("role", ["viewer", "reviewer"])
@pytest.mark.parametrize("action", ["gate", "acknowledge", "candidate", "judge"])
def test_readers_cannot_act_on_the_gate(client_for, rollout, role, action):
    events = AuditEvent.objects.count()
    assert act(client_for(role), rollout, action, {"note": "x", "reason": "x"}).status_code == 403
    assert AuditEvent.objects.count() == events
    assert not Gate.objects.exists()


@pytest.mark.parametrize("trials", ["0", "21", "10" * 30, "1.5", "x", "1" * 5000, "\x00"])
def test_bad_trials_on_the_rollout_page_are_a_message_not_a_500(client_for, rollout, trials):
    response = act(client_for("release"), rollout, "gate", {"trials": trials})
    assert response.status_code == 302
    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.DRAFT
    assert not Gate.objects.exists()


@pytest.mark.parametrize("code", ["", "x", str(uuid.uuid4()), "1" * 5000])
def test_a_bad_candidate_code_is_a_message_not_a_500(client_for, rollout, code):
    response = act(client_for("release"), rollout, "candidate", {"candidate": code, "reason": "r"})
    assert response.status_code == 302
    rollout.refresh_from_db()
    assert rollout.candidate.name == "support v2"


def test_switching_to_the_baseline_or_an_archived_config_is_refused(
    client_for, rollout, make_config
):
    client = client_for("release")
    old = make_config("retired")
    registry.config_archive(config=old, actor=None)
    for config in (rollout.baseline, old):
        data = {"candidate": str(config.code), "reason": "r"}
        assert act(client, rollout, "candidate", data).status_code == 302
        rollout.refresh_from_db()
        assert rollout.candidate.name == "support v2"


@pytest.mark.parametrize("code", ["x", str(uuid.uuid4())])
def test_a_bad_judge_code_is_a_message_not_a_500(client_for, rollout, code):
    response = act(client_for("release"), rollout, "judge", {"judge_config": code})
    assert response.status_code == 302
    rollout.refresh_from_db()
    assert rollout.judge_config is None


def test_an_archived_judge_is_refused(client_for, rollout, make_config):
    old = make_config("retired judge")
    registry.config_archive(config=old, actor=None)
    response = act(client_for("release"), rollout, "judge", {"judge_config": str(old.code)})
    assert response.status_code == 302
    rollout.refresh_from_db()
    assert rollout.judge_config is None


def test_acknowledging_without_a_gate_or_a_note_is_a_message(client_for, rollout):
    client = client_for("release")
    assert act(client, rollout, "acknowledge", {"note": "fine"}).status_code == 302
    gate = rollouts.rollout_start_gate(rollout=rollout, actor=None)
    assert act(client, rollout, "acknowledge", {"note": "   "}).status_code == 302
    gate.refresh_from_db()
    assert gate.acknowledged is None


def test_the_gate_report_partial_of_an_unknown_rollout_is_a_404(client_for):
    assert client_for("viewer").get(f"/rollouts/{uuid.uuid4()}/gate-report/").status_code == 404


def test_the_gate_report_partial_reads_for_everyone_while_running_and_after(client_for, rollout):
    gate = rollouts.rollout_start_gate(rollout=rollout, actor=None)
    url = f"/rollouts/{rollout.code}/gate-report/"
    assert client_for("viewer").get(url, headers={"HX-Request": "true"}).status_code == 200
    P, F = ("pass",), ("fail",)
    finish_gate_runs(
        gate,
        {
            "baseline": {"refund intent is JSON": P, "polite greeting": P},
            "candidate": {"refund intent is JSON": F, "polite greeting": P},
        },
    )
    response = client_for("viewer").get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Refresh"] == "true"


# --- the verdict on edge tables ----------------------------------------------------------------


def ct(name, trials, *, critical=False, dimension="format", weight=1.0, suite="s1"):
    return CaseTrials(
        case_code=name,
        name=name,
        suite_code=suite,
        dimension=dimension,
        critical=critical,
        weight=weight,
        trials=tuple(trials),
    )


TH = {"s1": 5.0, "s2": 5.0}


def test_no_cases_on_either_side_never_passes():
    report = gate_verdict([], [], thresholds=TH)
    assert report.verdict == "incomplete"
    assert report.reasons


def test_a_suite_missing_on_both_sides_of_a_second_suite_is_not_passed():
    # Suite s2's runs stored no result at all (both failed): the gate has no evidence of it.
    base = [ct("a", ["pass"])]
    cand = [ct("a", ["pass"])]
    report = gate_verdict(base, cand, thresholds=TH, expected_suites={"s1", "s2"})
    assert report.verdict == "incomplete"
    assert any("s2" in r for r in report.reasons)


def test_every_trial_errored_is_incomplete_not_passed():
    base = [ct("a", ["error"], critical=True), ct("b", ["error"])]
    cand = [ct("a", ["error"], critical=True), ct("b", ["cancelled"])]
    assert gate_verdict(base, cand, thresholds=TH).verdict == "incomplete"


def test_zero_weight_cases_only_do_not_crash_and_compare_plain_rates():
    base = [ct("a", ["pass"], weight=0.0), ct("b", ["pass"], weight=0.0)]
    cand = [ct("a", ["fail"], weight=0.0), ct("b", ["pass"], weight=0.0)]
    report = gate_verdict(base, cand, thresholds=TH)
    assert report.verdict == "needs_ack"
    assert report.dimensions[0].delta_pp == -50.0


def test_a_single_case_suite_and_trials_mismatch():
    base = [ct("a", ["pass"], critical=True)]
    cand = [ct("a", ["pass", "pass", "fail"], critical=True)]
    report = gate_verdict(base, cand, thresholds=TH)
    assert report.verdict == "blocked"


def test_a_dimension_only_on_the_candidate_side_is_incomplete():
    base = [ct("a", ["pass"])]
    cand = [ct("a", ["pass"]), ct("new", ["pass"], dimension="tone")]
    report = gate_verdict(base, cand, thresholds=TH)
    assert report.verdict == "incomplete"


def test_a_suite_without_a_threshold_entry_does_not_crash():
    report = gate_verdict(
        [ct("a", ["pass"], suite="s9")], [ct("a", ["pass"], suite="s9")], thresholds={}
    )
    assert report.verdict == "passed"


def test_huge_weights_never_make_a_nan_delta():
    base = [ct("a", ["pass"] * 20, weight=1e308), ct("b", ["pass"] * 20, weight=1e308)]
    cand = [ct("a", ["fail"] * 20, weight=1e308), ct("b", ["pass"] * 20, weight=1e308)]
    report = gate_verdict(base, cand, thresholds=TH)
    delta = report.dimensions[0].delta_pp
    assert delta is not None and delta == delta  # not NaN
    assert report.verdict == "needs_ack"


# --- a gate whose runs end with no results -----------------------------------------------------


def test_a_gate_whose_runs_hold_no_results_is_not_passed(feature, candidate, suite):
    gate = rollouts.rollout_start_gate(
        rollout=rollouts.rollout_create(feature=feature, candidate=candidate, actor=None),
        actor=None,
    )
    # The cases were moved to draft and their pending rows removed mid-gate (a broken worker,
    # an admin's cleanup): the runs complete with nothing scored.
    from evaluations.models import CaseResult
    from evaluations.services.gates import gate_run_ended
    from evaluations.services.runs import run_finish

    CaseResult.objects.filter(run__gate=gate).delete()
    for run in Run.objects.filter(gate=gate):
        finished = run_finish(run_id=run.pk)
        assert finished is not None
        gate_run_ended(finished)
    gate.refresh_from_db()
    assert gate.verdict == Gate.Verdict.INCOMPLETE


XSS = '<img src=x onerror="alert(1)">'


def test_case_names_and_outputs_are_escaped_on_every_gate_and_run_page(
    client_for, feature, candidate
):
    from evaluations.models import CaseResult

    make_suite(feature, f"suite {XSS}", cases=[(f"case {XSS}", "format", True)])
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    gate = rollouts.rollout_start_gate(rollout=rollout, actor=None)
    P, F = ("pass",), ("fail",)
    CaseResult.objects.filter(run__gate=gate).update(output=XSS, error=XSS)
    finish_gate_runs(gate, {"baseline": {f"case {XSS}": P}, "candidate": {f"case {XSS}": F}})
    client = client_for("viewer")
    run = gate.runs.get(side="candidate")
    suite = run.suite
    for url in (
        f"/rollouts/{rollout.code}/",
        f"/rollouts/{rollout.code}/gate-report/",
        f"/evaluations/runs/{run.code}/",
        f"/evaluations/suites/{suite.code}/",
        "/evaluations/",
    ):
        page = client.get(url).content.decode()
        assert XSS not in page, url
    body = client.get(f"/api/v1/gates/{gate.code}").json()
    assert body["regressed"][0]["case"] == f"case {XSS}"  # JSON carries it as data


def test_a_gate_of_an_aborted_rollout_cannot_be_acknowledged(feature, candidate, release):
    from evaluations.services.gates import gate_acknowledge
    from registry.errors import Conflict

    make_suite(feature, "acks", cases=CASES, threshold_pp=5.0)
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    gate = rollouts.rollout_start_gate(rollout=rollout, actor=release)
    P, F = ("pass",), ("fail",)
    finish_gate_runs(
        gate,
        {
            "baseline": {"refund intent is JSON": P, "polite greeting": P},
            "candidate": {"refund intent is JSON": P, "polite greeting": F},
        },
    )
    assert gate.verdict == "needs_ack"
    rollouts.rollout_abort(rollout=rollout, actor=release, reason="changed our mind")
    with pytest.raises(Conflict, match="aborted"):
        gate_acknowledge(gate=gate, actor=release, note="fine")
    gate.refresh_from_db()
    assert gate.acknowledged is None
    assert not AuditEvent.objects.filter(action="gate.acknowledge").exists()
