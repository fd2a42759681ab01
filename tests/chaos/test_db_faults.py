"""The database outage (a TCP proxy in front of PostgreSQL, cut and restored) under the work that
tests/traffic/test_db_outage.py and test_outage_live.py do not reach: an eval run executing in a
real Celery worker, guardrail evaluation of a canary in that worker, and ingest clients that
retry as the 503 tells them. The web process (API, simulator) and the worker reach the database
through the proxy; the test's own connection goes straight to PostgreSQL.

What must hold (issue 11, "Faults"): the eval run survives the cut (no case scored from missing
data: every pass or fail carries the model's answer; the others are errors that say why, or are
run again) and completes after the restore; a guardrail evaluated during the cut does not fire
(no rollback on missing data) and evaluates again afterwards; every ingest record a client was
refused with 503 + Retry-After is stored by its retry; the audit chain verifies.
"""

import contextlib
import threading
import time
from pathlib import Path

import httpx
import pytest
from celery import current_app
from django.db import connection

from evaluations.models import Case, CaseResult, Run, Suite
from evaluations.services.runs import run_create
from registry.models import ModelConfig, ModelVersion, Rollout
from registry.services import registry
from rollouts.models import Guardrail, GuardrailCheck
from tests.chaos.procs import Celery, Uvicorn, database_url, product_env
from tests.chaos.world import World, ingest_call, simulated_world
from tests.faults import TcpProxy
from tests.invariants import check_invariants
from tests.live import free_port, wait_for

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.slow,
    # PostgreSQL + Redis only: tests/chaos/conftest.py skips without them (fails under CI=true).
    pytest.mark.postgres,
]

CUT_SECONDS = 6.0
CASES = 60
GUARDRAILS_TASK = "rollouts.tasks_guardrails.guardrails_evaluate_all"


def _suite(world: World) -> tuple[Suite, ModelConfig]:
    """A suite whose cases pass on any answer, run on a simulator model that takes ~250 ms, so
    the run is still going when the database goes away."""
    provider = world.baseline.model_version.provider
    version = registry.model_version_save(
        version=ModelVersion(provider=provider, model_id="sim-chat-2025-06-01"), actor=None
    )
    config = registry.config_create(
        config=ModelConfig(name="eval", model_version=version, system_prompt="Hi."),
        actor=None,
    )
    suite = Suite.objects.create(feature=world.feature, name="Support", prompt="{question}")
    Case.objects.bulk_create(
        Case(
            suite=suite,
            position=n,
            name=f"case {n}",
            variables={"question": f"Where is parcel {n}?"},
            assertions=[{"type": "regex", "value": "\\S"}],  # any answer at all passes
        )
        for n in range(CASES)
    )
    return suite, config


def _ingest_with_retries(url: str, token: str, stop: threading.Event, out: dict) -> None:
    """An application reporting its calls: a 503 is retried after its Retry-After."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=15) as c:
        n = 0
        while not stop.is_set():
            n += 1
            rid = f"in-{n}"
            for _attempt in range(10):
                response = ingest_call(c, rid)
                if response.is_success:
                    out["acked"].append(rid)
                    break
                if response.status_code != 503 or "Retry-After" not in response.headers:
                    out["bad"].append(f"{rid}: {response.status_code} {response.text[:200]}")
                    break
                assert response.json()["code"] == "unavailable"
                out["refused"].append(rid)
                time.sleep(float(response.headers["Retry-After"]))
            else:
                out["bad"].append(f"{rid}: still refused after 10 attempts")
            time.sleep(0.05)


def test_eval_runs_guardrails_and_ingest_retries_survive_a_database_cut(
    transactional_db, tmp_path: Path
):
    port = free_port()
    world = simulated_world(port, rollout="canary", shadow_percent=0, percent=50)
    rollout = world.rollout
    assert rollout is not None
    suite, config = _suite(world)
    db = connection.settings_dict
    out: dict[str, list[str]] = {"acked": [], "refused": [], "bad": []}
    stop = threading.Event()
    with contextlib.ExitStack() as stack:
        proxy = stack.enter_context(TcpProxy(target=(db["HOST"] or "127.0.0.1", 5432)))
        broker = current_app.conf.broker_url  # the test's own: it sends the tasks below
        env = product_env(
            database=database_url(proxy.port),
            broker=broker,
            EVAL_LEASE_SECONDS="5",
            EVAL_PROVIDER_CONCURRENCY="4",
            DATABASE_CONNECT_TIMEOUT="2",
            LOG_LEVEL="INFO",
        )
        worker = stack.enter_context(Celery("worker", env, tmp_path / "worker.log"))
        web = stack.enter_context(Uvicorn(env, tmp_path / "web.log", port=port))
        worker.wait_ready()
        current_app.send_task(GUARDRAILS_TASK)
        assert wait_for(
            lambda: Guardrail.objects.filter(rollout=rollout, last_checked__isnull=False).exists(),
            30,
        ), worker.output[-3000:]
        checked_before = max(
            Guardrail.objects.filter(rollout=rollout).values_list("last_checked", flat=True)
        )
        ingest = threading.Thread(
            target=_ingest_with_retries, args=(web.url, world.token, stop, out)
        )
        ingest.start()
        run = run_create(suite=suite, config=config, actor=None)
        results = CaseResult.objects.filter(run=run)
        assert wait_for(lambda: results.exclude(status="pending").count() >= 8, 30), worker.output[
            -3000:
        ]

        proxy.cut()
        cut_at = time.monotonic()
        time.sleep(1)
        current_app.send_task(GUARDRAILS_TASK)  # evaluated while the database is gone
        time.sleep(CUT_SECONDS - 1)
        proxy.restore()
        restored = time.monotonic()
        time.sleep(1)
        current_app.send_task(GUARDRAILS_TASK)  # and again once it is back

        completed = wait_for(
            lambda: Run.objects.filter(pk=run.pk, status=Run.Status.COMPLETED).exists(), 120, 0.5
        )
        run_seconds = time.monotonic() - restored
        evaluated_again = wait_for(
            lambda: Guardrail.objects.filter(
                rollout=rollout, last_checked__gt=checked_before
            ).exists(),
            60,
        )
        stop.set()
        ingest.join(timeout=60)
        logs = {"worker": worker.output, "web": web.output}

    by_status: dict[str, int] = {}
    for status in results.values_list("status", flat=True):
        by_status[status] = by_status.get(status, 0) + 1
    print(
        f"\ndatabase cut {CUT_SECONDS:.0f} s at {cut_at:.1f}: run completed {run_seconds:.1f} s "
        f"after the restore: {completed}; results {by_status}; attempts > 1: "
        f"{results.filter(attempts__gt=1).count()}; ingest acked {len(out['acked'])}, refused "
        f"with 503 first {len(set(out['refused']))}; guardrail evaluated again: {evaluated_again}"
    )
    assert completed, "\n".join(f"--- {k}\n{v[-3000:]}" for k, v in logs.items())
    # Never a verdict from missing data: a pass or fail carries the model's answer; an error
    # says why.
    assert results.count() == CASES
    assert not results.filter(status__in=["pass", "fail"], output="").exists()
    assert not results.filter(status="error", error="").exists()
    assert by_status.get("pass", 0) >= CASES * 0.9, by_status  # 1% simulator failures
    # The guardrail: no rollback, no breach, and judged again after the restore.
    rollout.refresh_from_db()
    assert rollout.status == Rollout.Status.CANARY, rollout.status
    assert not GuardrailCheck.objects.filter(guardrail__rollout=rollout, state="breach").exists()
    assert evaluated_again, logs["worker"][-3000:]
    # Ingest: refused during the cut, stored by the retry.
    assert not out["bad"], out["bad"][:10]
    assert out["refused"], "no ingest call saw the outage"
    assert set(out["refused"]) <= set(out["acked"])
    assert "Traceback" not in logs["web"], logs["web"][-3000:]
    check_invariants(acknowledged_request_ids=out["acked"], rollout=rollout, label="db cut")
