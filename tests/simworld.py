"""A simulator provider on a given server and a config on one of its model ids: the world most
multi-process tests start from (gateways and workers that reach the simulator over HTTP)."""

from registry.models import ModelConfig, ModelVersion, Provider
from registry.services import registry


def simulator_config(
    server_url: str,
    *,
    model_id: str = "sim-fast-2025-01-01",
    name: str = "fast",
    system_prompt: str = "You help.",
) -> ModelConfig:
    provider = registry.provider_save(
        provider=Provider(
            name="Simulator",
            api_style="openai_chat",
            is_simulator=True,
            base_url=f"{server_url}/simulator/v1",
            timeout=10,
        ),
        actor=None,
    )
    version = registry.model_version_save(
        version=ModelVersion(provider=provider, model_id=model_id), actor=None
    )
    return registry.config_create(
        config=ModelConfig(name=name, model_version=version, system_prompt=system_prompt),
        actor=None,
    )
