"""Per-token rate limits of the application API, in one process (the sharing between processes:
test_shared_limits.py). The windows are clock minutes, moved with time-machine."""

import logging
import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from tests.limits.conftest import dead_redis_url
from traffic.ratestore import health

NOON = datetime(2031, 3, 4, 12, 0, 15, tzinfo=UTC)  # 45 s before the minute ends


def _get(client: Client, token: str):
    return client.get(
        "/api/v1/features/support-reply/assignment?unit=u1",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


@pytest.fixture
def limited(settings, tokens):
    settings.API_RATE_LIMIT_PER_MINUTE = 5
    return tokens


def test_a_token_over_its_limit_gets_429_with_retry_after_and_a_json_body(client, limited):
    with time_machine.travel(NOON, tick=False):
        statuses = [_get(client, limited["first"]).status_code for _ in range(5)]
        refused = _get(client, limited["first"])
    assert statuses == [200] * 5
    assert refused.status_code == 429
    assert refused["Retry-After"] == "45"
    assert refused["Content-Type"] == "application/json"
    body = refused.json()
    assert body["code"] == "rate_limited"
    assert "5 requests this minute" in body["message"] and "45 s" in body["message"]
    assert body["retry_after"] == 45 and body["limit"] == 5


def test_another_token_is_unaffected(client, limited):
    with time_machine.travel(NOON, tick=False):
        for _ in range(6):
            _get(client, limited["first"])
        assert _get(client, limited["first"]).status_code == 429
        assert [_get(client, limited["second"]).status_code for _ in range(5)] == [200] * 5


def test_the_next_minute_serves_again(client, limited):
    with time_machine.travel(NOON, tick=False) as clock:
        for _ in range(5):
            _get(client, limited["first"])
        assert _get(client, limited["first"]).status_code == 429
        clock.move_to(datetime(2031, 3, 4, 12, 0, 59, 500_000, tzinfo=UTC))
        late = _get(client, limited["first"])
        assert late.status_code == 429 and late["Retry-After"] == "1"
        clock.move_to(datetime(2031, 3, 4, 12, 1, 0, tzinfo=UTC))
        assert [_get(client, limited["first"]).status_code for _ in range(5)] == [200] * 5
        assert _get(client, limited["first"]).status_code == 429


def test_limit_zero_turns_the_limit_off(client, settings, tokens):
    settings.API_RATE_LIMIT_PER_MINUTE = 0
    with time_machine.travel(NOON, tick=False):
        assert {_get(client, tokens["first"]).status_code for _ in range(40)} == {200}


def test_a_signed_in_session_is_not_counted_against_tokens(client, limited, cast):
    with time_machine.travel(NOON, tick=False):
        client.force_login(cast["viewer"])
        assert {_get(Client(), limited["first"]).status_code for _ in range(5)} == {200}
        session = client.get("/api/v1/features/support-reply/assignment?unit=u1")
        assert session.status_code == 200


def test_the_store_down_serves_and_logs_once_a_minute(client, limited, settings, caplog):
    settings.CACHE_URL = dead_redis_url()
    before = health()["unchecked_total"]
    with time_machine.travel(NOON, tick=False) as clock, caplog.at_level(logging.WARNING):
        assert {_get(client, limited["first"]).status_code for _ in range(20)} == {200}
        clock.shift(61)
        assert _get(client, limited["first"]).status_code == 200
    unreachable = [r for r in caplog.records if "store unreachable" in r.getMessage()]
    assert len(unreachable) == 2, [r.getMessage() for r in caplog.records]
    counts = [
        int(re.search(r"(\d+) request\(s\) unchecked", r.getMessage())[1]) for r in unreachable
    ]
    assert counts[1] - counts[0] == 20  # the 20 requests after the first line, then the 21st
    assert health()["down"] is True
    assert int(health()["unchecked_total"]) - int(before) == 21
