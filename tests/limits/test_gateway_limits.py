"""Per-token rate limits of the gateway on a live uvicorn (the sharing between processes:
test_shared_limits.py): OpenAI-shaped 429s with Retry-After, checked before the body is read."""

from datetime import UTC, datetime

import httpx
import pytest
import time_machine

from registry.services import registry
from tests.limits.conftest import dead_redis_url
from traffic.routing import invalidate_local
from traffic.tokens import token_create

NOON = datetime(2031, 3, 4, 12, 0, 40, tzinfo=UTC)  # 20 s before the minute ends


@pytest.fixture
def gateway(live, simulated, settings):
    settings.GATEWAY_RATE_LIMIT_PER_MINUTE = 3
    feature = registry.feature_create(
        key="support-reply",
        name="Support",
        served_config=simulated("sim-fast-2025-01-01", "fast"),
        actor=None,
    )
    _, first = token_create(name="first", features=[feature], actor=None)
    _, second = token_create(name="second", features=[feature], actor=None)
    invalidate_local()
    return {"url": live.url, "first": first, "second": second}


def _call(gateway, token: str) -> httpx.Response:
    return httpx.post(
        f"{gateway['url']}/v1/chat/completions",
        headers={"Authorization": f"Bearer {token}"},
        json={"model": "support-reply", "messages": [{"role": "user", "content": "Hi"}]},
        timeout=10,
    )


def test_a_token_over_its_limit_gets_an_openai_shaped_429(gateway):
    with time_machine.travel(NOON, tick=False):
        served = [_call(gateway, gateway["first"]) for _ in range(3)]
        refused = _call(gateway, gateway["first"])
        other = _call(gateway, gateway["second"])
    assert [r.status_code for r in served] == [200, 200, 200]
    assert served[0].json()["choices"][0]["message"]["content"]
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "20"
    assert refused.headers["X-Request-Id"]
    error = refused.json()["error"]
    assert error["type"] == "rate_limit_error" and error["code"] == "rate_limited"
    assert "3 requests this minute" in error["message"]
    assert other.status_code == 200  # another token is unaffected


def test_a_refused_call_reaches_no_provider_and_is_not_logged(gateway):
    from registry.models import RequestLog
    from traffic.gateway.recorder import recorder

    with time_machine.travel(NOON, tick=False):
        for _ in range(3):
            _call(gateway, gateway["first"])
        statuses = [_call(gateway, gateway["first"]).status_code for _ in range(5)]
    recorder.flush()
    assert statuses == [429] * 5
    assert RequestLog.objects.count() == 3


def test_limit_zero_turns_the_gateway_limit_off(gateway, settings):
    settings.GATEWAY_RATE_LIMIT_PER_MINUTE = 0
    with time_machine.travel(NOON, tick=False):
        assert {_call(gateway, gateway["first"]).status_code for _ in range(8)} == {200}


def test_the_store_down_still_serves(gateway, settings):
    settings.CACHE_URL = dead_redis_url()
    with time_machine.travel(NOON, tick=False):
        assert {_call(gateway, gateway["first"]).status_code for _ in range(6)} == {200}
