"""The gate's services over stored results (evaluations/services/gates.py)."""

import json

import httpx
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from evaluations.charts import gate_dimension_figure
from evaluations.executor import run_execute
from evaluations.models import CaseResult, Gate, Run, Suite
from evaluations.services.gates import (
    gate_acknowledge,
    gate_cancel,
    gate_run_ended,
    gate_start,
    gate_summary,
)
from evaluations.services.runs import run_cancel
from registry.errors import Conflict, DomainError
from registry.models import AuditEvent
from tests.gates import finish_gate_runs, make_suite

P, F, E = ("pass",), ("fail",), ("error",)


@pytest.fixture
def candidate(make_config, make_version):
    return make_config("support v2", make_version("gpt-4o-2024-11-20"))


@pytest.fixture
def suite(feature):
    return make_suite(
        feature,
        cases=[
            ("refund intent is JSON", "format", True),
            ("polite greeting", "tone", False),
            ("order status", "accuracy", False),
        ],
    )


def test_it_starts_a_baseline_and_a_candidate_run_per_suite_with_cases(
    feature, candidate, suite, release
):
    make_suite(feature, "Safety", cases=[("no PII", "safety", True)])
    make_suite(feature, "Retired", cases=[("old", "other", False)], active=False)
    make_suite(feature, "Drafts only", cases=[{"name": "sampled", "draft": True}])
    gate = gate_start(feature=feature, candidate=candidate, actor=release, trials=2)
    runs = {(r.suite.name, r.side, r.config_id) for r in gate.runs.select_related("suite")}
    assert runs == {
        ("Support", "baseline", feature.served_config_id),
        ("Support", "candidate", candidate.pk),
        ("Safety", "baseline", feature.served_config_id),
        ("Safety", "candidate", candidate.pk),
    }
    assert gate.verdict == "running"
    # 3 cases x 2 trials per Support run, pending from the start.
    assert CaseResult.objects.filter(run__gate=gate, run__suite=suite).count() == 12
    assert AuditEvent.objects.filter(action="gate.start", object_id=str(gate.code)).exists()


def test_it_refuses_a_feature_without_a_suite_with_cases(feature, candidate):
    Suite.objects.create(feature=feature, name="Empty")
    with pytest.raises(DomainError) as exc:
        gate_start(feature=feature, candidate=candidate, actor=None)
    assert str(exc.value) == (
        "Feature 'support-reply' has no eval suite with cases; add one on the Evaluations page."
    )
    assert not Gate.objects.exists()


@pytest.mark.parametrize("trials", [0, 21, True, "2"])
def test_it_refuses_bad_trials_naming_the_field(feature, candidate, suite, trials):
    with pytest.raises(ValidationError) as exc:
        gate_start(feature=feature, candidate=candidate, actor=None, trials=trials)
    assert "trials" in exc.value.message_dict


def test_it_refuses_the_baseline_as_candidate(feature, suite):
    with pytest.raises(ValidationError) as exc:
        gate_start(feature=feature, candidate=feature.served_config, actor=None)
    assert "candidate" in exc.value.message_dict


def test_the_verdict_is_stored_once_every_run_has_ended(feature, candidate, suite):
    gate = gate_start(feature=feature, candidate=candidate, actor=None)
    baseline, cand = (gate.runs.get(side=s) for s in ("baseline", "candidate"))
    for result in CaseResult.objects.filter(run__gate=gate):
        result.status = (
            "pass" if result.run_id == baseline.pk or result.case.dimension != "format" else "fail"
        )
        result.save()
    Run.objects.filter(pk=baseline.pk).update(status="completed")
    gate_run_ended(Run.objects.get(pk=baseline.pk))
    gate.refresh_from_db()
    assert gate.verdict == "running"  # the candidate run has not ended
    Run.objects.filter(pk=cand.pk).update(status="completed")
    gate_run_ended(Run.objects.get(pk=cand.pk))
    gate_run_ended(Run.objects.get(pk=cand.pk))  # a redelivery
    gate.refresh_from_db()
    assert gate.verdict == "blocked"
    assert gate.finished is not None
    assert gate.report["reasons"] == [
        "Critical case 'refund intent is JSON' passed on the baseline and fails on the candidate."
    ]
    assert gate.report["cases"][0]["name"] == "refund intent is JSON"
    assert len(gate.report["runs"]) == 2
    events = AuditEvent.objects.filter(action="gate.verdict", object_id=str(gate.code))
    assert [e.after["verdict"] for e in events] == ["blocked"]


def test_better_on_average_but_a_critical_regression_blocks(feature, candidate):
    make_suite(
        feature,
        cases=[("refund intent is JSON", "format", True)]
        + [(f"format {i}", "format", False) for i in range(9)],
    )
    gate = gate_start(feature=feature, candidate=candidate, actor=None)
    base = {"refund intent is JSON": P} | {f"format {i}": F for i in range(9)}
    cand = {"refund intent is JSON": F} | {f"format {i}": P for i in range(9)}
    finish_gate_runs(gate, {"baseline": base, "candidate": cand})
    assert gate.verdict == "blocked"
    (dim,) = gate.report["dimensions"]
    assert dim["delta_pp"] == 80.0  # from 10% to 90%


def test_a_non_critical_drop_over_the_threshold_needs_acknowledgement(
    feature, candidate, suite, release, viewer
):
    gate = gate_start(feature=feature, candidate=candidate, actor=None)
    base = {"refund intent is JSON": P, "polite greeting": P, "order status": P}
    finish_gate_runs(gate, {"baseline": base, "candidate": base | {"polite greeting": F}})
    assert gate.verdict == "needs_ack"
    assert not gate.clears
    with pytest.raises(ValidationError) as exc:
        gate_acknowledge(gate=gate, actor=release, note="  ")
    assert "note" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        gate_acknowledge(gate=gate, actor=viewer, note="fine")
    gate_acknowledge(gate=gate, actor=release, note="Greeting wording is a style choice.")
    gate.refresh_from_db()
    assert gate.clears
    assert (gate.acknowledged_by, gate.ack_note) == (release, "Greeting wording is a style choice.")
    event = AuditEvent.objects.get(action="gate.acknowledge")
    assert event.reason == "Greeting wording is a style choice."
    with pytest.raises(Conflict, match="acknowledged already"):
        gate_acknowledge(gate=gate, actor=release, note="again")


def test_only_a_gate_that_needs_it_can_be_acknowledged(feature, candidate, suite, release):
    gate = gate_start(feature=feature, candidate=candidate, actor=None)
    same = {"refund intent is JSON": P, "polite greeting": P, "order status": P}
    finish_gate_runs(gate, {"baseline": same, "candidate": same})
    assert gate.verdict == "passed"
    with pytest.raises(Conflict, match="only a gate that needs acknowledgement"):
        gate_acknowledge(gate=gate, actor=release, note="why not")


def test_a_critical_error_makes_the_gate_incomplete(feature, candidate, suite):
    gate = gate_start(feature=feature, candidate=candidate, actor=None)
    base = {"refund intent is JSON": P, "polite greeting": P, "order status": P}
    finish_gate_runs(gate, {"baseline": base, "candidate": base | {"refund intent is JSON": E}})
    assert gate.verdict == "incomplete"
    assert "no scored result on the candidate" in gate.report["reasons"][0]


def test_a_cancelled_run_cancels_the_gate_and_its_other_runs(feature, candidate, suite, release):
    gate = gate_start(feature=feature, candidate=candidate, actor=None)
    cand = gate.runs.get(side="candidate")
    run_cancel(run=cand, actor=release)
    gate_run_ended(Run.objects.get(pk=cand.pk))
    gate.refresh_from_db()
    assert gate.verdict == "cancelled"
    assert set(gate.runs.values_list("status", flat=True)) == {"cancelled"}
    assert "was cancelled" in gate.report["reasons"][0]


def test_cancelling_a_gate_stops_its_runs_once(feature, candidate, suite, release):
    gate = gate_start(feature=feature, candidate=candidate, actor=None)
    gate_cancel(gate=gate, actor=release)
    assert gate.verdict == "cancelled"
    assert set(gate.runs.values_list("status", flat=True)) == {"cancelled"}
    assert AuditEvent.objects.filter(action="gate.cancel").count() == 1
    with pytest.raises(Conflict, match="cancelled already"):
        gate_cancel(gate=gate, actor=release)


def test_the_summary_and_the_chart_show_the_dimensions(feature, candidate, suite):
    gate = gate_start(feature=feature, candidate=candidate, actor=None)
    base = {"refund intent is JSON": P, "polite greeting": P, "order status": F}
    finish_gate_runs(gate, {"baseline": base, "candidate": base | {"order status": P}})
    summary = gate_summary(gate)
    assert summary["percent"] == 100
    assert [c["name"] for c in summary["fixed"]] == ["order status"]
    accuracy = next(d for d in summary["dimensions"] if d["dimension"] == "accuracy")
    fig = gate_dimension_figure(accuracy).to_dict()
    bars = fig["data"]
    assert [b["x"][0] for b in bars] == ["baseline", "candidate"]
    assert [b["y"][0] for b in bars] == [0.0, 100.0]
    assert fig["layout"]["title"]["text"].startswith("accuracy · Support: +100.0 points")
    # Wilson interval of 1/1 is about 20.7% to 100%: the error bar reaches down to it.
    assert bars[1]["error_y"]["arrayminus"][0] == pytest.approx(100 - 20.65, abs=0.1)
    json.dumps(fig, default=str)


# --- end to end with the executor (helper B's), the provider faked at its HTTP boundary ---


@pytest.mark.django_db(transaction=True)
def test_a_gate_runs_end_to_end_and_a_fenced_json_candidate_is_blocked(
    feature, make_config, make_version, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    candidate = make_config("support v2", make_version("gpt-4o-2024-11-20"))
    make_suite(
        feature,
        cases=[("refund intent is JSON", "format", True), ("tone is kind", "tone", False)],
    )

    def answer(request: httpx.Request) -> httpx.Response:
        model = json.loads(request.content)["model"]
        # The candidate wraps its JSON in a Markdown fence: a classic format regression.
        content = '{"intent": "refund"}'
        if model == "gpt-4o-2024-11-20":
            content = f"```json\n{content}\n```"
        return httpx.Response(
            200,
            json={
                "id": "x",
                "object": "chat.completion",
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
            },
        )

    gate = gate_start(feature=feature, candidate=candidate, actor=None)
    transport = httpx.MockTransport(answer)
    for run in gate.runs.order_by("id"):
        run_execute(run.pk, transport=transport)
    gate.refresh_from_db()
    assert gate.verdict == "blocked", gate.report
    assert set(gate.runs.values_list("status", flat=True)) == {"completed"}
    assert gate.report["reasons"] == [
        "Critical case 'refund intent is JSON' passed on the baseline and fails on the candidate."
    ]
