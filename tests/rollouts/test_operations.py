"""Provider faults as the gateway's clients and the operations page see them: a real gateway
(uvicorn) in front of a real faulty provider on loopback (tests/fault_provider.py)."""

import time

import httpx
import pytest

from registry.models import AuditEvent, ModelConfig, ModelVersion, Provider
from registry.services import registry
from tests.fault_provider import FaultProvider, bad_key, quota, rate_limited, status
from traffic.routing import invalidate_local
from traffic.tokens import token_create


@pytest.fixture
def fp():
    with FaultProvider() as server:
        yield server


@pytest.fixture
def gateway(live, fp, settings):
    settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.BREAKER_CONSECUTIVE = 3
    settings.BREAKER_REFRESH_SECONDS = 0
    provider = registry.provider_save(
        provider=Provider(name="Flaky", api_style="openai_chat", base_url=fp.base_url, timeout=5),
        actor=None,
    )
    version = registry.model_version_save(
        version=ModelVersion(provider=provider, model_id="gpt-4o-2024-08-06"), actor=None
    )
    config = registry.config_create(
        config=ModelConfig(name="v1", model_version=version), actor=None
    )
    feature = registry.feature_create(
        key="support-reply", name="Support", served_config=config, actor=None
    )
    _, token = token_create(name="app", features=[feature], actor=None)
    invalidate_local()
    return {"url": live.url, "token": token, "provider": provider}


def _ask(gateway) -> httpx.Response:
    return httpx.post(
        f"{gateway['url']}/v1/chat/completions",
        json={"model": "support-reply", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {gateway['token']}"},
        timeout=10,
    )


def test_a_429_reaches_the_client_with_the_providers_retry_after(gateway, fp):
    fp.always(rate_limited(retry_after=30))
    started = time.monotonic()
    response = _ask(gateway)
    assert response.status_code == 429 and response.headers["Retry-After"] == "30"
    assert response.json()["error"]["code"] == "rate_limited"
    assert time.monotonic() - started < 2 and fp.requests == 1  # not waited out


@pytest.mark.parametrize(
    ("fault", "code", "words"),
    [
        (bad_key(401), "auth_rejected", "rejected the API key"),
        (quota(), "quota_exhausted", "quota exhausted"),
    ],
)
def test_a_rejected_key_or_quota_is_the_operators_problem_not_the_clients(
    gateway, fp, fault, code, words
):
    fp.always(fault)
    response = _ask(gateway)
    # Not a 401 (the client's gateway token is fine) nor a 429 (waiting will not help).
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == code and words in error["message"]
    assert fp.requests == 1


def test_an_open_circuit_answers_503_fast_and_the_page_shows_it(gateway, fp, client_for):
    fp.always(status(503, "overloaded"))
    assert _ask(gateway).status_code == 502  # three attempts: the third opens the circuit
    assert fp.requests == 3
    started = time.monotonic()
    response = _ask(gateway)
    assert time.monotonic() - started < 1
    assert response.status_code == 503 and 1 <= int(response.headers["Retry-After"]) <= 30
    error = response.json()["error"]
    assert error["type"] == "service_unavailable" and error["code"] == "circuit_open"
    assert "circuit" in error["message"] and "is open" in error["message"]
    assert fp.requests == 3  # the provider was not touched

    page = client_for("release").get("/operations/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-provider="Flaky" data-state="open"' in html
    assert "3 consecutive failures" in html


def test_only_release_managers_and_admins_see_the_page(gateway, client_for):
    assert client_for(None).get("/operations/").status_code == 302  # to the sign-in page
    for name in ("viewer", "reviewer"):
        assert client_for(name).get("/operations/").status_code == 403
        assert b'href="/operations/"' not in client_for(name).get("/").content
    for name in ("release", "admin"):
        assert client_for(name).get("/operations/").status_code == 200
        assert b'href="/operations/"' in client_for(name).get("/").content


def test_an_admin_closes_a_circuit_by_hand_and_it_is_audited(gateway, fp, client_for):
    fp.always(status(500))
    _ask(gateway)
    url = f"/operations/providers/{gateway['provider'].code}/close-circuit/"
    assert client_for("release").post(url, {"reason": "x"}).status_code == 403
    response = client_for("admin").post(url, {"reason": "provider says it is fixed"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="provider.circuit_reset")
    assert event.before == {"circuit": "open"} and event.reason == "provider says it is fixed"
    page = client_for("admin").get("/operations/").content.decode()
    assert 'data-provider="Flaky" data-state="closed"' in page


def test_the_page_counts_the_queued_shadow_jobs_and_those_an_open_circuit_sent_back(
    shadow_rollout, client_for
):
    from registry.models import RequestLog, ShadowJob
    from registry.services.audit import db_now

    for n, error in enumerate(["", "", "deferred: the circuit for the provider is open"]):
        log = RequestLog.objects.create(
            feature=shadow_rollout.feature,
            request_id=f"ops-{n}",
            source="ingest",
            config=shadow_rollout.baseline,
            variant="baseline",
            rollout=shadow_rollout,
            messages=[{"role": "user", "content": "hi"}],
            output="hello",
            started=db_now(),
        )
        ShadowJob.objects.create(
            request=log, rollout=shadow_rollout, config=shadow_rollout.candidate, error=error
        )
    page = client_for("release").get("/operations/").content.decode()
    assert "Shadow outbox (queued jobs)</dt><dd>3" in page
    assert "Shadow jobs waiting for an open circuit</dt><dd>1</dd>" in page
