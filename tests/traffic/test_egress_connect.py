"""The egress policy at call time (traffic/providers/guard.py): a provider row on a refused
address, or naming a refused key variable, is never called, whichever engine sends; redirects
are not followed; and what the gateway tells its client about an upstream failure is short and
clean, with the usual security headers."""

import asyncio
import http.server
import json
import socket
import threading

import httpx
import pytest

from registry.models import ModelConfig, ModelVersion, Provider, RequestLog
from registry.services import registry
from tests.live import free_port
from traffic import providers
from traffic.gateway.recorder import recorder
from traffic.providers import ErrorKind, ProviderCall, ProviderError, guard, pool
from traffic.routing import invalidate_local
from traffic.tokens import token_create

ANSWER = {
    "id": "x",
    "object": "chat.completion",
    "model": "m-2025-01-01",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1},
}


class Stub:
    """A loopback HTTP server that counts what reaches it and answers as told."""

    def __init__(self) -> None:
        self.hits: list[tuple[str, dict]] = []
        self.status = 200
        self.body = json.dumps(ANSWER).encode()
        self.headers: dict[str, str] = {"Content-Type": "application/json"}
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                self.rfile.read(length)
                stub.hits.append((self.path, dict(self.headers)))
                self.send_response(stub.status)
                for name, value in stub.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(stub.body)))
                self.end_headers()
                self.wfile.write(stub.body)

            def log_message(self, *args) -> None:
                pass

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub():
    server = Stub()
    guard.forget()
    yield server
    server.close()
    guard.forget()


def _req(base_url: str, **overrides) -> ProviderCall:
    fields = {
        "api_style": "openai_chat",
        "base_url": base_url,
        "api_key_env": "",
        "timeout": 5.0,
        "model_id": "m-2025-01-01",
        "messages": [{"role": "user", "content": "hello"}],
    }
    return ProviderCall(**{**fields, **overrides})


def _engines(req: ProviderCall) -> dict:
    async def called():
        try:
            return await providers.acall(req)
        finally:
            await pool.aclose_async_clients()

    async def streamed():
        try:
            async for _chunk in providers.astream(req):
                pass
        except ProviderError as exc:
            return exc.result
        finally:
            await pool.aclose_async_clients()
        return None

    return {
        "call": providers.call(req),
        "acall": asyncio.run(called()),
        "astream": asyncio.run(streamed()),
    }


def test_a_loopback_provider_is_not_called_unless_allow_listed(stub, settings):
    settings.PROVIDER_ALLOWED_HOSTS = []
    for engine, result in _engines(_req(f"http://127.0.0.1:{stub.port}/v1")).items():
        assert result is not None, engine
        assert result.error_kind == ErrorKind.BLOCKED_ADDRESS, engine
        assert result.attempts == 0, engine  # never retried
        assert "PROVIDER_ALLOWED_HOSTS" in result.error
    assert stub.hits == []

    settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    assert providers.call(_req(f"http://127.0.0.1:{stub.port}/v1")).ok
    assert len(stub.hits) == 1


@pytest.mark.parametrize("host", ["127.1", "2130706433", "localhost", "[::ffff:127.0.0.1]"])
def test_other_spellings_of_loopback_are_refused_after_resolution(stub, settings, host):
    settings.PROVIDER_ALLOWED_HOSTS = []
    for engine, result in _engines(_req(f"http://{host}:{stub.port}/v1")).items():
        assert result is not None and result.error_kind == ErrorKind.BLOCKED_ADDRESS, engine
    assert stub.hits == []


def test_a_name_that_now_resolves_to_a_private_address_is_refused(stub, settings, monkeypatch):
    # Saved while it resolved to a public address; today DNS points it at the metadata service.
    settings.PROVIDER_ALLOWED_HOSTS = []
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "llm.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    for engine, result in _engines(_req("https://llm.example.com/v1")).items():
        assert result is not None and result.error_kind == ErrorKind.BLOCKED_ADDRESS, engine
        assert "169.254.169.254" in result.error


def test_a_row_naming_a_product_secret_never_sends_it(stub, settings, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "the-real-secret-key-value")
    req = _req(f"http://127.0.0.1:{stub.port}/v1", api_key_env="SECRET_KEY")
    for engine, result in _engines(req).items():
        assert result is not None and result.error_kind == ErrorKind.NO_API_KEY, engine
        assert "the-real-secret-key-value" not in result.error
    assert stub.hits == []


def test_redirects_are_not_followed(stub):
    stub.status = 302
    stub.headers = {"Location": "http://169.254.169.254/latest/meta-data"}
    stub.body = b""
    req = _req(f"http://127.0.0.1:{stub.port}/v1")
    sync = providers.call(req)

    async def called():
        try:
            return await providers.acall(req)
        finally:
            await pool.aclose_async_clients()

    async_ = asyncio.run(called())
    for result in (sync, async_):
        assert not result.ok and result.status_code == 302
        assert result.attempts == 1
    assert len(stub.hits) == 2  # one per engine, none to the Location
    assert pool.sync_client(base_url=req.base_url).follow_redirects is False


# --- what the gateway's client reads ---------------------------------------------------------


@pytest.fixture
def gateway_world(live, stub):
    provider = registry.provider_save(
        provider=Provider(
            name="stub", api_style="openai_chat", base_url=f"http://127.0.0.1:{stub.port}/v1"
        ),
        actor=None,
    )
    version = registry.model_version_save(
        version=ModelVersion(provider=provider, model_id="m-2025-01-01"), actor=None
    )
    config = registry.config_create(config=ModelConfig(name="c", model_version=version), actor=None)
    feature = registry.feature_create(
        key="support-reply", name="Support", served_config=config, actor=None
    )
    _, token = token_create(name="app", features=[feature], actor=None)
    invalidate_local()
    return {"url": live.url, "token": token}


def _ask(world) -> httpx.Response:
    return httpx.post(
        f"{world['url']}/v1/chat/completions",
        headers={"Authorization": f"Bearer {world['token']}"},
        json={"model": "support-reply", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )


def test_an_upstream_error_body_reaches_the_client_short_and_clean(gateway_world, stub):
    stub.status = 400
    stub.body = json.dumps(
        {"error": {"message": "\x1b[31mbad\r\nX-Internal: db.corp.local\x00 " + "z" * 5000}}
    ).encode()
    response = _ask(gateway_world)
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message.startswith("Provider error (client_error, upstream status 400): ")
    excerpt = message.split(": ", 1)[1]
    assert len(excerpt) <= 200
    assert not any(ord(c) < 32 for c in message)
    recorder.flush()
    assert len(RequestLog.objects.get().error) > 200  # the operator keeps the longer text


def test_gateway_answers_carry_security_headers(gateway_world):
    response = _ask(gateway_world)
    assert response.status_code == 200
    refused = httpx.post(f"{gateway_world['url']}/v1/chat/completions", json={}, timeout=10)
    assert refused.status_code == 401
    for answer in (response, refused):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")


def test_the_gateway_client_is_not_told_the_refused_address(gateway_world, stub, settings):
    settings.PROVIDER_ALLOWED_HOSTS = []
    response = _ask(gateway_world)
    assert response.status_code >= 500
    assert "blocked_address" in response.json()["error"]["message"]
    assert "127.0.0.1" not in response.text
    assert stub.hits == []
    recorder.flush()
    log = RequestLog.objects.get()
    assert log.error_kind == "blocked_address"
    assert "PROVIDER_ALLOWED_HOSTS" in log.error  # the operator reads why and the way out
