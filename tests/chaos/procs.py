"""Real processes for the broker, database and rollback chaos tests: a Redis server the test can
stop, a TCP black hole in its place, uvicorn gateway processes and Celery worker and beat
processes, each on the test database and a broker of the test's choosing.

Output goes to files, not pipes: nobody reads a pipe while the test waits, and a full one would
stall the process under test.
"""

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection

from tests.live import ROOT, free_port, wait_for


def database_url(port: int | None = None) -> str:
    """The test database, directly or through a proxy listening on `port`."""
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    host = "127.0.0.1" if port else db.get("HOST") or "127.0.0.1"
    return f"postgres://{user}@{host}:{port or db.get('PORT') or 5432}/{db['NAME']}"


def product_env(*, database: str, broker: str, **extra: str) -> dict[str, str]:
    """A production-like environment (DEBUG off) for a process of the product. CACHE_URL is
    left unset on purpose: as in a default deployment, the shared cache is the broker's Redis,
    so a broker fault is a cache fault too."""
    env = {k: v for k, v in os.environ.items() if k not in {"CACHE_URL", "DJANGO_SETTINGS_MODULE"}}
    return (
        env
        | {
            "DATABASE_URL": database,
            "CELERY_BROKER_URL": broker,
            "SECRET_KEY": settings.SECRET_KEY,  # token digests are keyed with it
            "VAR_DIR": str(settings.VAR_DIR),
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "SIMULATOR_ENABLED": "true",
            "PROVIDER_ALLOWED_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        | extra
    )


class Proc:
    """A subprocess with its output in `log`; stopped (TERM, then KILL) on exit."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "Proc":
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.args, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def __enter__(self) -> "Proc":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Redis(Proc):
    """`redis-server` on a loopback port of its own, no persistence: stopping it loses what it
    held, as a broker restart without persistence does (the outbox must not care)."""

    def __init__(self, log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        args = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no",
        ]  # fmt: skip
        super().__init__(args, dict(os.environ), log)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "Redis":
        super().start()
        if not wait_for(self._answers, timeout=10, interval=0.05):
            raise RuntimeError(f"redis-server did not start:\n{self.output[-2000:]}")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


class BlackHole:
    """A listener that accepts every connection and never reads or answers: a broker host that
    is there for TCP and dead above it. `close_listener()` stops accepting but keeps the
    accepted connections open until `close()`, like a peer that vanished behind a firewall:
    a client that waits on one without a timeout waits forever."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.held: list[socket.socket] = []
        self._listener: socket.socket | None = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 5
        while True:
            try:
                self._listener.bind(("127.0.0.1", port))
                break
            except OSError:  # the server that had the port may linger for a moment
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._listener.listen(128)
        self._listener.settimeout(0.05)
        self._thread = threading.Thread(target=self._accept, name="black-hole", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while (listener := self._listener) is not None:
            try:
                sock, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            self.held.append(sock)

    def close_listener(self) -> None:
        listener, self._listener = self._listener, None
        self._thread.join(timeout=2)
        if listener is not None:
            listener.close()

    def close(self) -> None:
        self.close_listener()
        for sock in self.held:
            with contextlib.suppress(OSError):
                sock.close()


class Uvicorn(Proc):
    """`uvicorn rollout_site.asgi:application` (web, API, gateway, simulator), as the README's
    "Running on PostgreSQL + Redis" starts it."""

    def __init__(self, env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [
            sys.executable, "-m", "uvicorn", "rollout_site.asgi:application", "--host",
            "127.0.0.1", "--port", str(self.port), "--lifespan", "off", "--log-level", "warning",
        ]  # fmt: skip
        super().__init__(args, env, log)

    def start(self) -> "Uvicorn":
        super().start()

        def up() -> bool:
            if not self.alive():
                return True
            try:
                return httpx.get(f"{self.url}/simulator/v1/models", timeout=1).is_success
            except httpx.HTTPError:
                return False

        if not wait_for(up, timeout=60, interval=0.1) or not self.alive():
            self.stop()
            raise RuntimeError(f"uvicorn did not start:\n{self.output[-3000:]}")
        return self


class Celery(Proc):
    """A Celery worker (threads pool) or beat."""

    def __init__(self, kind: str, env: dict[str, str], log: Path, *, concurrency: int = 8) -> None:
        args = [sys.executable, "-m", "celery", "-A", "rollout_site", kind, "-l", "INFO"]
        if kind == "worker":
            args += [
                "-P", "threads", "-c", str(concurrency), "--without-heartbeat",
                "--without-gossip", "--without-mingle", "-n", f"chaos-{os.getpid()}-{id(self)}@%h",
            ]  # fmt: skip
        else:
            args += ["-s", str(log.with_suffix(".schedule"))]
        super().__init__(args, env, log)

    def wait_ready(self, timeout: float = 60) -> None:
        marker = "ready." if "worker" in self.args else "beat: Starting"
        if not wait_for(lambda: marker in self.output or not self.alive(), timeout, 0.2):
            raise RuntimeError(f"celery did not start:\n{self.output[-3000:]}")
        if not self.alive():
            raise RuntimeError(f"celery died:\n{self.output[-3000:]}")
