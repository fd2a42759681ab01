"""Two real uvicorn worker processes (the web and gateway app, as production runs it) share one
PROMETHEUS_MULTIPROC_DIR: a scrape answered by either counts the requests both served, and at
shutdown (SIGTERM, ASGI lifespan) each drops its live gauges and keeps its counts."""

import os
import signal
import subprocess
import sys

import httpx
import pytest
from django.conf import settings

from registry.observability import multiproc_dir_reset
from tests.live import database_url, free_port, wait_for

from .conftest import parse, value

pytestmark = pytest.mark.slow  # two real server processes start and stop: about 15 s


@pytest.fixture
def web(transactional_db, tmp_path):
    path = tmp_path / "metrics"
    multiproc_dir_reset(path)
    port = free_port()
    env = os.environ | {
        "PROMETHEUS_MULTIPROC_DIR": str(path),
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "VAR_DIR": str(settings.VAR_DIR),
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
    }
    args = ["rollout_site.asgi:application", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *args, "--host", "127.0.0.1", "--log-level", "warning"],
        cwd=settings.BASE_DIR,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/metrics", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        assert wait_for(up, timeout=60), "uvicorn did not answer within 60 s"
        yield url, path, server
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)


def test_every_web_process_counts_and_a_stopped_one_keeps_only_its_counts(web):
    url, path, server = web
    # New connections each time, so both workers get some (the kernel spreads them).
    for _ in range(40):
        answer = httpx.post(f"{url}/v1/chat/completions", json={}, timeout=10)
        assert answer.status_code == 401
    samples = parse(httpx.get(f"{url}/metrics", timeout=10).text)
    assert value(samples, "rollout_desk_gateway_refused_total", status="401") == 40
    writers = {p.name.rsplit("_", 1)[1] for p in path.glob("counter_*.db")}
    assert len(writers) == 2, f"one worker served everything: {writers}"
    assert list(path.glob("gauge_live*.db"))

    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
    assert not list(path.glob("gauge_live*.db")), "a stopped process left its live gauges"
    assert len(list(path.glob("counter_*.db"))) == 2
