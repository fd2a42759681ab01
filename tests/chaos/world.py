"""The rows the process-level chaos tests share: a simulator provider served by a uvicorn process
of the test (its port chosen before it starts), a feature, an API token and a rollout."""

from dataclasses import dataclass
from typing import Any

import httpx

from registry.models import Feature, ModelConfig, Rollout
from registry.services import registry
from rollouts.services import rollouts
from tests.gates import pass_gate
from tests.simworld import simulator_config
from tests.stages import serve_candidate
from traffic.tokens import token_create


@dataclass
class World:
    feature: Feature
    baseline: ModelConfig
    candidate: ModelConfig
    token: str
    rollout: Rollout | None = None


def simulated_world(
    simulator_port: int,
    *,
    rollout: str = "",
    shadow_percent: float = 100.0,
    percent: float = 0.0,
) -> World:
    """A feature served by the instant simulator model; `rollout="shadow"` or `"canary"` adds a
    rollout to a second config of it (canary at `percent`)."""
    baseline = simulator_config(f"http://127.0.0.1:{simulator_port}")
    candidate = registry.config_create(
        config=ModelConfig(
            name="fast v2", model_version=baseline.model_version, system_prompt="You help, briefly."
        ),
        actor=None,
    )
    feature = registry.feature_create(
        key="support-reply", name="Support", served_config=baseline, actor=None
    )
    _token, plaintext = token_create(name="app", features=[feature], actor=None)
    world = World(feature=feature, baseline=baseline, candidate=candidate, token=plaintext)
    if rollout:
        created = rollouts.rollout_create(
            feature=feature, candidate=candidate, actor=None, shadow_sample_percent=shadow_percent
        )
        pass_gate(created)
        world.rollout = rollouts.rollout_start_shadow(rollout=created, actor=None)
        if rollout == "canary":
            world.rollout = serve_candidate(world.rollout, percent)
    return world


def gateway_call(client: httpx.Client, rid: str) -> httpx.Response:
    return client.post(
        "/v1/chat/completions",
        headers={"X-Request-Id": rid},
        json={
            "model": "support-reply",
            "user": f"user-{rid}",
            "messages": [{"role": "user", "content": f"Where is parcel {rid}?"}],
        },
    )


def ingest_call(client: httpx.Client, rid: str) -> httpx.Response:
    body: dict[str, Any] = {
        "feature": "support-reply",
        "request_id": rid,
        "unit": f"user-{rid}",
        "messages": [{"role": "user", "content": f"Where is parcel {rid}?"}],
        "output": "It ships on Monday.",
        "latency_ms": 120,
    }
    return client.post("/api/v1/ingest", json=body)
