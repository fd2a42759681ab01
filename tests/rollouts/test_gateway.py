"""The OpenAI-compatible gateway over real HTTP (uvicorn), talking to the built-in simulator."""

import time

import httpx
import openai
import pytest

from comparisons.models import ShadowPair
from comparisons.services.shadow import shadow_job_run
from registry.models import RequestLog, ShadowJob
from registry.services import registry
from rollout_site.celery import app as celery_app
from rollouts.services import rollouts
from tests.gates import pass_gate
from tests.stages import serve_candidate
from traffic.gateway.recorder import recorder
from traffic.routing import invalidate_local
from traffic.tokens import token_create


@pytest.fixture
def world(live, simulated):
    baseline = simulated("sim-fast-2025-01-01", "fast")
    feature = registry.feature_create(
        key="support-reply", name="Support", served_config=baseline, actor=None
    )
    other = registry.feature_create(
        key="other",
        name="Other",
        served_config=simulated("sim-fast-2025-01-01", "o"),
        actor=None,
    )
    _, token = token_create(name="app", features=[feature], actor=None)
    invalidate_local()
    return {
        "config": simulated,
        "feature": feature,
        "other": other,
        "token": token,
        "baseline": baseline,
        "url": live.url,
    }


def _client(world) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{world['url']}/v1", api_key=world["token"], max_retries=0)


def test_the_official_openai_client_works_unchanged(world):
    raw = _client(world).chat.completions.with_raw_response.create(
        model="support-reply",
        messages=[{"role": "user", "content": "My invoice is wrong"}],
        user="user-1",
        metadata={"company": "Acme"},
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.model == "sim-fast-2025-01-01"
    assert raw.headers["X-Rollout-Model-Version"] == "sim-fast-2025-01-01"
    assert raw.headers["X-Rollout-Variant"] == "baseline"
    request_id = raw.headers["X-Request-Id"]
    recorder.flush()
    log = RequestLog.objects.get(request_id=request_id)
    assert log.source == "gateway" and log.unit_key == "user-1"
    assert log.output == completion.choices[0].message.content
    assert log.variables == {"company": "Acme"}


def test_streaming_passes_through_and_is_logged(world):
    client = _client(world)
    messages = [{"role": "user", "content": "How do I export my data?"}]
    whole = client.chat.completions.create(model="support-reply", messages=messages, user="u")
    stream = client.chat.completions.create(
        model="support-reply", messages=messages, user="u", stream=True
    )
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert streamed == whole.choices[0].message.content
    # The stream's record is queued once its last chunk is sent, which the client may read a
    # moment before the server gets there: flush until it arrives (bounded).
    deadline = time.monotonic() + 5
    while True:
        recorder.flush()
        if RequestLog.objects.filter(output=streamed).count() == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert RequestLog.objects.filter(output=streamed).count() == 2


@pytest.mark.parametrize(
    ("headers", "body", "status", "param"),
    [
        ({}, {"model": "support-reply", "messages": [{"role": "user", "content": "x"}]}, 401, None),
        (
            {"Authorization": "Bearer rdk_nope_nope"},
            {"model": "support-reply", "messages": []},
            401,
            None,
        ),
        (None, {"model": "nope", "messages": [{"role": "user", "content": "x"}]}, 404, "model"),
        (None, {"model": "other", "messages": [{"role": "user", "content": "x"}]}, 403, "model"),
        (None, {"model": "support-reply", "messages": "hi"}, 400, "messages"),
        (None, {"model": "support-reply"}, 400, "messages"),
        (None, {"messages": [{"role": "user", "content": "x"}]}, 400, "model"),
        (
            None,
            {"model": "support-reply", "messages": [{"role": "user", "content": "a\u0000"}]},
            400,
            "messages[0].content",
        ),
    ],
)
def test_bad_requests_get_openai_shaped_errors(world, headers, body, status, param):
    headers = {"Authorization": f"Bearer {world['token']}"} if headers is None else headers
    response = httpx.post(f"{world['url']}/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["message"] and error["param"] == param


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "support-reply", "messages": [{"role": "user", "content": "x"}], "n": NaN}',
        b'{"model": "support-reply", "messages": [{"role": "user", "content": "x"}], "n": 1e400}',
        b'{"model": "support-reply", "messages": [{"role": "user", "content": "\\ud800"}]}',
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_json_that_cannot_be_stored_is_a_400_not_a_500(world, raw):
    response = httpx.post(
        f"{world['url']}/v1/chat/completions",
        content=raw,
        headers={"Authorization": f"bearer {world['token']}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"]


def test_invalid_json_is_a_400(world):
    response = httpx.post(
        f"{world['url']}/v1/chat/completions",
        content=b"{nope",
        headers={"Authorization": f"Bearer {world['token']}"},
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


def test_in_shadow_each_call_makes_a_shadow_job_for_the_candidate(world):
    candidate = world["config"]("sim-chat-2025-10-01", "candidate")
    rollout = rollouts.rollout_create(feature=world["feature"], candidate=candidate, actor=None)
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    invalidate_local()
    raw = _client(world).chat.completions.with_raw_response.create(
        model="support-reply", messages=[{"role": "user", "content": "refund please"}], user="u"
    )
    assert raw.headers["X-Rollout-Variant"] == "baseline"  # shadow never serves the candidate
    recorder.flush()
    job = ShadowJob.objects.get(request__request_id=raw.headers["X-Request-Id"])
    assert job.config == candidate and job.status == "queued"


def test_with_the_broker_down_the_gateway_answers_and_the_job_waits(world, settings):
    candidate = world["config"]("sim-flaky-2025-01-01", "always failing candidate")
    rollout = rollouts.rollout_create(feature=world["feature"], candidate=candidate, actor=None)
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    invalidate_local()
    # Nothing listens on port 1: every publish to this broker fails.
    old = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        completion = _client(world).chat.completions.create(
            model="support-reply", messages=[{"role": "user", "content": "hello"}], user="u2"
        )
        assert completion.choices[0].message.content
        recorder.flush()
    finally:
        celery_app.conf.broker_url = old
    job = ShadowJob.objects.get(rollout=rollout)
    assert job.status == "queued"
    # Later, a worker runs it: the candidate fails, the pair records that, the user never saw it.
    pair = shadow_job_run(job_id=job.pk)
    assert pair is not None
    assert pair.baseline_output == completion.choices[0].message.content
    assert pair.candidate_output == "" and pair.candidate_error.startswith("server_error")
    job.refresh_from_db()
    assert job.status == "done"
    # A second delivery of the same job changes nothing.
    assert shadow_job_run(job_id=job.pk) is None
    assert ShadowPair.objects.filter(rollout=rollout).count() == 1


def test_in_canary_units_keep_their_variant_and_rollback_is_seen_at_once(world):
    candidate = world["config"]("sim-chat-2025-06-01", "candidate")
    rollout = rollouts.rollout_create(feature=world["feature"], candidate=candidate, actor=None)
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    serve_candidate(rollout, 50)
    invalidate_local()
    client = _client(world)

    def variants():
        out = {}
        for n in range(30):
            raw = client.chat.completions.with_raw_response.create(
                model="support-reply",
                messages=[{"role": "user", "content": "hi"}],
                user=f"unit-{n}",
            )
            out[n] = raw.headers["X-Rollout-Variant"]
        return out

    first = variants()
    assert set(first.values()) == {"baseline", "candidate"}
    assert variants() == first  # sticky
    rollouts.rollout_rollback(rollout=rollout, actor=None, reason="bad tone")
    invalidate_local()
    assert set(variants().values()) == {"baseline"}
