"""Streams through the gateway (real uvicorn) from a scripted provider on a real port: the
request log says how each stream really ended, with the text passed on so far and the tokens
known; the client still gets the provider's bytes unchanged."""

import json
import time

import httpx
import pytest

from registry.models import ModelConfig, ModelVersion, Provider, RequestLog
from registry.services import registry
from tests.live import free_port, wait_for
from tests.stub_provider import StubProvider, delta, event
from traffic.gateway.recorder import recorder
from traffic.routing import invalidate_local
from traffic.tokens import token_create

HELLO = [event(delta("Hel")), event(delta("lo", "stop")), event(b"data: [DONE]")]


@pytest.fixture
def stub():
    with StubProvider(lambda body, n: list(HELLO)) as server:
        yield server


@pytest.fixture
def gateway(live, stub, settings):
    settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    provider = registry.provider_save(
        provider=Provider(
            name="Stub", api_style="openai_chat", base_url=stub.url, api_key_env="", timeout=2
        ),
        actor=None,
    )
    version = registry.model_version_save(
        version=ModelVersion(provider=provider, model_id="gpt-4o-2024-08-06"), actor=None
    )
    config = registry.config_create(
        config=ModelConfig(name="stub", model_version=version, system_prompt="Be brief."),
        actor=None,
    )
    feature = registry.feature_create(
        key="support-reply", name="Support", served_config=config, actor=None
    )
    _, token = token_create(name="app", features=[feature], actor=None)
    invalidate_local()
    return {"url": f"{live.url}/v1/chat/completions", "token": token, "provider": provider}


def _body(**extra) -> dict:
    return {
        "model": "support-reply",
        "messages": [{"role": "user", "content": "Say hello"}],
        "stream": True,
    } | extra


def _stream(gateway, **extra) -> tuple[int, bytes, str]:
    with (
        httpx.Client(timeout=10) as client,
        client.stream(
            "POST",
            gateway["url"],
            json=_body(**extra),
            headers={"Authorization": f"Bearer {gateway['token']}"},
        ) as response,
    ):
        return response.status_code, response.read(), response.headers["X-Request-Id"]


def _logged(request_id: str) -> RequestLog:
    def find() -> RequestLog | None:
        recorder.flush()
        return RequestLog.objects.filter(request_id=request_id).first()

    row = wait_for(find, timeout=5)
    assert row is not None, "the stream was never logged"
    return row


def test_a_complete_stream_logs_the_finish_reason_and_tokens_the_provider_sent(gateway, stub):
    # The first event is split across two reads, as a provider's TCP segments may split it.
    whole = event(delta("Hi there", None))
    stub.respond = lambda body, n: [
        whole[:25],
        0.05,
        whole[25:],
        event(delta("", "length")),
        event(
            {
                "object": "chat.completion.chunk",
                "choices": [],
                "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
            }
        ),
        event(b"data: [DONE]"),
    ]
    status, body, request_id = _stream(gateway, stream_options={"include_usage": True})
    assert status == 200 and body.endswith(b"data: [DONE]\n\n")
    row = _logged(request_id)
    assert row.error_kind == "" and row.output == "Hi there"
    assert row.finish_reason == "length"
    assert (row.prompt_tokens, row.completion_tokens) == (9, 2)


def test_an_error_event_mid_stream_is_logged_as_an_error_with_the_partial_output(gateway, stub):
    error = {
        "error": {
            "message": "The server had an error processing your request.",
            "type": "server_error",
        }
    }
    stub.respond = lambda body, n: [event(delta("Hel")), event(delta("lo")), event(error)]
    status, body, request_id = _stream(gateway)
    assert status == 200  # the headers had gone out with the first chunk
    assert json.dumps(error).encode() in body  # the client sees the provider's own event
    row = _logged(request_id)
    assert row.error_kind == "stream_error"
    assert row.output == "Hello"
    assert "error processing your request" in row.error


def test_a_stream_cut_by_the_deadline_is_logged_as_a_timeout(gateway, stub):
    stub.respond = lambda body, n: [event(delta("Hel")), 30.0, *HELLO[1:]]
    started = time.monotonic()
    status, body, request_id = _stream(gateway)  # the provider's timeout is 2 s
    assert status == 200
    assert time.monotonic() - started < 10
    assert b'"type": "timeout"' in body and body.endswith(b"data: [DONE]\n\n")
    row = _logged(request_id)
    assert row.error_kind == "timeout" and row.output == "Hel"


def test_a_client_that_disconnects_mid_stream_is_logged_and_the_provider_stream_closed(
    gateway, stub
):
    stub.respond = lambda body, n: [event(delta("Hel")), 30.0, *HELLO[1:]]
    with (
        httpx.Client(timeout=10) as client,
        client.stream(
            "POST",
            gateway["url"],
            json=_body(),
            headers={"Authorization": f"Bearer {gateway['token']}"},
        ) as response,
    ):
        request_id = response.headers["X-Request-Id"]
        received = b""
        for chunk in response.iter_raw():
            received += chunk
            if b"Hel" in received:
                break
        # Leaving the block mid-body closes the connection: the client has gone.
    started = time.monotonic()
    row = _logged(request_id)
    assert row.error_kind == "client_disconnected"
    assert row.output == "Hel"
    assert "disconnected" in row.error
    # The gateway noticed at once: not at the provider's next chunk (30 s away), nor at the
    # deadline (2 s away).
    assert stub.hung_up.wait(5)
    assert time.monotonic() - started < 1.5


def test_a_refused_connection_is_a_502_logged_as_a_connect_error(gateway):
    Provider.objects.filter(pk=gateway["provider"].pk).update(
        base_url=f"http://127.0.0.1:{free_port()}/v1"
    )
    invalidate_local()
    headers = {"Authorization": f"Bearer {gateway['token']}"}
    for body in (_body(), _body(stream=False)):
        response = httpx.post(gateway["url"], json=body, headers=headers, timeout=10)
        assert response.status_code == 502, response.text  # not 504: nothing timed out
        row = _logged(response.headers["X-Request-Id"])
        assert row.error_kind == "connection"
        assert "Connection refused" in row.error
