"""A rollout passes its eval gate before shadow (rollouts/services/rollouts.py, rollout page)."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from evaluations.models import Gate
from registry.errors import Conflict, DomainError
from registry.models import AuditEvent, Rollout
from rollouts.services import rollouts
from tests.gates import finish_gate_runs, make_suite

P, F, E = ("pass",), ("fail",), ("error",)
CASES = [("refund intent is JSON", "format", True), ("polite greeting", "tone", False)]
GOOD = {"refund intent is JSON": P, "polite greeting": P}


@pytest.fixture
def rollout(feature, candidate):
    make_suite(feature, cases=CASES)
    return rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)


@pytest.fixture
def fixed(make_config, make_version):
    return make_config("support v2 prompt fix", make_version("gpt-4o-2024-08-06"))


def _gate(rollout, candidate_results, release=None):
    gate = rollouts.rollout_start_gate(rollout=rollout, actor=release)
    finish_gate_runs(gate, {"baseline": GOOD, "candidate": candidate_results})
    rollout.refresh_from_db()
    return gate


def test_a_draft_cannot_enter_shadow_without_a_gate(rollout):
    with pytest.raises(DomainError, match="Run the eval gate first"):
        rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    rollout.refresh_from_db()
    assert rollout.status == "draft"


def test_starting_the_gate_moves_the_draft_to_gate_and_a_pass_opens_shadow(rollout, release):
    gate = rollouts.rollout_start_gate(rollout=rollout, actor=release)
    rollout.refresh_from_db()
    assert rollout.status == "gate"
    assert (gate.rollout, gate.baseline, gate.candidate) == (
        rollout,
        rollout.baseline,
        rollout.candidate,
    )
    with pytest.raises(DomainError, match="still running"):
        rollouts.rollout_start_shadow(rollout=rollout, actor=release)
    finish_gate_runs(gate, {"baseline": GOOD, "candidate": GOOD})
    assert gate.verdict == "passed"
    rollouts.rollout_start_shadow(rollout=rollout, actor=release)
    rollout.refresh_from_db()
    assert rollout.status == "shadow"
    actions = list(
        AuditEvent.objects.filter(object_id=str(rollout.code))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["rollout.create", "rollout.start_gate", "rollout.start_shadow"]


def test_a_blocked_gate_is_cleared_only_by_a_new_candidate(rollout, fixed, release):
    gate = _gate(rollout, GOOD | {"refund intent is JSON": F})
    assert gate.verdict == "blocked"
    with pytest.raises(DomainError, match="change the candidate config"):
        rollouts.rollout_start_shadow(rollout=rollout, actor=release)
    with pytest.raises(Conflict, match="only a new candidate config clears it"):
        rollouts.rollout_start_gate(rollout=rollout, actor=release)
    rollouts.rollout_change_candidate(
        rollout=rollout, candidate=fixed, actor=release, reason="prompt fix for the JSON case"
    )
    rollout.refresh_from_db()
    assert rollout.candidate == fixed
    # The new candidate has not passed a gate yet: the old verdict says nothing about it.
    with pytest.raises(DomainError, match="candidate changed"):
        rollouts.rollout_start_shadow(rollout=rollout, actor=release)
    again = _gate(rollout, GOOD)
    assert (again.verdict, again.candidate) == ("passed", fixed)
    rollouts.rollout_start_shadow(rollout=rollout, actor=release)
    assert AuditEvent.objects.get(action="rollout.change_candidate").reason == (
        "prompt fix for the JSON case"
    )


def test_needs_acknowledgement_opens_shadow_only_after_a_note(rollout, release):
    gate = _gate(rollout, GOOD | {"polite greeting": F})
    assert gate.verdict == "needs_ack"
    with pytest.raises(DomainError, match="needs acknowledgement"):
        rollouts.rollout_start_shadow(rollout=rollout, actor=release)
    from evaluations.services.gates import gate_acknowledge

    with pytest.raises(ValidationError):
        gate_acknowledge(gate=gate, actor=release, note="")
    gate_acknowledge(gate=gate, actor=release, note="Tone wording accepted by support lead.")
    rollouts.rollout_start_shadow(rollout=rollout, actor=release)
    rollout.refresh_from_db()
    assert rollout.status == "shadow"


def test_an_incomplete_gate_runs_again_a_passed_one_does_not(rollout, release):
    first = _gate(rollout, GOOD | {"refund intent is JSON": E})
    assert first.verdict == "incomplete"
    second = _gate(rollout, GOOD)
    assert second.verdict == "passed"
    with pytest.raises(Conflict, match="runs again only after the candidate changes"):
        rollouts.rollout_start_gate(rollout=rollout, actor=release)


def test_two_starts_of_the_gate_make_one_gate(rollout, release):
    stale = Rollout.objects.get(pk=rollout.pk)
    rollouts.rollout_start_gate(rollout=rollout, actor=release)
    with pytest.raises(Conflict, match="running already"):
        rollouts.rollout_start_gate(rollout=stale, actor=release)
    assert Gate.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_starts_of_the_gate_make_one_gate(feature, candidate):
    make_suite(feature, cases=CASES)
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def start() -> None:
        try:
            barrier.wait()
            rollouts.rollout_start_gate(rollout=Rollout.objects.get(pk=rollout.pk), actor=None)
            outcomes.append("started")
        except Conflict:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused", "started"]
    assert Gate.objects.filter(rollout=rollout).count() == 1


def test_changing_the_candidate_needs_a_reason_and_a_different_config(rollout, fixed, release):
    with pytest.raises(ValidationError) as exc:
        rollouts.rollout_change_candidate(
            rollout=rollout, candidate=fixed, actor=release, reason=""
        )
    assert "reason" in exc.value.message_dict
    for same in (rollout.baseline, rollout.candidate):
        with pytest.raises(ValidationError) as exc:
            rollouts.rollout_change_candidate(
                rollout=rollout, candidate=same, actor=release, reason="x"
            )
        assert "candidate" in exc.value.message_dict


def test_changing_the_candidate_cancels_the_running_gate(rollout, fixed, release):
    gate = rollouts.rollout_start_gate(rollout=rollout, actor=release)
    rollouts.rollout_change_candidate(rollout=rollout, candidate=fixed, actor=release, reason="fix")
    gate.refresh_from_db()
    assert gate.verdict == "cancelled"
    assert set(gate.runs.values_list("status", flat=True)) == {"cancelled"}


def test_the_candidate_is_fixed_once_shadow_starts(rollout, fixed, release):
    _gate(rollout, GOOD)
    rollouts.rollout_start_shadow(rollout=rollout, actor=release)
    with pytest.raises(Conflict, match="shadow now"):
        rollouts.rollout_change_candidate(
            rollout=rollout, candidate=fixed, actor=release, reason="late"
        )


def test_aborting_in_gate_cancels_the_running_gate(rollout, release):
    gate = rollouts.rollout_start_gate(rollout=rollout, actor=release)
    rollouts.rollout_abort(rollout=rollout, actor=release, reason="wrong candidate")
    gate.refresh_from_db()
    rollout.refresh_from_db()
    assert (rollout.status, gate.verdict) == ("aborted", "cancelled")


# --- the rollout page ---


def test_the_page_shows_the_running_gate_and_polls_it(rollout, client_for, release):
    gate = rollouts.rollout_start_gate(rollout=rollout, actor=release)
    page = client_for("viewer").get(f"/rollouts/{rollout.code}/").content.decode()
    assert 'hx-trigger="every 2s"' in page
    assert f'hx-get="/rollouts/{rollout.code}/gate-report/"' in page
    for run in gate.runs.all():
        assert f'href="/evaluations/runs/{run.code}/"' in page
    assert "<strong>0</strong> of 4 results (0%)" in page


def test_the_final_verdict_stops_the_polling_and_reloads_once(rollout, client_for, release):
    gate = _gate(rollout, GOOD | {"refund intent is JSON": F})
    client = client_for("viewer")
    page = client.get(f"/rollouts/{rollout.code}/").content.decode()
    assert "every 2s" not in page
    assert "Blocked" in page
    assert "Critical case &#x27;refund intent is JSON&#x27; passed on the baseline" in page
    assert 'data-figure="gate-figure-1"' in page and 'id="gate-figure-1"' in page
    poll = client.get(f"/rollouts/{rollout.code}/gate-report/", headers={"HX-Request": "true"})
    assert poll["HX-Refresh"] == "true"
    assert gate.verdict == "blocked"


def test_a_case_name_is_escaped_on_the_page(feature, candidate, client_for, release):
    make_suite(feature, cases=[("<script>alert(1)</script>", "format", True)])
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    gate = rollouts.rollout_start_gate(rollout=rollout, actor=release)
    finish_gate_runs(
        gate,
        {
            "baseline": {"<script>alert(1)</script>": P},
            "candidate": {"<script>alert(1)</script>": F},
        },
    )
    page = client_for("viewer").get(f"/rollouts/{rollout.code}/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize("who", ["viewer", "reviewer"])
@pytest.mark.parametrize("action", ["gate", "acknowledge", "candidate"])
def test_only_release_managers_act_on_the_gate(rollout, client_for, who, action, fixed):
    response = client_for(who).post(
        f"/rollouts/{rollout.code}/{action}/", {"note": "x", "candidate": fixed.code, "reason": "x"}
    )
    assert response.status_code == 403
    assert not Gate.objects.exists()
    rollout.refresh_from_db()
    assert (rollout.status, rollout.candidate_id) == ("draft", rollout.candidate_id)


def test_a_release_manager_runs_the_gate_acknowledges_and_shadows_from_the_page(
    rollout, client_for
):
    client = client_for("release")
    page = client.get(f"/rollouts/{rollout.code}/").content.decode()
    assert "Run the gate" in page and "Start shadow traffic" not in page
    client.post(f"/rollouts/{rollout.code}/gate/", {"trials": "1"})
    gate = Gate.objects.get()
    finish_gate_runs(gate, {"baseline": GOOD, "candidate": GOOD | {"polite greeting": F}})
    assert gate.verdict == "needs_ack"
    page = client.get(f"/rollouts/{rollout.code}/").content.decode()
    assert "Acknowledge" in page and "Start shadow traffic" not in page
    refused = client.post(f"/rollouts/{rollout.code}/acknowledge/", {"note": " "}, follow=True)
    assert "note: Write why the drop is acceptable" in refused.content.decode()
    client.post(f"/rollouts/{rollout.code}/acknowledge/", {"note": "accepted"})
    page = client.get(f"/rollouts/{rollout.code}/").content.decode()
    assert "Start shadow traffic" in page and "accepted" in page
    client.post(f"/rollouts/{rollout.code}/shadow/")
    rollout.refresh_from_db()
    assert rollout.status == "shadow"


def test_a_release_manager_changes_the_candidate_from_the_page(rollout, client_for, fixed):
    client = client_for("release")
    bad = client.post(f"/rollouts/{rollout.code}/trials/", {})
    assert bad.status_code == 404
    refused = client.post(
        f"/rollouts/{rollout.code}/candidate/", {"candidate": "nope", "reason": "x"}, follow=True
    )
    assert "candidate: Pick the config" in refused.content.decode()
    client.post(f"/rollouts/{rollout.code}/candidate/", {"candidate": fixed.code, "reason": "fix"})
    rollout.refresh_from_db()
    assert rollout.candidate == fixed
    wrong = client.post(f"/rollouts/{rollout.code}/gate/", {"trials": "lots"}, follow=True)
    assert "trials: Give a whole number." in wrong.content.decode()
