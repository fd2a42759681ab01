"""The chaos tier (`make chaos`, `pytest -m chaos`): real processes killed, cut off or starved.

Needs PostgreSQL and Redis: SQLite serialises every writer and the filesystem broker is one
machine's, so a fault test there would measure the wrong thing. Locally the tests skip with
that reason; under CI=true a chaos run without them fails.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.invariants import invariants_start
from tests.live import ROOT, database_url


@pytest.fixture(autouse=True)
def _chaos_backends(request):
    if "chaos" not in request.keywords:
        return
    missing = []
    if connection.vendor != "postgresql":
        missing.append("PostgreSQL (DATABASE_URL=postgres://...)")
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        missing.append("Redis (CELERY_BROKER_URL=redis://...)")
    if not missing:
        return
    reason = "the chaos tier needs " + " and ".join(missing)
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _invariant_baseline(_chaos_backends):
    """The recorder's counters are per process and never reset: count from here."""
    invariants_start()


@pytest.fixture
def purged_broker(_chaos_backends):
    """No messages left over from an earlier run (they name rows of a flushed database)."""
    from rollout_site.celery import app

    app.control.purge()


class KillableWorker:
    """A real Celery worker process on the test database and broker that the test can SIGKILL
    and start again; its output goes to a file (a pipe nobody reads would fill and stall it)."""

    def __init__(self, log_dir: Path, *, concurrency: int = 8, env: dict[str, str] | None = None):
        self.log_dir = log_dir
        self.env = (
            os.environ
            | {
                "DATABASE_URL": database_url(),
                "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
                "VAR_DIR": str(settings.VAR_DIR),
                "SECRET_KEY": settings.SECRET_KEY,
            }
            | (env or {})
        )
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.kills = 0

    def start(self) -> "KillableWorker":
        assert self.proc is None or self.proc.poll() is not None, "a worker is running"
        self.starts += 1
        log = open(self.log_dir / f"worker-{self.starts}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "rollout_site", "worker",
                "-P", "threads", "-c", str(self.concurrency), "-l", "WARNING",
                "--without-heartbeat", "--without-gossip", "--without-mingle",
                "-n", f"chaos-{os.getpid()}-{self.starts}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, nothing is acked or restored, claims stay behind."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.kills += 1
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self, tail: int = 3000) -> str:
        return "".join(p.read_text() for p in sorted(self.log_dir.glob("worker-*.log")))[-tail:]


@pytest.fixture
def worker_factory(tmp_path, purged_broker):
    """`worker_factory(concurrency=8, env={...})`: a KillableWorker (not started), stopped at
    the end of the test."""
    made: list[KillableWorker] = []

    def make(**kwargs) -> KillableWorker:
        folder = tmp_path / f"workers-{len(made)}"
        folder.mkdir()
        made.append(KillableWorker(folder, **kwargs))
        return made[-1]

    yield make
    for worker in made:
        worker.stop()
