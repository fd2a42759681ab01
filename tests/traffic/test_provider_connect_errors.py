"""Transport failures get their right names on both engines, against real sockets: a refused
connection is a connect error (and the gateway answers 502), never "no complete answer within
the deadline" (504); a real deadline is still a timeout.

The sync engine (Celery workers) runs on httpcore, the async one (the gateway) on aiohttp through
httpx-aiohttp, which reports every aiohttp connection error as httpx.ConnectTimeout."""

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from traffic import providers
from traffic.providers import pool
from traffic.providers.base import CallResult, ErrorKind, ProviderCall, ProviderError


@pytest.fixture(autouse=True)
def _loopback_allowed(settings, monkeypatch):
    # The egress policy refuses loopback unless allow-listed; these servers live there.
    settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    monkeypatch.setattr(providers, "_sleep", lambda seconds: None)

    async def no_wait(seconds: float) -> None:
        return None

    monkeypatch.setattr(providers, "_asleep", no_wait)


def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Server:
    """A TCP server on loopback that either hangs up at once or never answers."""

    def __init__(self, *, hang_up: bool) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.hang_up = hang_up
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.hang_up:
                conn.recv(65536)  # the request, then the line goes dead
                conn.close()
            else:
                self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def hangs_up() -> Iterator[int]:
    server = _Server(hang_up=True)
    yield server.port
    server.close()


@pytest.fixture
def silent() -> Iterator[int]:
    server = _Server(hang_up=False)
    yield server.port
    server.close()


def _req(port: int, timeout: float = 5.0) -> ProviderCall:
    return ProviderCall(
        api_style="openai_chat",
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key_env="",
        timeout=timeout,
        model_id="gpt-4o-2024-08-06",
        messages=[{"role": "user", "content": "hi"}],
    )


def _sync(req: ProviderCall) -> CallResult:
    try:
        return providers.call(req)
    finally:
        pool.close_sync_clients()


def _async(req: ProviderCall) -> CallResult:
    async def run() -> CallResult:
        try:
            return await providers.acall(req)
        finally:
            await pool.aclose_async_clients()

    return asyncio.run(run())


def _stream(req: ProviderCall) -> CallResult:
    async def run() -> CallResult:
        try:
            async for _chunk in providers.astream(req):
                pass
        except ProviderError as exc:
            return exc.result
        finally:
            await pool.aclose_async_clients()
        raise AssertionError("the stream should have failed before its first byte")

    return asyncio.run(run())


ENGINES = {"call (workers)": _sync, "acall (gateway)": _async, "astream (gateway)": _stream}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_refused_connection_is_a_connect_error_not_a_timeout(engine):
    result = ENGINES[engine](_req(closed_port()))
    assert result.error_kind == ErrorKind.CONNECTION, result.error
    assert "Could not connect to the provider" in result.error
    assert "Connection refused" in result.error
    assert "deadline" not in result.error


@pytest.mark.parametrize("engine", ENGINES)
def test_a_server_that_hangs_up_is_a_connection_error(engine, hangs_up):
    result = ENGINES[engine](_req(hangs_up))
    assert result.error_kind == ErrorKind.CONNECTION, result.error
    assert "deadline" not in result.error


@pytest.mark.parametrize("engine", ENGINES)
def test_a_server_that_never_answers_is_still_a_timeout(engine, silent):
    result = ENGINES[engine](_req(silent, timeout=0.5))
    assert result.error_kind == ErrorKind.TIMEOUT, result.error
    assert "deadline (0.5s)" in result.error
