"""Every process counts: processes that share PROMETHEUS_MULTIPROC_DIR each write their own
files, and one scrape adds them up; a process that ended keeps its counts, not its live gauges."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from registry.observability import multiproc_dir_reset

from .conftest import value

# A product process in miniature: it counts through the product's own functions, then either
# exits (atexit drops its live gauges) or stays up until its stdin closes.
WORKER = """
import sys
from registry import observability as o
for _ in range(int(sys.argv[1])):
    o.rate_limited(surface="api")
o.rollback_counted(automatic=True)
o.recorder_backlog(waiting=int(sys.argv[1]))
o.provider_circuit_state(endpoint="https://api.openai.com/v1", state=sys.argv[2])
print("counted", flush=True)
if sys.argv[3] == "stay":
    sys.stdin.read()
"""


def _start(path: Path, count: int, circuit: str, stay: bool) -> subprocess.Popen[str]:
    env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(path)}
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(count), circuit, "stay" if stay else "exit"],
        cwd=settings.BASE_DIR,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "counted"
    return process


@pytest.fixture
def shared(tmp_path, monkeypatch):
    path = tmp_path / "metrics"
    (path).mkdir()
    (path / "counter_99999.db").write_bytes(b"left over from an earlier run")
    multiproc_dir_reset(path)
    assert not list(path.iterdir())
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(path))  # this process scrapes it
    return path


def test_two_processes_write_and_one_scrape_sums_them(shared, scrape):
    ended = _start(shared, 3, "open", stay=False)
    assert ended.wait(timeout=30) == 0
    running = _start(shared, 4, "half_open", stay=True)
    try:
        samples = scrape()
    finally:
        running.communicate("", timeout=30)
    assert value(samples, "rollout_desk_rate_limited_total", surface="api") == 7
    assert value(samples, "rollout_desk_rollbacks_total", trigger="automatic") == 2
    # Live gauges: only the process still running counts (the other marked itself dead).
    assert value(samples, "rollout_desk_gateway_log_backlog") == 4
    assert value(samples, "rollout_desk_provider_circuit_state", endpoint="api.openai.com/v1") == 1
    # The database's figures are in the same scrape.
    assert value(samples, "rollout_desk_database_up") == 1
    after = scrape()
    assert value(after, "rollout_desk_rate_limited_total", surface="api") == 7
    assert value(after, "rollout_desk_gateway_log_backlog") == 0
