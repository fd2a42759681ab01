"""Run by the benchmarks inside the product's environment: make a feature served by the stub."""

import json
import os
import sys

import django

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rollout_site.settings")
django.setup()

from registry.models import ModelConfig, ModelVersion, Provider  # noqa: E402
from registry.services import registry  # noqa: E402
from rollouts.services import rollouts  # noqa: E402
from tests.gates import pass_gate  # noqa: E402
from traffic.tokens import token_create  # noqa: E402

stub_url, mode = sys.argv[1], sys.argv[2]
provider = registry.provider_save(
    provider=Provider(name="stub", api_style="openai_chat", base_url=stub_url, timeout=30),
    actor=None,
)
configs = []
for model_id in ("stub-model-2025-01-01", "stub-model-2025-06-01"):
    version = registry.model_version_save(
        version=ModelVersion(provider=provider, model_id=model_id), actor=None
    )
    configs.append(
        registry.config_create(
            config=ModelConfig(name=model_id, model_version=version, system_prompt="Be brief."),
            actor=None,
        )
    )
feature = registry.feature_create(key="bench", name="bench", served_config=configs[0], actor=None)
rollout = None
if mode == "shadow":
    rollout = rollouts.rollout_create(feature=feature, candidate=configs[1], actor=None)
    pass_gate(rollout)  # the shadow benchmarks measure shadow, not the eval gate
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
_, token = token_create(name="bench", features=[feature], actor=None)
print(
    json.dumps(
        {"token": token, "feature": "bench", "rollout": str(rollout.code) if rollout else None}
    )
)
