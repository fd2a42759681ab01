"""Races and repeats around runs and gates: two people (or a person and a worker) acting at once
get one effect and a clear answer, never a deadlock error or a second verdict."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from evaluations import claims
from evaluations.models import CaseResult, Gate, Run
from evaluations.services.gates import gate_acknowledge, gate_run_ended, gate_start
from evaluations.services.runs import run_cancel, run_finish, run_start
from registry.errors import Conflict
from registry.models import AuditEvent
from tests.gates import finish_gate_runs, make_suite

CASES = [("refund intent is JSON", "format", True), ("polite greeting", "tone", False)]


@pytest.fixture
def candidate(make_config, make_version):
    return make_config("support v2", make_version("gpt-4o-2024-08-06"))


@pytest.fixture
def suite(feature):
    return make_suite(feature, cases=CASES)


def together(*jobs: Callable[[], object]) -> list[str]:
    """Run the jobs in threads released at once; each outcome is 'ok', 'conflict' or the
    exception's class name."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list[str] = []

    def work(job: Callable[[], object]) -> None:
        try:
            barrier.wait()
            job()
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")
        except Exception as exc:  # what the test is about: no other error may escape
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_cancelling_a_run_twice_is_a_conflict_the_second_time(suite, feature, release):
    gate = gate_start(feature=feature, candidate=_other(feature), actor=release)
    run = gate.runs.first()
    run_cancel(run=run, actor=release)
    with pytest.raises(Conflict, match="cancelled already"):
        run_cancel(run=run, actor=release)
    assert AuditEvent.objects.filter(action="eval_run.cancel", object_id=str(run.pk)).count() <= 1
    assert AuditEvent.objects.filter(action="gate.verdict").count() == 1


def _other(feature):
    from registry.models import ModelConfig
    from registry.services import registry

    version = feature.served_config.model_version
    return registry.config_create(
        config=ModelConfig(name="other", model_version=version, system_prompt="Be brief."),
        actor=None,
    )


def test_results_written_after_a_cancel_take_no_write(suite, feature, release):
    gate = gate_start(feature=feature, candidate=_other(feature), actor=release)
    run = gate.runs.get(side="candidate")
    run_start(run_id=run.pk)
    claimed = claims.claim_batch(run_id=run.pk, limit=10)
    assert claimed
    run_cancel(run=run, actor=release)
    written = claims.write_results(
        [claims.Written(claim=c, fields={"status": "pass", "output": "late"}) for c in claimed]
    )
    assert written == 0
    assert set(CaseResult.objects.filter(run=run).values_list("status", flat=True)) == {"cancelled"}
    assert run_finish(run_id=run.pk) is None  # a cancelled run is never completed


def test_gate_run_ended_twice_stores_one_verdict(suite, feature, release):
    gate = gate_start(feature=feature, candidate=_other(feature), actor=release)
    P = ("pass",)
    finish_gate_runs(
        gate,
        {
            "baseline": {"refund intent is JSON": P, "polite greeting": P},
            "candidate": {"refund intent is JSON": P, "polite greeting": P},
        },
    )
    for run in Run.objects.filter(gate=gate):
        gate_run_ended(run)
    assert AuditEvent.objects.filter(action="gate.verdict").count() == 1
    gate.refresh_from_db()
    assert gate.verdict == "passed"


# --- PostgreSQL: real concurrency ------------------------------------------------------------


def _needs_ack_gate(feature, candidate) -> Gate:
    make_suite(feature, cases=CASES, threshold_pp=5.0)
    gate = gate_start(feature=feature, candidate=candidate, actor=None)
    P, F = ("pass",), ("fail",)
    finish_gate_runs(
        gate,
        {
            "baseline": {"refund intent is JSON": P, "polite greeting": P},
            "candidate": {"refund intent is JSON": P, "polite greeting": F},
        },
    )
    assert gate.verdict == "needs_ack"
    return gate


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_acknowledgements_record_one(feature, candidate, cast):
    gate = _needs_ack_gate(feature, candidate)
    release, admin = cast["release"], cast["admin"]
    outcomes = together(
        lambda: gate_acknowledge(gate=Gate.objects.get(pk=gate.pk), actor=release, note="ok"),
        lambda: gate_acknowledge(gate=Gate.objects.get(pk=gate.pk), actor=admin, note="fine"),
    )
    assert sorted(outcomes) == ["conflict", "ok"]
    assert AuditEvent.objects.filter(action="gate.acknowledge").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_cancelling_both_runs_of_a_gate_at_once_never_deadlocks(feature, candidate, cast):
    """Each cancel locks its run, then the gate, then the gate's other run: two cancels of the
    two sides locked in opposite orders and PostgreSQL killed one with a deadlock error."""
    make_suite(feature, cases=CASES)
    release = cast["release"]
    for _ in range(4):
        gate = gate_start(feature=feature, candidate=candidate, actor=release)
        base, cand = (gate.runs.get(side=s) for s in ("baseline", "candidate"))
        outcomes = together(
            lambda run=base: run_cancel(run=Run.objects.get(pk=run.pk), actor=release),
            lambda run=cand: run_cancel(run=Run.objects.get(pk=run.pk), actor=release),
        )
        assert set(outcomes) <= {"ok", "conflict"}, outcomes
        gate.refresh_from_db()
        assert gate.verdict == "cancelled"
        assert set(gate.runs.values_list("status", flat=True)) == {"cancelled"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_gate_run_ended_from_two_workers_at_once_stores_one_verdict(feature, candidate):
    make_suite(feature, cases=CASES)
    gate = gate_start(feature=feature, candidate=candidate, actor=None)
    for run in gate.runs.all():
        run_start(run_id=run.pk)
        CaseResult.objects.filter(run=run).update(status="pass")
        assert run_finish(run_id=run.pk) is not None
    runs = list(gate.runs.all())
    outcomes = together(*(lambda run=run: gate_run_ended(run) for run in runs * 2))
    assert set(outcomes) == {"ok"}
    assert AuditEvent.objects.filter(action="gate.verdict").count() == 1
    gate.refresh_from_db()
    assert gate.verdict == "passed"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_rollout_aborted_while_its_run_is_cancelled_ends_cleanly(feature, candidate, cast):
    from registry.models import Rollout
    from rollouts.services import rollouts

    make_suite(feature, cases=CASES)
    release = cast["release"]
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    gate = rollouts.rollout_start_gate(rollout=rollout, actor=release)
    run = gate.runs.get(side="candidate")
    outcomes = together(
        lambda: rollouts.rollout_abort(
            rollout=Rollout.objects.get(pk=rollout.pk), actor=release, reason="stop"
        ),
        lambda: run_cancel(run=Run.objects.get(pk=run.pk), actor=release),
    )
    assert set(outcomes) <= {"ok", "conflict"}, outcomes
    gate.refresh_from_db()
    rollout.refresh_from_db()
    assert (rollout.status, gate.verdict) == ("aborted", "cancelled")
    assert set(gate.runs.values_list("status", flat=True)) == {"cancelled"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_finishing_one_side_while_the_other_is_cancelled_never_deadlocks(
    feature, candidate, cast
):
    make_suite(feature, cases=CASES)
    release = cast["release"]
    for _ in range(4):
        gate = gate_start(feature=feature, candidate=candidate, actor=release)
        base, cand = (gate.runs.get(side=s) for s in ("baseline", "candidate"))
        run_start(run_id=base.pk)
        CaseResult.objects.filter(run=base).update(status="pass")
        outcomes = together(
            lambda run=base: run_finish(run_id=run.pk),
            lambda run=cand: run_cancel(run=Run.objects.get(pk=run.pk), actor=release),
        )
        assert set(outcomes) <= {"ok", "conflict"}, outcomes
        gate.refresh_from_db()
        assert gate.verdict == "cancelled"
