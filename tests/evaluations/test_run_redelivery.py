"""A run survives the ways messages and workers fail: a redelivered or duplicated task writes
nothing twice, a lapsed lease is taken over, a cancel stops the claiming, the sweep re-sends
runs nobody works on and finishes runs with nothing open."""

import itertools
import threading
import time

import httpx
import pytest
from django.db.models import Sum

from evaluations import claims, executor, sweeping
from evaluations.models import CaseResult, Run
from evaluations.services.runs import run_cancel, run_progress
from tests.evaluations.test_executor import Provider_, add_case, completion, start, world

__all__ = ["world"]  # the fixture, shared with test_executor


def numbered() -> Provider_:
    """Each call answers with its own number, so an overwritten output would show."""
    counter = itertools.count(1)
    lock = threading.Lock()

    def answer(request: httpx.Request) -> httpx.Response:
        with lock:
            n = next(counter)
        return httpx.Response(200, json=completion(f"answer {n}"))

    return Provider_(answer)


def snapshot(run: Run) -> list[tuple]:
    return list(
        CaseResult.objects.filter(run=run)
        .order_by("pk")
        .values_list("pk", "status", "attempts", "output", "finished")
    )


def test_a_second_execution_of_a_finished_run_calls_and_writes_nothing(world):
    for n in range(5):
        add_case(world["suite"], f"c{n}", f"q{n}", [{"type": "contains", "value": "answer"}])
    stub = numbered()
    run = start(world)
    executor.run_execute(run.pk, transport=stub.transport)
    before = snapshot(run)

    executor.run_execute(run.pk, transport=stub.transport)  # the redelivered message

    assert stub.calls == 5
    assert snapshot(run) == before
    assert run_progress(run).passed == 5
    assert CaseResult.objects.filter(run=run).aggregate(n=Sum("attempts"))["n"] == 5


def test_two_deliveries_at_once_share_the_work_and_count_each_result_once(world, settings):
    settings.EVAL_PROVIDER_CONCURRENCY = 3
    for n in range(12):
        add_case(world["suite"], f"c{n}", f"q{n}", [])
    stub = numbered()
    stub.delay = 0.1
    run = start(world)
    threads = [
        threading.Thread(target=executor.run_execute, args=(run.pk,), kwargs={"transport": t})
        for t in (stub.transport, stub.transport)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    rows = CaseResult.objects.filter(run=run)
    assert stub.calls == 12
    assert set(rows.values_list("attempts", flat=True)) == {1}
    # Every answer was written to exactly one row.
    assert sorted(rows.values_list("output", flat=True)) == sorted(
        f"answer {n}" for n in range(1, 13)
    )
    run.refresh_from_db()
    assert run.status == "completed" and run_progress(run).passed == 12
    # Both deliveries together never passed the provider's limit (one process, one limit).
    assert stub.max_in_flight <= 3


def test_a_write_from_a_claim_that_was_taken_over_is_refused(world):
    add_case(world["suite"], "c", "q", [])
    run = start(world)
    Run.objects.filter(pk=run.pk).update(status="running")
    (claim,) = claims.claim_batch(run_id=run.pk, limit=5) or []
    stale = claims.Claim(claim.result_id, claim.case_id, claim.trial, claim.attempts - 1)
    written = claims.write_results(
        [claims.Written(claim=stale, fields={"status": "pass", "output": "late"})]
    )
    assert written == 0
    row = CaseResult.objects.get(pk=claim.result_id)
    assert row.status == "running" and row.output == ""


def test_a_lapsed_lease_is_claimed_again_and_a_live_one_is_left_alone(world, settings):
    settings.EVAL_LEASE_SECONDS = 1
    for n in range(3):
        add_case(world["suite"], f"c{n}", f"q{n}", [])
    run = start(world)
    Run.objects.filter(pk=run.pk).update(status="running")
    # A worker claimed one result and died with it.
    (dead,) = claims.claim_batch(run_id=run.pk, limit=1) or []

    stub = numbered()
    executor.run_execute(run.pk, transport=stub.transport)
    held = CaseResult.objects.get(pk=dead.result_id)
    assert held.status == "running" and held.attempts == 1  # its lease was still live
    run.refresh_from_db()
    assert run.status == "running"  # not finished while a result is open

    time.sleep(1.5)
    executor.run_execute(run.pk, transport=stub.transport)
    held.refresh_from_db()
    assert held.status == "pass" and held.attempts == 2
    assert stub.calls == 3
    run.refresh_from_db()
    assert run.status == "completed"


def test_cancelling_mid_run_stops_the_claiming(world, settings):
    settings.EVAL_PROVIDER_CONCURRENCY = 2
    for n in range(10):
        add_case(world["suite"], f"c{n}", f"q{n}", [])
    stub = Provider_(lambda r: httpx.Response(200, json=completion("ok")), delay=0.6)
    run = start(world)
    worker = threading.Thread(
        target=executor.run_execute, args=(run.pk,), kwargs={"transport": stub.transport}
    )
    worker.start()
    assert stub.started.wait(10)
    run_cancel(run=Run.objects.get(pk=run.pk), actor=None)
    began = time.monotonic()
    worker.join(timeout=30)

    assert not worker.is_alive()
    assert time.monotonic() - began < 2  # in-flight calls were dropped, not waited for
    assert stub.calls <= 4  # the first window, perhaps a second claimed before the cancel
    run.refresh_from_db()
    assert run.status == "cancelled"
    progress = run_progress(run)
    assert progress.cancelled >= 6 and progress.cancelled + progress.passed == 10
    # Nothing was written over a cancelled result.
    assert not CaseResult.objects.filter(run=run, status="cancelled").exclude(output="").exists()


def test_the_sweep_resends_runs_nobody_works_on(world, monkeypatch):
    monkeypatch.setattr(sweeping, "REDISPATCH_SECONDS", 0)
    add_case(world["suite"], "c", "q", [])
    lost = start(world)  # its message never arrived
    assert sweeping.run_sweep() == [lost.pk]


def test_the_sweep_leaves_runs_with_a_live_lease_and_recent_progress(world, monkeypatch):
    add_case(world["suite"], "a", "qa", [])
    add_case(world["suite"], "b", "qb", [])
    run = start(world)
    assert sweeping.run_sweep() == []  # just created: its message is on its way
    monkeypatch.setattr(sweeping, "REDISPATCH_SECONDS", 0)
    Run.objects.filter(pk=run.pk).update(status="running")
    claims.claim_batch(run_id=run.pk, limit=1)
    assert sweeping.run_sweep() == []  # a worker holds a live lease


def test_the_sweep_finishes_runs_with_nothing_open_and_gives_up_on_killer_cases(
    world, settings, monkeypatch
):
    settings.EVAL_LEASE_SECONDS = 1
    add_case(world["suite"], "c", "q", [])
    run = start(world)
    Run.objects.filter(pk=run.pk).update(status="running")
    # The case killed its worker MAX_ATTEMPTS times.
    for _ in range(claims.MAX_ATTEMPTS):
        assert claims.claim_batch(run_id=run.pk, limit=1)
        time.sleep(1.2)
    assert claims.claim_batch(run_id=run.pk, limit=1) == []  # never claimed a fourth time

    assert sweeping.run_sweep() == []
    result = CaseResult.objects.get(run=run)
    assert result.status == "error" and result.error_kind == "worker_lost"
    assert "gave up after 3 attempts" in result.error
    run.refresh_from_db()
    assert run.status == "completed" and run.finished


@pytest.mark.parametrize("ended", ["completed", "cancelled"])
def test_a_late_delivery_for_an_ended_run_does_nothing(world, ended):
    add_case(world["suite"], "c", "q", [])
    run = start(world)
    Run.objects.filter(pk=run.pk).update(status=ended)
    stub = numbered()
    executor.run_execute(run.pk, transport=stub.transport)
    assert stub.calls == 0
    assert CaseResult.objects.get(run=run).status == "pending"
