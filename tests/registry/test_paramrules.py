"""Parameter rules per model family: the table of families, and a config its model would refuse
is refused at save time naming the parameter and the fix (service and admin alike)."""

import pytest
from django.core.exceptions import ValidationError

from registry.models import ModelConfig, ModelVersion, Provider
from registry.paramrules import Family, family_of, request_params_for
from registry.services import registry


@pytest.mark.parametrize(
    ("model_id", "api_style", "family"),
    [
        ("gpt-4o-2024-08-06", "openai_chat", Family.CLASSIC),
        ("gpt-4o-mini-2024-07-18", "openai_chat", Family.CLASSIC),
        ("gpt-4.1-2025-04-14", "openai_chat", Family.CLASSIC),
        ("o1-2024-12-17", "openai_chat", Family.REASONING),
        ("o1-mini-2024-09-12", "openai_chat", Family.REASONING),
        ("o3-mini-2025-01-31", "openai_chat", Family.REASONING),
        ("o3-2025-04-16", "openai_chat", Family.REASONING),
        ("o4-mini-2025-04-16", "openai_chat", Family.REASONING),
        ("gpt-5-2025-08-07", "openai_chat", Family.REASONING),
        ("gpt-5-mini-2025-08-07", "openai_chat", Family.REASONING),
        ("gpt-5.1-2025-11-13", "openai_chat", Family.REASONING),
        # The non-reasoning chat model of the gpt-5 generation takes a temperature.
        ("gpt-5-chat-2025-08-07", "openai_chat", Family.CLASSIC),
        ("claude-sonnet-4-5-20250929", "anthropic_messages", Family.ANTHROPIC),
        # A Claude model behind an OpenAI-compatible gateway speaks the OpenAI protocol.
        ("claude-sonnet-4-5-20250929", "openai_chat", Family.CLASSIC),
        # Simulator ids and self-hosted names are classic, even when they look like OpenAI's.
        ("sim-chat-2025-01-15", "openai_chat", Family.CLASSIC),
        ("sim-chat-2025-10-01", "openai_chat", Family.CLASSIC),
        ("openai/o3-mini", "openai_chat", Family.CLASSIC),
        ("o3mini-finetune", "openai_chat", Family.CLASSIC),
        ("gpt-50-local", "openai_chat", Family.CLASSIC),
    ],
)
def test_the_family_of_a_model(model_id, api_style, family):
    assert family_of(model_id, api_style) is family


def test_a_reasoning_call_renames_max_tokens_and_drops_sampling_parameters():
    sent, dropped = request_params_for(
        Family.REASONING,
        {"max_tokens": 50, "temperature": 0.2, "top_p": 0.9, "logit_bias": {"1": 5}, "seed": 7},
    )
    assert sent == {"max_completion_tokens": 50, "seed": 7}
    assert dropped == ("logit_bias", "temperature", "top_p")


def test_a_classic_call_is_sent_as_it_came():
    params = {"max_tokens": 50, "temperature": 0.2, "top_p": 0.9, "presence_penalty": 1.0}
    assert request_params_for(Family.CLASSIC, params) == (params, ())


def test_an_anthropic_call_keeps_the_configs_temperature_over_a_requests_top_p():
    sent, dropped = request_params_for(
        Family.ANTHROPIC, {"temperature": 0.3, "top_p": 0.9, "seed": 1, "stop": "END"}
    )
    assert sent == {"temperature": 0.3, "stop": "END"}
    assert dropped == ("seed", "top_p")


# --- save time --------------------------------------------------------------------------------


@pytest.fixture
def anthropic(db) -> Provider:
    return registry.provider_save(
        provider=Provider(
            name="Anthropic",
            api_style=Provider.ApiStyle.ANTHROPIC_MESSAGES,
            base_url="https://api.anthropic.test/v1",
            api_key_env="ANTHROPIC_API_KEY",
        ),
        actor=None,
    )


def _create(version: ModelVersion, **fields) -> ModelConfig:
    return registry.config_create(
        config=ModelConfig(name="c", model_version=version, **fields), actor=None
    )


@pytest.mark.parametrize("model_id", ["o3-mini-2025-01-31", "gpt-5-2025-08-07"])
def test_a_temperature_on_a_reasoning_model_is_refused_naming_it(make_version, model_id):
    with pytest.raises(ValidationError) as info:
        _create(make_version(model_id), temperature=0.2, max_tokens=200)
    assert info.value.message_dict == {
        "temperature": [
            f"{model_id} does not take a temperature (OpenAI reasoning models); leave it empty."
        ]
    }
    assert not ModelConfig.objects.exists()


def test_a_reasoning_config_without_temperature_is_saved_with_its_token_limit(make_version):
    config = _create(make_version("o3-mini-2025-01-31"), max_tokens=200)
    assert config.parameters() == {"max_tokens": 200}


def test_an_anthropic_temperature_above_one_is_refused(anthropic):
    version = registry.model_version_save(
        version=ModelVersion(provider=anthropic, model_id="claude-sonnet-4-5-20250929"),
        actor=None,
    )
    with pytest.raises(ValidationError) as info:
        _create(version, temperature=1.5)
    assert "from 0 to 1" in " ".join(info.value.message_dict["temperature"])
    # Within Anthropic's range, and without max_tokens (the client supplies the default).
    assert _create(version, temperature=1.0).temperature == 1.0


def test_the_admin_shows_the_refusal_on_the_field(make_version, client_for):
    version = make_version("o3-mini-2025-01-31")
    response = client_for("admin").post(
        "/admin/rollouts/modelconfig/add/",
        {
            "name": "o3 try",
            "model_version": version.pk,
            "system_prompt": "",
            "temperature": "0.2",
            "max_tokens": "",
            "response_format": "text",
            "json_schema": "null",
            "reason": "",
        },
    )
    assert response.status_code == 200
    assert "does not take a temperature" in response.content.decode()
    assert not ModelConfig.objects.filter(name="o3 try").exists()
