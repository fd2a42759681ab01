"""Each model family gets its own wire form, and a parameter the family refuses is left out (and
recorded as dropped) instead of failing the call. The provider's HTTP is scripted with
httpx.MockTransport that refuses what the real APIs refuse, so "the call succeeds" means
something."""

import asyncio
import json

import httpx
import pytest

from comparisons.models import ShadowPair
from comparisons.services.shadow import shadow_job_run
from registry.models import ShadowJob
from rollouts.services import rollouts
from tests.gates import pass_gate
from traffic import providers
from traffic.ingest import ingest
from traffic.providers.base import ProviderCall
from traffic.routing import current_table, invalidate_local

KEY_ENV = "ROLLOUT_TEST_PARAM_API_KEY"
REASONING_REFUSED = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "logit_bias")


class StrictProvider:
    """Records each request body and refuses, with each vendor's 400, what its API refuses."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.read())
        self.bodies.append(body)
        if request.url.path.endswith("/messages"):
            if "max_tokens" not in body:
                return _error(400, "max_tokens: Field required")
            if "temperature" in body and "top_p" in body:
                return _error(400, "`temperature` and `top_p` cannot both be specified")
            return httpx.Response(
                200,
                json={
                    "id": "msg_1",
                    "type": "message",
                    "content": [{"type": "text", "text": "Hi."}],
                    "stop_reason": "end_turn",
                    "usage": {"input_tokens": 3, "output_tokens": 2},
                },
            )
        if body["model"].startswith(("o1", "o3", "o4", "gpt-5")):
            for name in ("max_tokens", *REASONING_REFUSED):
                if name in body:
                    return _error(400, f"Unsupported parameter: '{name}'")
        return httpx.Response(
            200,
            json={
                "id": "x",
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Hi."},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
            },
        )


def _error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"message": message}})


def _call(style: str, model_id: str, params: dict) -> ProviderCall:
    return ProviderCall(
        api_style=style,
        base_url="https://api.vendor.test/v1",
        api_key_env=KEY_ENV,
        timeout=10.0,
        model_id=model_id,
        messages=[{"role": "user", "content": "Hello"}],
        params=params,
    )


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-test")


@pytest.mark.parametrize("engine", ["sync", "async"])
@pytest.mark.parametrize("model_id", ["o3-mini-2025-01-31", "gpt-5-2025-08-07"])
def test_a_reasoning_model_gets_max_completion_tokens_and_no_top_p(engine, model_id):
    provider = StrictProvider()
    req = _call("openai_chat", model_id, {"max_tokens": 300, "top_p": 0.9, "seed": 4})
    if engine == "sync":
        result = providers.call(req, transport=provider.transport())
    else:
        result = asyncio.run(providers.acall(req, transport=provider.transport()))
    assert result.ok, result.error
    [body] = provider.bodies
    assert body["max_completion_tokens"] == 300
    assert "max_tokens" not in body
    assert "top_p" not in body
    assert body["seed"] == 4
    assert result.dropped_params == ("top_p",)


def test_a_classic_model_gets_max_tokens_and_its_sampling_parameters():
    provider = StrictProvider()
    req = _call(
        "openai_chat", "gpt-4o-2024-08-06", {"max_tokens": 300, "temperature": 0.2, "top_p": 0.9}
    )
    result = providers.call(req, transport=provider.transport())
    assert result.ok
    [body] = provider.bodies
    assert (body["max_tokens"], body["temperature"], body["top_p"]) == (300, 0.2, 0.9)
    assert "max_completion_tokens" not in body
    assert result.dropped_params == ()


def test_anthropic_gets_max_tokens_and_a_requests_top_p_gives_way_to_the_temperature():
    provider = StrictProvider()
    req = _call(
        "anthropic_messages",
        "claude-sonnet-4-5-20250929",
        {"temperature": 0.3, "top_p": 0.9, "presence_penalty": 1.0},
    )
    result = providers.call(req, transport=provider.transport())
    assert result.ok, result.error
    [body] = provider.bodies
    assert body["max_tokens"] == 1024  # Anthropic requires it; the default when none is set
    assert body["temperature"] == 0.3
    assert "top_p" not in body and "presence_penalty" not in body
    assert result.dropped_params == ("presence_penalty", "top_p")


# --- a shadow run on a reasoning candidate --------------------------------------------------


def test_a_reasoning_candidate_answers_a_request_sent_with_top_p(
    feature, make_config, make_version, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    candidate = make_config("support o3", make_version("o3-mini-2025-01-31"), max_tokens=400)
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    invalidate_local()
    record = {
        "feature": "support-reply",
        "request_id": "r1",
        "unit": "u1",
        "messages": [{"role": "user", "content": "Where is my order?"}],
        "variables": {"customer": "Ann"},
        "output": "On its way.",
        "latency_ms": 120,
        "params": {"top_p": 0.8, "frequency_penalty": 0.5, "seed": 3},
    }
    ingest(record, table=current_table(), token=None)
    provider = StrictProvider()

    shadow_job_run(job_id=ShadowJob.objects.get().pk, transport=provider.transport())

    pair = ShadowPair.objects.get()
    assert pair.candidate_error == ""
    assert pair.candidate_output == "Hi."
    [body] = provider.bodies
    assert body["max_completion_tokens"] == 400
    assert body["seed"] == 3
    assert not {"top_p", "frequency_penalty", "max_tokens"} & set(body)
