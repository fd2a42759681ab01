"""Provider and model-version edits reach the routing table every gateway and worker reads:
at once in the process that made them (on commit), and in every other process at its next
generation check (within ROUTING_REFRESH_MS)."""

import openai
import pytest

from registry.models import ModelVersion, Provider, RoutingState
from registry.services import registry
from tests.stub_provider import StubProvider, completion
from traffic import routing
from traffic.routing import current_table, invalidate_local
from traffic.tokens import token_create


def _generation() -> int:
    return RoutingState.objects.get(pk=1).generation


@pytest.fixture
def gateway(live, simulated, settings):
    settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    baseline = simulated("sim-fast-2025-01-01", "fast")
    feature = registry.feature_create(
        key="support-reply", name="Support", served_config=baseline, actor=None
    )
    _, token = token_create(name="app", features=[feature], actor=None)
    invalidate_local()
    client = openai.OpenAI(base_url=f"{live.url}/v1", api_key=token, max_retries=0)

    def ask() -> openai.types.chat.ChatCompletion:
        raw = client.chat.completions.with_raw_response.create(
            model="support-reply",
            messages=[{"role": "user", "content": "Where is my parcel?"}],
            metadata={"company": "Acme"},
        )
        completion = raw.parse()
        completion.served_version = raw.headers["X-Rollout-Model-Version"]  # type: ignore[attr-defined]
        return completion

    return {"ask": ask, "config": baseline}


def test_a_base_url_edit_reaches_the_next_gateway_request(gateway, settings):
    # Only the in-process invalidation may make this process reload: no periodic check.
    settings.ROUTING_REFRESH_SECONDS = 3600
    ask = gateway["ask"]
    assert ask().choices[0].message.content  # the simulator answers
    with StubProvider(lambda body, n: [completion("from the new base URL")]) as stub:
        provider = Provider.objects.get(name="Simulator")
        provider.base_url = stub.url
        registry.provider_save(provider=provider, actor=None, reason="moved to the new host")
        answer = ask()
    assert answer.choices[0].message.content == "from the new base URL"
    assert len(stub.requests) == 1


def test_a_model_version_edit_reaches_the_next_gateway_request(gateway, settings):
    settings.ROUTING_REFRESH_SECONDS = 3600
    ask = gateway["ask"]
    assert ask().served_version == "sim-fast-2025-01-01"
    version = ModelVersion.objects.get(model_id="sim-fast-2025-01-01")
    version.model_id = "sim-chat-2025-06-01"
    registry.model_version_save(version=version, actor=None, reason="pinned the right date")
    assert ask().served_version == "sim-chat-2025-06-01"


def test_other_processes_see_a_provider_edit_at_their_next_check(feature, settings):
    """Test transactions never commit, so this process's on-commit invalidation never fires:
    like a second process, it can only learn of the edit from the database generation."""
    settings.ROUTING_REFRESH_SECONDS = 0  # every call checks the generation (ROUTING_REFRESH_MS=0)
    invalidate_local()
    before = current_table()
    assert before.routes["support-reply"].baseline.provider.base_url == "https://api.openai.com/v1"
    epoch = routing.local_epoch()

    provider = Provider.objects.get(name="OpenAI")
    provider.base_url = "https://eu.api.openai.com/v1"
    registry.provider_save(provider=provider, actor=None, reason="EU data residency")

    assert routing.local_epoch() == epoch  # nothing told this process directly
    assert _generation() > before.generation
    after = current_table()
    assert after.routes["support-reply"].baseline.provider.base_url == (
        "https://eu.api.openai.com/v1"
    )


def test_a_model_version_edit_moves_the_generation(feature):
    generation = _generation()
    version = feature.served_config.model_version
    version.display_name = "GPT-4o (May)"
    registry.model_version_save(version=version, actor=None)
    assert _generation() == generation + 1
