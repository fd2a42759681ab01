"""Shadow jobs run under a lease that a heartbeat renews while the provider call runs: a job
whose worker died is re-run within SHADOW_LEASE_SECONDS + one sweep (90 s by default, not
CELERY_TASK_TIME_LIMIT + 60 s), a live worker keeps its job, and there is only ever one pair.

Leases are timed by the database's clock, so these tests shrink SHADOW_LEASE_SECONDS rather
than move a Python clock."""

import os
import subprocess
import sys
import threading
import time

import httpx
import pytest

from comparisons.models import ShadowPair
from comparisons.services.shadow import _claim, shadow_job_run, shadow_sweep
from registry.models import ModelConfig, ModelVersion, Provider, ShadowJob
from registry.services import registry
from rollouts.services import rollouts
from tests.gates import pass_gate
from tests.live import Worker, wait_for
from tests.stub_provider import StubProvider, completion
from traffic.ingest import ingest
from traffic.outbox import nudge
from traffic.routing import current_table, invalidate_local

LEASE = 2  # seconds; the default is 60


def _world(base_url: str) -> None:
    """A feature in shadow whose candidate runs on the provider at base_url."""
    provider = registry.provider_save(
        provider=Provider(
            name="Stub", api_style="openai_chat", base_url=base_url, api_key_env="", timeout=60
        ),
        actor=None,
    )

    def config(model_id: str, name: str) -> ModelConfig:
        version = registry.model_version_save(
            version=ModelVersion(provider=provider, model_id=model_id), actor=None
        )
        return registry.config_create(
            config=ModelConfig(name=name, model_version=version, system_prompt="Be brief."),
            actor=None,
        )

    feature = registry.feature_create(
        key="support-reply",
        name="Support",
        served_config=config("gpt-4o-2024-05-13", "v1"),
        actor=None,
    )
    rollout = rollouts.rollout_create(
        feature=feature, candidate=config("gpt-4o-2024-11-20", "v2"), actor=None
    )
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    invalidate_local()


def _ingest(request_id: str) -> ShadowJob:
    ingest(
        {
            "feature": "support-reply",
            "request_id": request_id,
            "unit": "u1",
            "messages": [{"role": "user", "content": "Where is my parcel?"}],
            "output": "On its way.",
            "latency_ms": 120,
        },
        table=current_table(),
        token=None,
    )
    return ShadowJob.objects.get(request__request_id=request_id)


@pytest.fixture
def world(transactional_db, settings, monkeypatch):
    settings.SHADOW_LEASE_SECONDS = LEASE
    settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    # Nudges are sent after commit; these tests run jobs themselves unless a worker is up.
    monkeypatch.setattr("traffic.outbox.nudge", lambda ids: None)
    _world("http://127.0.0.1:9/v1")  # never called: the tests bring their own transport
    yield
    invalidate_local()


def _answer(text: str, *, after: float = 0.0):
    def handler(request: httpx.Request) -> httpx.Response:
        time.sleep(after)
        return httpx.Response(200, json=completion(text))

    return httpx.MockTransport(handler)


def test_a_claim_whose_worker_died_is_requeued_once_its_lease_lapses(world):
    job = _ingest("r1")
    assert _claim(job.pk)  # a worker took it, and died before finishing (no heartbeat)
    assert shadow_sweep() == []  # still within its lease
    time.sleep(LEASE + 0.5)
    assert shadow_sweep() == [job.pk]  # re-queued and nudged at once, not 420 s later
    job.refresh_from_db()
    assert job.status == "queued" and job.attempts == 1
    assert shadow_job_run(job_id=job.pk, transport=_answer("second try")) is not None
    job.refresh_from_db()
    assert job.status == "done" and job.attempts == 2
    assert ShadowPair.objects.get().candidate_output == "second try"


def test_a_lapsed_claim_can_be_taken_over_without_waiting_for_the_sweep(world):
    job = _ingest("r1")
    assert _claim(job.pk)
    assert not _claim(job.pk)  # compare-and-set: a live claim is never taken twice
    time.sleep(LEASE + 0.5)
    assert _claim(job.pk)
    assert not _claim(job.pk)
    assert ShadowJob.objects.get(pk=job.pk).attempts == 2


def test_the_heartbeat_keeps_a_long_call_claimed(world):
    """A call that lasts twice the lease: the sweep, running all along, never takes it away."""
    job = _ingest("r1")
    result: dict = {}
    runner = threading.Thread(
        target=lambda: result.update(
            pair=shadow_job_run(job_id=job.pk, transport=_answer("slow but fine", after=LEASE * 2))
        )
    )
    runner.start()
    swept: list[int] = []
    while runner.is_alive():
        swept += shadow_sweep()
        time.sleep(0.2)
    runner.join()
    assert job.pk not in swept
    assert result["pair"] is not None
    job.refresh_from_db()
    assert job.status == "done" and job.attempts == 1


def test_the_worker_that_lost_its_lease_adds_no_second_pair(world, settings):
    # Worker A claims, then stalls past its lease: its heartbeat is due only in 10 s (a third
    # of 30), and the test puts the lease in the past, as if the stall had lasted that long.
    settings.SHADOW_LEASE_SECONDS = 30
    job = _ingest("r1")
    slow: dict = {}
    first = threading.Thread(
        target=lambda: slow.update(
            pair=shadow_job_run(job_id=job.pk, transport=_answer("late", after=2.0))
        )
    )
    first.start()
    wait_for(lambda: ShadowJob.objects.get(pk=job.pk).status == "claimed", timeout=5)
    ShadowJob.objects.filter(pk=job.pk).update(lease_until="2000-01-01T00:00:00Z")
    # Worker B takes the lapsed claim over and finishes first.
    assert shadow_job_run(job_id=job.pk, transport=_answer("on time")) is not None
    first.join()
    assert slow["pair"] is None
    assert ShadowPair.objects.filter(request__request_id="r1").count() == 1
    assert ShadowPair.objects.get().candidate_output == "on time"


@pytest.mark.slow
def test_a_job_whose_worker_was_sigkilled_reruns_on_another_worker(
    transactional_db, settings, monkeypatch
):
    """A real Celery worker is SIGKILLed while its provider call hangs; the sweep (here every
    0.5 s instead of 30 s) re-queues the job when the lease lapses and a second worker runs it:
    exactly one pair."""
    settings.SHADOW_LEASE_SECONDS = LEASE
    settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    monkeypatch.setenv("SHADOW_LEASE_SECONDS", str(LEASE))
    monkeypatch.setenv("PROVIDER_ALLOWED_HOSTS", "127.0.0.1")

    def respond(body: dict, n: int) -> list:
        return [60.0, completion("never sent")] if n == 1 else [completion("from worker B")]

    with StubProvider(respond) as stub:
        _world(stub.url)
        # Worker A alone takes the job, so it is certainly the holder (a duplicate nudge could
        # make both workers log "received"); B starts while A's call hangs.
        with _Worker("a") as a:
            assert a.ready.wait(60), a.output()[-3000:]
            job = _ingest("r1")  # committed: its nudge goes to the broker, A takes it
            called = wait_for(lambda: stub.requests, timeout=30)
            assert called, f"no provider call; the worker said:\n{a.output()}"
            assert wait_for(a.took_a_job, 5), "worker A does not say it received the job"
            claimed = ShadowJob.objects.get(pk=job.pk)
            assert claimed.status == "claimed" and claimed.lease_until is not None
            with _Worker("b") as b:
                assert b.ready.wait(60), b.output()[-3000:]
                time.sleep(LEASE * 1.5)  # longer than the lease: only the heartbeat keeps it
                renewed = ShadowJob.objects.get(pk=job.pk)
                assert renewed.status == "claimed"
                assert renewed.lease_until > claimed.lease_until
                assert job.pk not in shadow_sweep()
                a.kill()  # SIGKILL mid-call: no cleanup, the claim stays behind
                killed = time.monotonic()

                def rerun() -> bool:
                    nudge(shadow_sweep())
                    return ShadowPair.objects.filter(request__request_id="r1").exists()

                done = wait_for(rerun, timeout=60, interval=0.5)
                recovered = time.monotonic() - killed
                assert done, f"no pair; worker B said:\n{b.output()[-3000:]}"

    job.refresh_from_db()
    assert job.status == "done" and job.attempts == 2
    assert ShadowPair.objects.filter(request__request_id="r1").count() == 1
    assert ShadowPair.objects.get().candidate_output == "from worker B"
    # The lease (2 s here) plus a sweep (every 0.5 s here); 60 s + 30 s by default.
    assert recovered < LEASE + 8, recovered
    print(f"worker-kill recovery: {recovered:.1f} s with a {LEASE} s lease", file=sys.stderr)


class _Worker(Worker):
    """A real worker whose log is read as it runs (to know when it is ready), with its own
    node name, that the test can SIGKILL."""

    def __init__(self, name: str) -> None:
        super().__init__(concurrency=2)
        self.args[self.args.index("-l") + 1] = "INFO"
        self.args[self.args.index("-n") + 1] = f"lease-{name}-{os.getpid()}@%h"
        self.ready = threading.Event()
        self.lines: list[str] = []

    def __enter__(self) -> "_Worker":
        super().__enter__()
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if " ready." in line:
                self.ready.set()

    def output(self) -> str:
        return "".join(self.lines)

    def took_a_job(self) -> bool:
        return any("run_shadow_job" in line and "received" in line for line in self.lines)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
