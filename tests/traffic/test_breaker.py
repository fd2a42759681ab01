"""The per-provider circuit breaker against a real faulty server on loopback: a 5xx storm opens
it and later calls fail fast without reaching the provider; after the cool-down probes close or
re-open it; 4xx answers never count; the state is shared through the cache; each transition is
logged once."""

import logging
from datetime import timedelta

import pytest
import time_machine

from tests.fault_provider import FaultProvider, bad_key, ok, status
from traffic import providers
from traffic.providers import breaker, pool
from traffic.providers.base import CallResult, ErrorKind, ProviderCall


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.BREAKER_CONSECUTIVE = 5
    settings.BREAKER_MIN_CALLS = 20
    settings.BREAKER_FAILURE_RATIO = 0.5
    settings.BREAKER_COOLDOWN_SECONDS = 30
    settings.BREAKER_PROBES = 1
    settings.BREAKER_REFRESH_SECONDS = 0  # every call reads the shared state: "another process"


@pytest.fixture
def fp():
    with FaultProvider() as server:
        yield server
    pool.close_sync_clients()


def _call(fp: FaultProvider) -> CallResult:
    req = ProviderCall(
        api_style="openai_chat",
        base_url=fp.base_url,
        api_key_env="",
        timeout=5,
        model_id="gpt-4o-2024-08-06",
        messages=[{"role": "user", "content": "hi"}],
    )
    return providers.call(req, max_retries=0)


def _state(fp: FaultProvider) -> str:
    (view,) = breaker.breaker_snapshot([fp.base_url])
    return view.state


def _storm(fp: FaultProvider, n: int = 5) -> None:
    fp.always(status(503, "overloaded"))
    for _ in range(n):
        assert _call(fp).error_kind == ErrorKind.SERVER_ERROR


def test_a_5xx_storm_opens_the_circuit_and_calls_fail_fast_unsent(fp):
    _storm(fp)
    assert _state(fp) == "open"
    result = _call(fp)
    assert result.error_kind == ErrorKind.CIRCUIT_OPEN and result.attempts == 0
    assert "circuit" in result.error and "5 consecutive failures" in result.error
    assert 29 <= (result.retry_after or 0) <= 30
    assert fp.requests == 5  # the sixth never reached the provider
    (view,) = breaker.breaker_snapshot([fp.base_url])
    assert view.counts["server_error"] == 5 and view.counts["circuit_open"] == 1


def test_a_failure_ratio_over_enough_calls_opens_it(fp):
    fp.script(*[status(500) if i % 2 else ok() for i in range(20)])
    for _ in range(20):
        _call(fp)
    assert _state(fp) == "open"


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
def test_client_errors_never_count(fp, code):
    fp.always(bad_key(code) if code in (401, 403) else status(code, "bad request"))
    for _ in range(25):
        assert _call(fp).error_kind != ErrorKind.CIRCUIT_OPEN
    assert fp.requests == 25 and _state(fp) == "closed"


def test_after_the_cool_down_a_probe_that_is_answered_closes_it(fp, caplog):
    caplog.set_level(logging.WARNING, logger="traffic.providers.breaker")
    with time_machine.travel(0, tick=True) as clock:
        _storm(fp)
        clock.shift(timedelta(seconds=31))
        fp.always(ok("back"))
        result = _call(fp)
    assert result.ok and result.output == "back" and fp.requests == 6
    assert _state(fp) == "closed"
    moves = [r.getMessage() for r in caplog.records if " -> " in r.getMessage()]
    assert len(moves) == 3, moves  # open, half-open, closed: once each
    assert "closed -> open" in moves[0] and "half_open -> closed" in moves[2]


def test_a_probe_that_fails_opens_it_again_for_another_cool_down(fp):
    with time_machine.travel(0, tick=True) as clock:
        _storm(fp)
        clock.shift(timedelta(seconds=31))
        assert _call(fp).error_kind == ErrorKind.SERVER_ERROR  # the probe
        assert _state(fp) == "open"
        again = _call(fp)
        assert again.error_kind == ErrorKind.CIRCUIT_OPEN and "a probe failed" in again.error
        assert fp.requests == 6


def test_only_the_allowed_number_of_probes_reach_the_provider(fp, settings):
    with time_machine.travel(0, tick=True) as clock:
        _storm(fp)
        clock.shift(timedelta(seconds=31))
        # A probe that is slow to answer: the next calls meanwhile fail fast.
        assert breaker.admit(fp.base_url) is None  # this process took the one probe
        blocked = breaker.admit(fp.base_url)
        assert blocked is not None and blocked.error_kind == ErrorKind.CIRCUIT_OPEN


def test_another_process_sees_the_open_circuit_through_the_shared_cache(fp):
    _storm(fp)
    breaker.breaker_snapshot([fp.base_url])  # the transition is published (in the background)
    breaker.forget(shared=False)  # what a second web or worker process starts with
    # Its first call goes by its own (closed) view while the shared state is fetched: a view
    # is at most BREAKER_REFRESH_SECONDS stale, and the hot path never waits for the cache.
    _call(fp)
    breaker.breaker_snapshot([fp.base_url])  # let the background refresh land
    result = _call(fp)
    assert result.error_kind == ErrorKind.CIRCUIT_OPEN and fp.requests == 6


def test_an_operator_can_close_it(fp):
    _storm(fp)
    breaker.breaker_reset(fp.base_url, reason="provider confirmed recovery")
    fp.always(ok())
    assert _call(fp).ok and _state(fp) == "closed"
