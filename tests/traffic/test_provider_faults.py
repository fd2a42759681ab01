"""Provider faults against a real faulty server on loopback (tests/fault_provider.py), on both
engines: what the caller is told, how often the provider was tried, and how long it took."""

import asyncio
import time

import pytest

from tests.fault_provider import (
    FaultProvider,
    bad_key,
    closed_port,
    drip,
    hang,
    ok,
    quota,
    rate_limited,
    reset,
    status,
)
from traffic import providers
from traffic.providers import pool
from traffic.providers.base import CallResult, ErrorKind, ProviderCall

MARGIN = 0.6  # seconds of slack over a deadline for a loaded CI machine


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]


@pytest.fixture
def fp():
    with FaultProvider() as server:
        yield server


def _req(base_url: str, timeout: float = 5.0) -> ProviderCall:
    return ProviderCall(
        api_style="openai_chat",
        base_url=base_url,
        api_key_env="",
        timeout=timeout,
        model_id="gpt-4o-2024-08-06",
        messages=[{"role": "user", "content": "hi"}],
    )


def _sync(req: ProviderCall, **kwargs) -> CallResult:
    try:
        return providers.call(req, **kwargs)
    finally:
        pool.close_sync_clients()


def _async(req: ProviderCall, **kwargs) -> CallResult:
    async def run() -> CallResult:
        try:
            return await providers.acall(req, **kwargs)
        finally:
            await pool.aclose_async_clients()

    return asyncio.run(run())


ENGINES = pytest.mark.parametrize("engine", [_sync, _async], ids=["sync", "async"])


@ENGINES
def test_a_429_is_retried_after_the_providers_retry_after(fp, engine):
    fp.script(rate_limited(retry_after=0.5), ok("second time lucky"))
    result = engine(_req(fp.base_url))
    assert result.ok and result.output == "second time lucky"
    assert result.attempts == 2 and fp.requests == 2
    assert fp.times[1] - fp.times[0] >= 0.5


@ENGINES
def test_a_retry_after_longer_than_the_callers_limit_is_handed_back(fp, engine):
    fp.script(rate_limited(retry_after=30))
    started = time.monotonic()
    result = engine(_req(fp.base_url), max_wait=2.0)
    assert result.error_kind == ErrorKind.RATE_LIMITED and result.retry_after == 30
    assert fp.requests == 1 and time.monotonic() - started < 2


@ENGINES
@pytest.mark.parametrize(
    ("fault", "kind", "words"),
    [
        (quota(), ErrorKind.QUOTA_EXHAUSTED, "quota exhausted"),
        (bad_key(401), ErrorKind.AUTH_REJECTED, "the provider rejected the API key"),
        (bad_key(403), ErrorKind.AUTH_REJECTED, "the provider rejected the API key"),
        (status(402, "Payment required"), ErrorKind.QUOTA_EXHAUSTED, "quota exhausted"),
    ],
    ids=["quota-429", "401", "403", "402"],
)
def test_quota_and_auth_errors_are_named_and_never_retried(fp, engine, fault, kind, words):
    fp.always(fault)
    result = engine(_req(fp.base_url))
    assert result.error_kind == kind and words in result.error
    assert result.attempts == 1 and fp.requests == 1


@ENGINES
def test_a_5xx_storm_is_retried_a_bounded_number_of_times(fp, engine):
    fp.always(status(503, "overloaded"))
    result = engine(_req(fp.base_url), max_retries=2)
    assert result.error_kind == ErrorKind.SERVER_ERROR and result.status_code == 503
    assert fp.requests == 3


@ENGINES
@pytest.mark.parametrize("fault", [hang(), drip(seconds=0.2)], ids=["hung", "dripping"])
def test_the_total_deadline_holds_against_a_hung_or_dripping_answer(fp, engine, fault):
    fp.always(fault)
    started = time.monotonic()
    result = engine(_req(fp.base_url, timeout=1.2))
    elapsed = time.monotonic() - started
    assert result.error_kind == ErrorKind.TIMEOUT
    assert elapsed <= 1.2 + MARGIN, elapsed


@ENGINES
def test_a_refused_connection_is_named_as_such(engine):
    port = closed_port()
    started = time.monotonic()
    result = engine(_req(f"http://127.0.0.1:{port}/v1", timeout=3.0), max_retries=0)
    assert result.error_kind == ErrorKind.CONNECTION
    assert "refused" in result.error.lower() and f"127.0.0.1:{port}" in result.error
    assert time.monotonic() - started < 1.0  # not waited out like a timeout


@ENGINES
def test_a_reset_mid_body_is_a_connection_failure_that_is_retried(fp, engine):
    fp.script(reset(), ok("after the reset"))
    result = engine(_req(fp.base_url))
    assert result.ok and result.output == "after the reset" and fp.requests == 2
