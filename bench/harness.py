"""Shared pieces of the benchmarks: processes, a prepared database, latency statistics."""

import atexit
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"{proc.args[0]} exited with {proc.returncode} before {url} answered"
            )
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@contextmanager
def process(
    args: list[str], env: dict | None = None, ready_url: str | None = None, timeout: float = 60.0
):
    """A peer or a product process for the length of a benchmark. Its output goes to a file
    that is printed when it fails to start: a peer that exits at once must say why."""
    log = tempfile.NamedTemporaryFile(prefix="rollout-bench-proc-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env or os.environ.copy(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        if ready_url:
            try:
                wait_http(ready_url, timeout, proc)
            except RuntimeError:
                log.flush()
                tail = Path(log.name).read_text(errors="replace")[-4000:]
                print(f"--- {' '.join(map(str, args[:3]))} said:\n{tail}", file=sys.stderr)
                raise
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        os.unlink(log.name)


def stub(delay: float = 0.0):
    port = free_port()
    return process(
        [PY, "bench/stub.py", str(port), str(delay)], ready_url=f"http://127.0.0.1:{port}/"
    ), f"http://127.0.0.1:{port}"


def product_env(var_dir: str) -> dict:
    env = os.environ.copy()
    env.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-" + "x" * 40,
            "VAR_DIR": var_dir,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "LOG_LEVEL": "WARNING",
            # Every benchmark's provider is a stub on loopback, which settings refuse by default.
            "PROVIDER_ALLOWED_HOSTS": "127.0.0.1",
            # Settings refuse to start without one; a bench database is thrown away.
            "AUDIT_HMAC_KEY": env.get("AUDIT_HMAC_KEY") or "bench-only-audit-" + "y" * 40,
        }
    )
    return env


def fresh_postgres(url: str) -> str:
    """A new, empty database next to the one in `url` (benchmarks never reuse state), dropped
    when this benchmark ends. Only the databases this process made: another benchmark running
    at the same time keeps its own."""
    import uuid

    import psycopg

    base = url.rpartition("/")[0]
    name = f"rollout_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    if not _created:
        atexit.register(_drop_created)
    _created.append((url, name))
    return f"{base}/{name}"


def _drop_created() -> None:
    import psycopg

    for url, name in _created:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error as exc:  # said, never hidden: the database is left behind
            print(f"could not drop the benchmark database {name}: {exc}", file=sys.stderr)


_created: list[tuple[str, str]] = []  # (admin url, database) made by this process


def prepare(stub_url: str, *, shadow: bool, var_dir: str | None = None) -> dict:
    """A migrated database with a provider at `stub_url`, a feature and a token (JSON out)."""
    var_dir = var_dir or tempfile.mkdtemp(prefix="rollout-bench-")
    env = product_env(var_dir)
    if env.get("DATABASE_URL", "").startswith("postgres"):
        env["DATABASE_URL"] = fresh_postgres(env["DATABASE_URL"])
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    done = subprocess.run(
        [PY, "bench/setup_world.py", stub_url, "shadow" if shadow else "plain"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:  # its own output says why; without it the log shows only an exit code
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"bench/setup_world.py failed (exit {done.returncode})")
    out = done.stdout
    return json.loads(out.strip().splitlines()[-1]) | {"var_dir": var_dir, "env": env}


def gateway(world: dict, workers: int = 1):
    port = free_port()
    args = [
        PY,
        "-m",
        "uvicorn",
        "rollout_site.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--lifespan",
        "off",
        "--backlog",
        "4096",
        "--workers",
        str(workers),
    ]
    return process(
        args, env=world["env"], ready_url=f"http://127.0.0.1:{port}/login/"
    ), f"http://127.0.0.1:{port}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def summary(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 50):.2f} ms, p99 {percentile(values, 99):.2f} ms, "
        f"mean {statistics.fmean(values):.2f} ms"
    )


def verdict(ok: bool, text: str) -> str:
    return f"{'MET ' if ok else 'MISS'} {text}"


def _record(row: dict) -> None:
    # One JSON line per figure, so bench/run_all.py builds its table without parsing free text.
    path = os.environ.get("BENCH_RESULTS")
    if not path:
        return
    row = {"benchmark": os.environ.get("BENCH_NAME") or Path(sys.argv[0]).stem} | row
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(row) + "\n")


def figure(
    name: str,
    value: float,
    unit: str,
    *,
    text: str,
    peer: float | None = None,
    peer_name: str = "",
    peer_unit: str | None = None,
    ratio: float | None = None,
    target: str = "",
    met: bool | None = None,
    echo: bool = True,
) -> str:
    """A measured figure: the human line as before (`text`, MET/MISS in front when judged)
    and, with BENCH_RESULTS set, a JSON line for the table. `met=None` is information only."""
    line = text if met is None else verdict(met, text)
    _record(
        {
            "figure": name,
            "value": value,
            "unit": unit,
            "peer": peer,
            "peer_name": peer_name,
            "peer_unit": unit if peer_unit is None else peer_unit,
            "ratio": ratio,
            "target": target,
            "status": "INFO" if met is None else ("MET" if met else "MISS"),
        }
    )
    if echo:
        print(line, flush=True)
    return line


def skipped(name: str, reason: str, *, target: str = "", echo: bool = True) -> str:
    """A figure that could not be measured here (a missing tool, no PostgreSQL): a row, not a failure."""
    line = f"SKIP {name}: {reason}"
    _record({"figure": name, "target": target, "status": "SKIPPED", "reason": reason})
    if echo:
        print(line, flush=True)
    return line
