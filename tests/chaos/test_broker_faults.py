"""The broker fails under traffic: stopped, or a black hole that accepts connections and never
answers. Real processes on loopback: redis-server on a port of this test, a uvicorn gateway,
a Celery worker and beat; the test's client threads call the gateway and ingest throughout.

What must hold (issue 11, "Faults"): every primary answer (gateway completion, ingest) succeeds,
none waits on the broker (p99 well below the broker's timeouts), and once the broker is back the
outbox drains: the shadow jobs whose nudges were lost are nudged again by the sweep and end.

The outage lasts CHAOS_BROKER_OUTAGE_SECONDS (15 by default; the issue says 60). 15 s is enough
for the property: a request path that waited on the broker would show it within the first
seconds (a connect or socket timeout is 5 s), the lost nudges are lost after the first failed
publish, and beat's 30 s tick falls after the broker is back, so the sweep's re-dispatch is
exercised as it would be after 60 s. `CHAOS_BROKER_OUTAGE_SECONDS=60 make chaos` runs the
issue's figure.
"""

import contextlib
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from registry.models import ShadowJob
from tests.chaos.procs import (
    BlackHole,
    Celery,
    Redis,
    Uvicorn,
    database_url,
    product_env,
)
from tests.chaos.world import gateway_call, ingest_call, simulated_world
from tests.invariants import check_invariants
from tests.live import free_port, wait_for

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.slow,
    # PostgreSQL + Redis only: tests/chaos/conftest.py skips without them (fails under CI=true).
    pytest.mark.postgres,
]

OUTAGE_SECONDS = float(os.environ.get("CHAOS_BROKER_OUTAGE_SECONDS", "15"))
# Well below the broker's timeouts (settings.BROKER_TIMEOUT_SECONDS, 5 s): a request that waited
# on a dead broker even once in a hundred would cross it.
P99_LIMIT = 1.0
DRAIN_SECONDS = 100  # beat's 30 s tick, a 5 s publish timeout, then the jobs themselves


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)  # phase -> seconds
    slow: list[tuple[float, str]] = field(default_factory=list)  # (seconds, request id)
    acked: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)

    def add(self, phase: str, seconds: float) -> None:
        self.latencies.setdefault(phase, []).append(seconds)


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _traffic(url: str, token: str, tally: Tally, phase: list[str], stop: threading.Event):
    def loop(kind: str, worker: int) -> None:
        call = gateway_call if kind == "gw" else ingest_call
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=15) as client:
            n = 0
            while not stop.is_set():
                n += 1
                rid, now = f"{kind}-{worker}-{n}", phase[0]
                started = time.perf_counter()
                try:
                    response = call(client, rid)
                except httpx.HTTPError as exc:
                    tally.bad.append(f"{rid} in {now}: {type(exc).__name__}")
                    continue
                seconds = time.perf_counter() - started
                tally.add(now, seconds)
                if seconds > 0.5:
                    tally.slow.append((round(seconds, 3), f"{rid} in {now}"))
                if response.is_success:
                    tally.acked.append(rid)
                else:
                    tally.bad.append(
                        f"{rid} in {now}: {response.status_code} {response.text[:200]}"
                    )
                time.sleep(0.03)  # ~30 requests/s per loop: a steady load, not a benchmark

    return [
        threading.Thread(target=loop, args=(kind, w), daemon=True)
        for kind, w in (("gw", 1), ("gw", 2), ("in", 1))
    ]


@pytest.mark.parametrize("fault", ["stopped", "black_hole"])
def test_traffic_is_served_and_the_outbox_drains_when_the_broker(
    fault, transactional_db, tmp_path: Path
):
    gateway_port = free_port()
    world = simulated_world(gateway_port, rollout="shadow", shadow_percent=50)
    assert world.rollout is not None
    tally, phase, stop = Tally(), ["before"], threading.Event()
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(Redis(tmp_path / "redis.log"))
        env = product_env(
            database=database_url(),
            broker=redis.url,
            SHADOW_REDISPATCH_SECONDS="3",  # the sweep re-sends nudges older than this
            SHADOW_LEASE_SECONDS="10",  # a job held by a worker that crashed runs again soon
            CELERY_BEAT_SCHEDULE_FILENAME=str(tmp_path / "beat-schedule"),
            LOG_LEVEL="INFO",
        )
        worker = stack.enter_context(Celery("worker", env, tmp_path / "worker.log"))
        beat = stack.enter_context(Celery("beat", env, tmp_path / "beat.log"))
        gateway = stack.enter_context(Uvicorn(env, tmp_path / "gateway.log", port=gateway_port))
        worker.wait_ready()
        beat.wait_ready()

        loops = _traffic(gateway.url, world.token, tally, phase, stop)
        for thread in loops:
            thread.start()
        time.sleep(2)
        phase[0] = "fault"
        redis.stop()
        hole = BlackHole(redis.port) if fault == "black_hole" else None
        if hole is not None:
            stack.callback(hole.close)
        time.sleep(OUTAGE_SECONDS)
        if hole is not None:
            # New connections reach the broker again; the ones the hole accepted stay open
            # and silent until the test ends, like a peer gone behind a firewall.
            hole.close_listener()
        redis = stack.enter_context(Redis(tmp_path / "redis-again.log", port=redis.port))
        back = time.monotonic()
        phase[0] = "after"
        time.sleep(3)
        stop.set()
        for thread in loops:
            thread.join(timeout=30)

        jobs = ShadowJob.objects.filter(rollout=world.rollout)
        open_statuses = (ShadowJob.Status.QUEUED, ShadowJob.Status.CLAIMED)
        workers = [worker]

        def drained_or_restarted() -> bool:
            # As a process supervisor does (README: run workers under one): kombu 5.7's Redis
            # transport can crash the worker ("Unrecoverable error") when the broker drops
            # while messages are unacknowledged; a worker that exited is started again.
            if not workers[-1].alive():
                log = tmp_path / f"worker-{len(workers)}.log"
                workers.append(stack.enter_context(Celery("worker", env, log)))
            return jobs.exists() and not jobs.filter(status__in=open_statuses).exists()

        drained = wait_for(drained_or_restarted, timeout=DRAIN_SECONDS, interval=0.5)
        drain_seconds = time.monotonic() - back
        logs = {"gateway": gateway.output, "beat": beat.output}
        logs |= {f"worker {n}": w.output for n, w in enumerate(workers)}

    fault_latency = tally.latencies.get("fault", [])
    renudged = jobs.filter(renudged__isnull=False).count()
    print(
        f"\nbroker {fault} for {OUTAGE_SECONDS:.0f} s: "
        + "; ".join(
            f"{name} n={len(v)} p50={statistics.median(v) * 1000:.0f} ms "
            f"p99={_p(v, 0.99) * 1000:.0f} ms max={max(v) * 1000:.0f} ms"
            for name, v in tally.latencies.items()
            if v
        )
        + f"; shadow jobs {jobs.count()} ({renudged} nudged again by the sweep), "
        f"drained {drain_seconds:.1f} s after the broker was back: {drained} "
        f"({len(workers) - 1} worker restart(s)); "
        f"slowest: {sorted(tally.slow)[-5:]}"
    )
    assert not tally.bad, tally.bad[:10]
    assert len(fault_latency) >= 10 * OUTAGE_SECONDS, "too little traffic during the fault"
    assert _p(fault_latency, 0.99) < P99_LIMIT, sorted(tally.slow)[-20:]
    assert max(fault_latency) < settings.BROKER_TIMEOUT_SECONDS, max(fault_latency)
    assert drained, (
        f"{jobs.filter(status__in=open_statuses).count()} shadow jobs still open;\n"
        + "\n".join(f"--- {k}\n{v[-2500:]}" for k, v in logs.items())
    )
    assert renudged > 0, "no job needed the sweep: the fault did not lose a nudge"
    assert "shadow jobs not dispatched" in logs["gateway"], logs["gateway"][-2000:]
    assert "Traceback" not in logs["gateway"], logs["gateway"][-3000:]
    check_invariants(
        acknowledged_request_ids=tally.acked, rollout=world.rollout, label=f"broker {fault}"
    )
