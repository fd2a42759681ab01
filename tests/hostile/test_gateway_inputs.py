"""Hostile input for the gateway (`POST /v1/chat/completions`, traffic/gateway/app.py), in
process through its ASGI app with the built-in simulator over real HTTP as the provider: the
same rules as the API (test_api_inputs.py), in OpenAI's error shape `{error: {message, type,
param}}`, which OpenAI's SDKs read."""

import asyncio
import json

import httpx
import pytest

from registry.models import RequestLog
from registry.services import registry
from rollout_site.asgi import application
from traffic.gateway.recorder import recorder
from traffic.jsonbody import MAX_BODY_BYTES
from traffic.routing import invalidate_local
from traffic.tokens import token_create

from .test_api_inputs import HOSTILE_VALUES, MALFORMED
from .unicode_corpus import SAMPLES

PATH = "/v1/chat/completions"


@pytest.fixture
def gateway(live, simulated, settings):
    settings.GATEWAY_RATE_LIMIT_PER_MINUTE = 0
    config = simulated("sim-fast-2025-01-01", "hostile v1")
    feature = registry.feature_create(
        key="hostile-reply", name="Hostile reply", served_config=config, actor=None
    )
    _token, plaintext = token_create(name="hostile-gw", features=[feature], actor=None)
    invalidate_local()
    return {"key": feature.key, "feature": feature, "token": plaintext}


def _body(key: str, content: str = "Where is my parcel?") -> dict:
    return {"model": key, "messages": [{"role": "user", "content": content}], "user": "u-1"}


def _send_all(requests: list[tuple[bytes, dict[str, str]]]) -> list[httpx.Response]:
    """Each (body, headers) through the ASGI app in this process, in order."""

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            return [await http.post(PATH, content=raw, headers=h) for raw, h in requests]

    return asyncio.run(run())


def _headers(gateway, **extra) -> dict[str, str]:
    return {"Authorization": f"Bearer {gateway['token']}", "Content-Type": "application/json"} | {
        k.replace("_", "-"): v for k, v in extra.items()
    }


def _refusal(response: httpx.Response, status: int, param: str | None = None, secret="") -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert isinstance(error["message"], str) and len(error["message"]) > 10, error
    assert isinstance(error["type"], str) and error["type"], error
    if param is not None:
        assert (error["param"] or "").startswith(param), error
    assert "Traceback" not in response.text
    if secret:
        assert secret not in response.text
    return error


def _raw_with(key: str, value: str) -> bytes:
    text = json.dumps(_body(key, "MARK"))
    return text.replace('"MARK"', value).encode()


def test_every_hostile_body_is_an_openai_shaped_refusal_and_nothing_is_logged(gateway):
    key, token = gateway["key"], gateway["token"]
    plain = _headers(gateway)
    valid = json.dumps(_body(key)).encode()
    cases: list[tuple[str, bytes, dict[str, str], int, str | None]] = [
        # Over the limit and invalid JSON too: the size answer comes before any parsing.
        ("too large", b"{" * (MAX_BODY_BYTES + 1), plain, 413, None),
        (
            "too large, text",
            b"{" * (MAX_BODY_BYTES + 1),
            _headers(gateway, Content_Type="text/plain"),
            413,
            None,
        ),
        ("at the limit", b"{" * MAX_BODY_BYTES, plain, 400, None),
        ("text/plain", valid, _headers(gateway, Content_Type="text/plain"), 415, "Content-Type"),
        (
            "form",
            valid,
            _headers(gateway, Content_Type="application/x-www-form-urlencoded"),
            415,
            None,
        ),
        (
            "X-Request-Id of 10 KB",
            valid,
            _headers(gateway, X_Request_Id="r" * 10_000),
            400,
            "X-Request-Id",
        ),
        (
            "X-Request-Id with NUL",
            valid,
            _headers(gateway, X_Request_Id="a\x00b"),
            400,
            "X-Request-Id",
        ),
        ("not an object", b"[1]", plain, 400, None),
        ("model a number", json.dumps({**_body(key), "model": 5}).encode(), plain, 400, "model"),
        (
            "messages a string",
            json.dumps({**_body(key), "messages": "Hi"}).encode(),
            plain,
            400,
            "messages",
        ),
        ("user a list", json.dumps({**_body(key), "user": ["u"]}).encode(), plain, 400, "user"),
        (
            "metadata nested",
            json.dumps({**_body(key), "metadata": {"a": {"b": 1}}}).encode(),
            plain,
            400,
            "metadata",
        ),
    ]
    cases += [(name, raw, plain, 400, None) for name, raw in MALFORMED.items()]
    cases += [
        (name, _raw_with(key, value), plain, 400, "messages[0].content")
        for name, value in HOSTILE_VALUES.items()
        # A well-formed value of another type is the provider's to judge (its 400 is relayed).
        if name not in ("true", "null", "object", "4000 digits")
    ]
    responses = _send_all([(raw, headers) for _name, raw, headers, _s, _p in cases])
    for (name, _raw, _sent, status, param), response in zip(cases, responses, strict=True):
        try:
            error = _refusal(response, status, param, secret=token)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None
        assert "r" * 200 not in json.dumps(error), name  # an over-long id is never echoed
    recorder.flush()
    assert RequestLog.objects.count() == 0


def test_an_authorization_header_of_100_kb_is_a_401(gateway):
    huge = {"Authorization": "Bearer rdk_" + "A" * 100_000, "Content-Type": "application/json"}
    (response,) = _send_all([(json.dumps(_body(gateway["key"])).encode(), huge)])
    error = _refusal(response, 401)
    assert "A" * 100 not in error["message"]


def test_a_request_id_reused_with_another_body_is_a_409_and_the_same_body_is_logged_once(
    gateway,
):
    key = gateway["key"]
    headers = _headers(gateway, X_Request_Id="order-42")
    first = json.dumps(_body(key, "Where is order 42?")).encode()
    other = json.dumps(_body(key, "Cancel order 42")).encode()
    (answer,) = _send_all([(first, headers)])
    assert answer.status_code == 200, answer.text
    recorder.flush()
    again, reused = _send_all([(first, headers), (other, headers)])
    assert again.status_code == 200
    assert again.json()["choices"] == answer.json()["choices"]  # the simulator is deterministic
    _refusal(reused, 409, "X-Request-Id")
    recorder.flush()
    rows = RequestLog.objects.filter(request_id="order-42")
    assert rows.count() == 1
    assert rows.get().messages == [{"role": "user", "content": "Where is order 42?"}]


def test_unicode_goes_through_the_gateway_and_is_logged_code_point_exact(gateway):
    key = gateway["key"]
    requests = [
        (
            json.dumps(_body(key, text), ensure_ascii=ascii_).encode(),
            _headers(gateway, X_Request_Id=f"u-{n}-{ascii_}"),
        )
        for n, text in enumerate(SAMPLES.values())
        for ascii_ in (True, False)
    ]
    for response in _send_all(requests):
        assert response.status_code == 200, response.text
    recorder.flush()
    for n, text in enumerate(SAMPLES.values()):
        for ascii_ in (True, False):
            row = RequestLog.objects.get(request_id=f"u-{n}-{ascii_}")
            stored = row.messages[-1]["content"]
            assert stored == text, (n, stored, text)
            assert stored.encode("utf-8") == text.encode("utf-8")
