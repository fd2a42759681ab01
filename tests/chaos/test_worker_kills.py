"""Workers SIGKILLed at seeded random moments (issue 11, "Faults"): real Celery worker processes
on PostgreSQL + Redis, killed with no chance to clean up and started again.

- 10,000 shadow jobs, the worker killed several times while they run: none lost, none paired
  twice, drained soon after the last kill; a poison job (its worker is killed every time it
  holds it) fails at the attempt cap with its reason while the others complete.
- An eval run whose worker is killed mid-run completes on redelivery: every case scored once.
- A worker killed inside an automatic rollback, a process killed inside a promotion: the
  rollout is in the state before or after, never between, with exactly one audit event.

Every test ends with tests/invariants.check_invariants. The seed is printed ("chaos seed: N");
CHAOS_SEED=N replays a schedule.
"""

import contextlib
import contextvars
import os
import queue
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from celery import current_app
from django.conf import settings
from django.db import connection
from django.db.models import Count

from comparisons.services.shadow import GAVE_UP, MAX_ATTEMPTS, shadow_sweep
from evaluations import sweeping
from evaluations.models import Case, CaseResult, Run, Suite
from evaluations.services.runs import run_create, run_progress
from evaluations.tasks import execute_run
from registry.models import (
    AuditEvent,
    ModelConfig,
    ModelVersion,
    Provider,
    RequestLog,
    Rollout,
    RoutingState,
    ServingChange,
    ShadowJob,
)
from registry.services import registry
from registry.services.audit import _AUDIT_LOCK_KEY as AUDIT_LOCK_KEY
from rollouts.guardrails.evaluate import guardrails_ensure
from rollouts.models import Approval, Stage
from rollouts.services import rollouts
from rollouts.services.stages import active_stage
from tests.chaos.conftest import KillableWorker
from tests.gates import pass_gate
from tests.invariants import check_invariants, seeded
from tests.live import ROOT, database_url, wait_for
from tests.rollouts.test_guardrails import minute, start_canary
from tests.stages import promoter, waive_minimums
from tests.stub_provider import StubProvider, completion
from traffic.ingest import MAX_BATCH, ingest
from traffic.outbox import nudge
from traffic.routing import current_table, invalidate_local

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

LEASE = 3  # seconds (default 60): a killed worker's jobs run again within a few seconds
SWEEP_EVERY = 1.0  # seconds (beat: 30); the test stands in for beat
# CHAOS_SHADOW_JOBS: a smaller run while iterating; the issue asks for 10,000.
JOBS = int(os.environ.get("CHAOS_SHADOW_JOBS", "10000"))
GUARDRAILS_TASK = "rollouts.tasks_guardrails.guardrails_evaluate_all"
POISON = "poison: this request kills whichever worker runs it"


def _provider(url: str) -> Provider:
    return registry.provider_save(
        provider=Provider(
            name="Stub", api_style="openai_chat", base_url=url, api_key_env="", timeout=600
        ),
        actor=None,
    )


def _config(provider: Provider, model_id: str, name: str) -> ModelConfig:
    version = registry.model_version_save(
        version=ModelVersion(provider=provider, model_id=model_id), actor=None
    )
    return registry.config_create(
        config=ModelConfig(name=name, model_version=version, system_prompt="Be brief."),
        actor=None,
    )


def _shadow_world(url: str) -> Rollout:
    provider = _provider(url)
    feature = registry.feature_create(
        key="support-reply",
        name="Support",
        served_config=_config(provider, "gpt-4o-2024-05-13", "v1"),
        actor=None,
    )
    rollout = rollouts.rollout_create(
        feature=feature, candidate=_config(provider, "gpt-4o-2024-11-20", "v2"), actor=None
    )
    pass_gate(rollout)
    rollout = rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    invalidate_local()
    return rollout


def _ingest_all(total: int) -> list[str]:
    """`total` production calls reported through ingest in batches, as an application would;
    the ids of every batch that was acknowledged (ingest returned: stored)."""
    acked: list[str] = []
    table = current_table()
    ids = ["poison"] + [f"r{n}" for n in range(total - 1)]
    for start in range(0, total, MAX_BATCH):
        batch = ids[start : start + MAX_BATCH]
        records = [
            {
                "feature": "support-reply",
                "request_id": rid,
                "unit": f"u{rid}",
                "messages": [
                    {"role": "user", "content": POISON if rid == "poison" else f"question {rid}"}
                ],
                "output": f"baseline answer {rid}",
                "latency_ms": 100,
            }
            for rid in batch
        ]
        ingest({"records": records}, table=table, token=None)
        acked += batch
    return acked


def _open_jobs(rollout: Rollout) -> int:
    return ShadowJob.objects.filter(rollout=rollout, status__in=["queued", "claimed"]).count()


def _progress(rollout: Rollout, began: float) -> None:
    by_status = dict(
        ShadowJob.objects.filter(rollout=rollout)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    print(f"{time.monotonic() - began:5.0f} s: {by_status}", file=sys.stderr)


_client: contextvars.ContextVar[tuple[str, int] | None] = contextvars.ContextVar("client")


class _Stub(StubProvider):
    """The stub, knowing which client connection each request came in on."""

    async def app(self, scope, receive, send) -> None:
        _client.set(scope.get("client"))
        await super().app(scope, receive, send)


def _owner(port: int, workers: list[KillableWorker]) -> KillableWorker | None:
    """The worker process holding the loopback connection from `port` (Linux /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    for worker in workers:
        if worker.proc is None or worker.proc.poll() is not None:
            continue
        fds = f"/proc/{worker.proc.pid}/fd"
        with contextlib.suppress(OSError):
            for fd in os.listdir(fds):
                with contextlib.suppress(OSError):
                    if os.readlink(f"{fds}/{fd}") in inodes:
                        return worker
    return None


def test_shadow_jobs_survive_repeated_worker_kills_and_a_poison_job_stops_at_the_cap(
    transactional_db, settings, worker_factory, caplog
):
    rng = seeded()
    settings.SHADOW_LEASE_SECONDS = LEASE
    # Nudges a killed worker had prefetched are lost with it; the sweep re-sends them after
    # this long (default 120 s). Not shorter: every period it re-sends a nudge for every job
    # still queued, and a 10,000-job backlog would be sent again and again.
    settings.SHADOW_REDISPATCH_SECONDS = 60
    settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    poison_calls: queue.SimpleQueue[int] = queue.SimpleQueue()

    def respond(body: dict, n: int) -> list:
        if body["messages"][-1]["content"] == POISON:
            client = _client.get(None)
            poison_calls.put(client[1] if client else 0)
            return [600.0, completion("never sent")]  # held until its worker dies
        return [completion(f"candidate answer {n}")]

    kills_at = sorted(rng.sample(range(JOBS // 10, JOBS * 7 // 10), 4))  # jobs done
    victims = [rng.randrange(2) for _ in kills_at]
    pauses = [rng.uniform(0.0, 2.0) for _ in kills_at]
    print(f"kill worker {victims} when {kills_at} jobs are done", file=sys.stderr)
    env = {"SHADOW_LEASE_SECONDS": str(LEASE), "PROVIDER_ALLOWED_HOSTS": "127.0.0.1"}
    poison_kills = 0
    with _Stub(respond) as stub:
        rollout = _shadow_world(stub.url)
        # Over the cap by ten: those are counted as skipped, never queued.
        Rollout.objects.filter(pk=rollout.pk).update(shadow_daily_cap=JOBS)
        workers = [worker_factory(concurrency=6, env=env).start() for _ in range(2)]
        began = time.monotonic()
        acked = _ingest_all(JOBS + 10)
        print(f"ingested {len(acked)} in {time.monotonic() - began:.1f} s", file=sys.stderr)
        last_kill = report_at = time.monotonic()
        done_at_last_kill = 0
        deadline = time.monotonic() + 900
        with caplog.at_level("WARNING", logger="comparisons.shadow"):
            while _open_jobs(rollout):
                assert time.monotonic() < deadline, f"not drained; {workers[0].output()}"
                nudge(shadow_sweep())  # what beat's sweep task does
                done = ShadowJob.objects.filter(rollout=rollout, status="done").count()
                with contextlib.suppress(queue.Empty):
                    port = poison_calls.get_nowait()
                    # The poison job is leased and its call in flight: its worker "crashes".
                    holder = _owner(port, workers)
                    if holder is not None:
                        holder.kill()
                        poison_kills += 1
                        last_kill, done_at_last_kill = time.monotonic(), done
                        holder.start()
                if kills_at and done >= kills_at[0]:
                    kills_at.pop(0)
                    victim = workers[victims.pop(0)]
                    victim.kill()
                    last_kill, done_at_last_kill = time.monotonic(), done
                    time.sleep(pauses.pop(0))
                    victim.start()
                if time.monotonic() >= report_at:
                    report_at += 10
                    _progress(rollout, began)
                time.sleep(SWEEP_EVERY)
        drained = time.monotonic()

    total = drained - began
    after_last = drained - last_kill
    kills = sum(w.kills for w in workers)
    print(
        f"{JOBS} shadow jobs, {kills} SIGKILLs ({poison_kills} of the poison job's worker): "
        f"drained in {total:.0f} s, {after_last:.0f} s after the last kill",
        file=sys.stderr,
    )
    assert not kills_at, f"the run ended before every scheduled kill: {kills_at}"
    # Its worker died on each of its attempts: killed by the test on seeing its call, or by a
    # scheduled kill that happened to hit while it was leased.
    assert poison_kills >= 1
    poison = ShadowJob.objects.get(request__request_id="poison")
    assert poison.status == "failed" and poison.error == GAVE_UP
    assert poison.attempts == MAX_ATTEMPTS
    assert f"died {MAX_ATTEMPTS} times" in poison.error
    jobs = ShadowJob.objects.filter(rollout=rollout)
    assert jobs.count() == JOBS
    assert jobs.filter(status="done").count() == JOBS - 1  # every other job completed
    # The kills hit jobs in flight (they were claimed again), so the test tested something.
    assert jobs.filter(status="done", attempts__gt=1).exists()
    assert any("re-queued" in r.getMessage() for r in caplog.records)
    assert any(f"died {MAX_ATTEMPTS} times" in r.getMessage() for r in caplog.records)
    # Drained soon after the last kill: the backlog left then at the pace before it, plus one
    # lost-nudge period and slack; a job stranded by a kill would hold the end far longer.
    pace = done_at_last_kill / (last_kill - began)
    bound = 1.5 * (JOBS - done_at_last_kill) / pace + settings.SHADOW_REDISPATCH_SECONDS + 30
    assert after_last < bound, f"drained {after_last:.0f} s after the last kill (bound {bound:.0f})"
    counts = check_invariants(acknowledged_request_ids=acked, rollout=rollout, label="kills")
    assert counts["pairs"] == JOBS - 1 and counts["skipped_cap"] == 10
    assert counts["failed_by_reason"] == {GAVE_UP: 1}
    assert RequestLog.objects.filter(raw_messages__isnull=False).count() == 0


# --- eval runs ---------------------------------------------------------------------------------

CASES = 60


def _eval_world(url: str) -> tuple[Suite, ModelConfig]:
    config = _config(_provider(url), "gpt-4o-2024-08-06", "v1")
    feature = registry.feature_create(
        key="summarize", name="Summarize", served_config=config, actor=None
    )
    suite = Suite.objects.create(feature=feature, name="main", prompt="Q: {{question}}")
    for n in range(CASES):
        Case.objects.create(
            suite=suite,
            name=f"c{n}",
            variables={"question": f"q{n}"},
            assertions=[{"type": "contains", "value": "answer"}],
        )
    return suite, config


def test_an_eval_run_whose_worker_is_killed_mid_run_completes_once_per_case(
    transactional_db, settings, worker_factory, monkeypatch
):
    rng = seeded()
    lease = 5  # the minimum EVAL_LEASE_SECONDS allows (default 120)
    settings.EVAL_LEASE_SECONDS = lease
    settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    # The sweep re-sends a run nobody works on after this long (60 s); the test stands in for
    # beat and runs the sweep every second.
    monkeypatch.setattr(sweeping, "REDISPATCH_SECONDS", lease)
    answers: dict[str, list[str]] = {}

    def respond(body: dict, n: int) -> list:
        question = body["messages"][-1]["content"]
        answers.setdefault(question, []).append(f"answer {n}")
        return [0.5, completion(f"answer {n}")]

    kill_after = rng.randrange(8, CASES * 2 // 3)  # results written when the worker dies
    print(f"kill the worker after {kill_after} of {CASES} results", file=sys.stderr)
    with StubProvider(respond) as stub:
        suite, config = _eval_world(stub.url)
        worker = worker_factory(
            concurrency=2,
            env={
                "EVAL_LEASE_SECONDS": str(lease),
                "EVAL_PROVIDER_CONCURRENCY": "4",
                "PROVIDER_ALLOWED_HOSTS": "127.0.0.1",
            },
        ).start()
        run = run_create(suite=suite, config=config, actor=None)  # its message goes out
        results = CaseResult.objects.filter(run=run)
        assert wait_for(
            lambda: results.filter(status__in=CaseResult.SCORED).count() >= kill_after,
            timeout=240,
            interval=0.05,
        ), f"no progress; worker:\n{worker.output()}"
        in_flight = results.filter(status="running").count()
        worker.kill()
        killed = time.monotonic()
        time.sleep(rng.uniform(0.0, 2.0))
        worker.start()

        def finished() -> bool:
            for run_id in sweeping.run_sweep():  # what beat's sweep_runs task does
                execute_run.apply_async((run_id,))
            return Run.objects.get(pk=run.pk).status == Run.Status.COMPLETED

        assert wait_for(finished, timeout=180, interval=1.0), worker.output()
    recovered = time.monotonic() - killed
    print(
        f"eval run: killed with {in_flight} case(s) in flight, completed {recovered:.0f} s later",
        file=sys.stderr,
    )
    assert in_flight, "the kill hit no case in flight"
    rows = list(results.values_list("case__variables", "status", "attempts", "output"))
    assert len(rows) == CASES  # no lost case, no case twice
    assert {status for _, status, _, _ in rows} == {"pass"}
    assert any(attempts == 2 for _, _, attempts, _ in rows)  # in flight at the kill: redone
    for variables, _, attempts, output in rows:
        sent = answers[f"Q: {variables['question']}"]
        # Written once, from one of its own calls; never more calls than claims.
        assert output in sent and len(sent) <= attempts, (variables, sent, attempts)
    assert run_progress(run).passed == CASES
    check_invariants(label="eval kill")


# --- promotion and automatic rollback -----------------------------------------------------------


class _HeldLock:
    """A lock the test holds on its own connection, so that the process under test blocks on
    it inside its transaction, where the test kills it."""

    def __init__(self, sql: str, params: list) -> None:
        db = connection.settings_dict
        self.conn = psycopg.connect(
            dbname=db["NAME"],
            user=db.get("USER") or "postgres",
            host=db.get("HOST") or "127.0.0.1",
            port=db.get("PORT") or 5432,
            password=db.get("PASSWORD") or None,
        )
        self.conn.execute(sql, params)
        self.pid = self.conn.info.backend_pid

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


def _lock(point: str, rollout: Rollout, stage: Stage) -> _HeldLock:
    if point == "rollout row":
        return _HeldLock(
            f"SELECT 1 FROM {Rollout._meta.db_table} WHERE id = %s FOR UPDATE", [rollout.pk]
        )
    if point == "audit chain":
        return _HeldLock("SELECT pg_advisory_xact_lock(%s)", [AUDIT_LOCK_KEY])
    if point == "routing generation":
        RoutingState.objects.get_or_create(pk=1)
        return _HeldLock(
            f"SELECT 1 FROM {RoutingState._meta.db_table} WHERE id = 1 FOR NO KEY UPDATE", []
        )
    # The stage the process updates (NO KEY: the rows that point at it may still be written).
    return _HeldLock(
        f"SELECT 1 FROM {Stage._meta.db_table} WHERE id = %s FOR NO KEY UPDATE", [stage.pk]
    )


def _blocked_on(lock: _HeldLock) -> int | None:
    """The backend waiting for a lock (the process under test, stopped inside its transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> %s",
            [lock.pid],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _gone(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 0


def _state(rollout: Rollout) -> dict:
    """Everything a promotion or a rollback changes, as one comparable value."""
    row = Rollout.objects.get(pk=rollout.pk)
    return {
        "status": row.status,
        "candidate_bp": row.candidate_bp,
        "ended": row.ended,
        "stages": list(
            Stage.objects.filter(rollout=rollout)
            .order_by("position")
            .values_list("status", flat=True)
        ),
        "approvals": Approval.objects.filter(rollout=rollout).count(),
        "audit": list(AuditEvent.objects.order_by("id").values_list("action", flat=True)),
        "serving": ServingChange.objects.count(),
        "generation": RoutingState.objects.filter(pk=1)
        .values_list("generation", flat=True)
        .first(),
    }


def _kill_while_blocked(lock: _HeldLock, kill) -> None:
    """Wait until the process blocks on the held lock, kill it there, then let its backend go
    (PostgreSQL rolls its transaction back when it finds the client gone)."""
    pid = wait_for(lambda: _blocked_on(lock), timeout=120, interval=0.05)
    assert pid, "the process never reached the held lock"
    kill()
    lock.release()
    assert wait_for(lambda: _gone(pid), timeout=30), "the killed process's backend lingers"


ROLLBACK_POINTS = ["rollout row", "audit chain", "routing generation", "active stage"]


def test_a_worker_killed_inside_an_automatic_rollback_leaves_it_undone_and_redelivery_does_it_once(
    transactional_db, feature, make_config, make_version, worker_factory
):
    rng = seeded()
    points = rng.sample(ROLLBACK_POINTS, 2)
    print(f"kill points: {points}", file=sys.stderr)
    worker = worker_factory(concurrency=2).start()
    for n, point in enumerate(points):
        canary = start_canary(
            feature
            if n == 0
            else registry.feature_create(
                key=f"f{n}", name=f"F{n}", served_config=make_config(f"f{n} v1"), actor=None
            ),
            make_config(f"candidate {n}", make_version("gpt-4o-2024-11-20")),
        )
        guardrails_ensure(canary)
        minute(canary, "baseline", requests=3000, errors=30)
        minute(canary, "candidate", requests=3000, errors=120)  # a critical breach
        before = _state(canary)
        active = Stage.objects.get(rollout=canary, status=Stage.Status.ACTIVE)
        lock = _lock(point, canary, active)
        current_app.send_task(GUARDRAILS_TASK)  # beat's minute
        _kill_while_blocked(lock, worker.kill)
        assert _state(canary) == before, f"half a rollback after a kill at the {point}"

        worker.start()
        current_app.send_task(GUARDRAILS_TASK)  # the next minute's
        assert wait_for(
            lambda pk=canary.pk: Rollout.objects.get(pk=pk).status == Rollout.Status.ROLLED_BACK,
            timeout=120,
        ), worker.output()
        current_app.send_task(GUARDRAILS_TASK)  # and one more: an ended rollout is left alone
        time.sleep(1)
        after = _state(canary)
        assert after["candidate_bp"] == 0 and "active" not in after["stages"]
        new_events = after["audit"][len(before["audit"]) :]
        assert new_events.count("rollout.rollback") == 1, new_events
        assert after["audit"][: len(before["audit"])] == before["audit"]
    check_invariants(label="rollback kill")


PROMOTE = """
import sys
import django

django.setup()
from django.contrib.auth.models import User
from registry.models import Rollout
from rollouts.services.promotion import rollout_promote

rollout_promote(
    rollout=Rollout.objects.get(pk=int(sys.argv[1])),
    actor=User.objects.get(username="promoter"),
    note="chaos: promote",
    expected_position=int(sys.argv[2]),
)
print("promoted")
"""
PROMOTION_POINTS = ["rollout row", "audit chain", "routing generation", "next stage"]


def test_a_process_killed_inside_a_promotion_leaves_it_undone_and_a_retry_promotes_once(
    transactional_db, shadow_rollout
):
    rng = seeded()
    points = rng.sample(PROMOTION_POINTS, 2)
    print(f"kill points: {points}", file=sys.stderr)
    promoter()
    waive_minimums(shadow_rollout)
    env = os.environ | {
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "rollout_site.settings",
        "SECRET_KEY": settings.SECRET_KEY,
    }
    for point in points:
        stage = active_stage(shadow_rollout)
        target = Stage.objects.get(rollout=shadow_rollout, position=stage.position + 1)
        args = [sys.executable, "-c", PROMOTE, str(shadow_rollout.pk), str(stage.position)]
        before = _state(shadow_rollout)
        lock = _lock(point, shadow_rollout, target)
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        _kill_while_blocked(lock, lambda p=proc: (p.send_signal(signal.SIGKILL), p.wait()))
        assert _state(shadow_rollout) == before, f"half a promotion after a kill at the {point}"

        retry = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert retry.returncode == 0 and "promoted" in retry.stdout, retry.stderr[-3000:]
        again = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode != 0 and "Already promoted" in again.stderr, again.stderr[-3000:]
        after = _state(shadow_rollout)
        assert after["candidate_bp"] == target.candidate_bp
        assert after["approvals"] == before["approvals"] + 1
        new_events = after["audit"][len(before["audit"]) :]
        assert after["audit"][: len(before["audit"])] == before["audit"]
        assert new_events.count("rollout.promote") == 1, new_events
    check_invariants(rollout=shadow_rollout, label="promotion kill")
