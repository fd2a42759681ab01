"""The simulator for `seed_demo --run-gates`: the gates need a provider that answers, so the
seed uses the one running at the simulator's URL, or serves this app there in a thread for as
long as the gates run (as `manage.py demo` does before it starts the web server)."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx
import uvicorn
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.management.base import CommandError

# How long the seed waits for the simulator it serves itself to answer.
START_SECONDS = 10.0


def _simulator_answers(url: str) -> bool:
    try:
        return httpx.get(f"{url.rstrip('/')}/models", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def serve_simulator(url: str) -> Iterator[None]:
    """Make the simulator at `url` answer for the duration: use it if it answers already (a
    running `make run`), else serve this app on the URL's loopback port in a thread, as
    `manage.py demo` does before it starts the web server."""
    if _simulator_answers(url):
        yield
        return
    parts = urlsplit(url)
    if not settings.SIMULATOR_ENABLED:
        raise CommandError(
            f"--run-gates: the simulator at {url} does not answer and SIMULATOR_ENABLED is off "
            "here; run with SIMULATOR_ENABLED=true (make run sets it)."
        )
    if parts.hostname not in ("127.0.0.1", "localhost") or not parts.port:
        raise CommandError(
            f"--run-gates: the simulator at {url} does not answer; start the server there with "
            "SIMULATOR_ENABLED=true (only a loopback URL with a port is served by seed_demo)."
        )
    config = uvicorn.Config(
        get_asgi_application(),
        host=parts.hostname,
        port=parts.port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="seed-simulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        if not (server.started and _simulator_answers(url)):
            raise CommandError(
                f"--run-gates: could not serve the simulator at {url} (is port {parts.port} "
                "taken by another program?); free the port or pass --simulator-url."
            )
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
