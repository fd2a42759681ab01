"""The pinning rule per vendor: tables of real ids (as the vendors' public docs name them)."""

import re

import pytest
from django.core.exceptions import ValidationError

from registry.models import ModelVersion, Provider
from registry.pinning import FloatingAliasError, PinningContext, check_pinned
from registry.services import registry

OPENAI = PinningContext(api_style="openai_chat", base_url="https://api.openai.com/v1")
AZURE = PinningContext(api_style="openai_chat", base_url="https://acme.openai.azure.com/openai/v1")
ANTHROPIC = PinningContext(api_style="anthropic_messages", base_url="https://api.anthropic.com")
ANY_CLAUDE = PinningContext(api_style="anthropic_messages")  # a gateway: any form passes through
BEDROCK = PinningContext(
    api_style="anthropic_messages", base_url="https://bedrock-runtime.us-east-1.amazonaws.com"
)
VERTEX = PinningContext(
    api_style="anthropic_messages", base_url="https://us-east5-aiplatform.googleapis.com/v1"
)
GEMINI = PinningContext(
    api_style="openai_chat", base_url="https://generativelanguage.googleapis.com/v1beta/openai"
)
MISTRAL = PinningContext(api_style="openai_chat", base_url="https://api.mistral.ai/v1")
SIMULATOR = PinningContext(api_style="openai_chat", base_url="http://127.0.0.1:8000/simulator/v1")


def hosted(revision: str) -> PinningContext:
    return PinningContext(api_style="openai_chat", self_hosted=True, weights_revision=revision)


PINNED = {
    "openai": [
        (i, OPENAI)
        for i in [
            "gpt-4o-2024-08-06",
            "gpt-4o-2024-05-13",
            "gpt-4o-2024-11-20",
            "gpt-4o-mini-2024-07-18",
            "gpt-4-turbo-2024-04-09",
            "gpt-4-0613",
            "gpt-4-0125-preview",
            "gpt-4-1106-vision-preview",
            "gpt-3.5-turbo-0125",
            "gpt-4.1-2025-04-14",
            "gpt-4.5-preview-2025-02-27",
            "gpt-5-2025-08-07",
            "o1-2024-12-17",
            "o3-mini-2025-01-31",
            "o4-mini-2025-04-16",
            "gpt-4o-audio-preview-2024-12-17",
            "ft:gpt-4o-2024-08-06:acme::AbC123xy",
        ]
    ]
    + [("gpt-4o-2024-08-06", AZURE), ("gpt-35-turbo-0125", AZURE)],
    "anthropic": [
        ("claude-3-haiku-20240307", ANTHROPIC),
        ("claude-3-opus-20240229", ANTHROPIC),
        ("claude-3-5-sonnet-20241022", ANTHROPIC),
        ("claude-3-7-sonnet-20250219", ANTHROPIC),
        ("claude-sonnet-4-20250514", ANTHROPIC),
        ("claude-opus-4-1-20250805", ANTHROPIC),
        ("claude-opus-4-6", ANTHROPIC),  # documented dateless snapshot
        # Previously refused: Bedrock and Vertex forms of dated ids.
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", BEDROCK),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", BEDROCK),
        ("anthropic.claude-3-haiku-20240307-v1:0", BEDROCK),
        ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", BEDROCK),
        ("eu.anthropic.claude-sonnet-4-20250514-v1:0", BEDROCK),
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", BEDROCK),
        ("claude-haiku-4-5@20251001", VERTEX),
        ("claude-sonnet-4-5@20250929", VERTEX),
        ("claude-3-5-sonnet-v2@20241022", VERTEX),
        ("claude-opus-4@20250514", VERTEX),
        ("claude-opus-4-6", VERTEX),
        # An unknown host (a gateway) passes each platform's form through.
        ("anthropic.claude-opus-4-1-20250805-v1:0", ANY_CLAUDE),
        ("claude-3-7-sonnet@20250219", ANY_CLAUDE),
    ],
    "google": [
        (i, GEMINI)
        for i in [
            "gemini-1.5-pro-002",  # previously refused
            "gemini-1.5-pro-001",
            "gemini-1.5-flash-002",
            "gemini-1.5-flash-001",
            "gemini-1.5-flash-8b-001",
            "gemini-1.0-pro-002",
            "gemini-2.0-flash-001",
            "gemini-2.0-flash-lite-001",
            "gemini-2.5-pro-preview-06-05",
            "gemini-2.5-pro-preview-05-06",
            "gemini-2.5-flash-preview-04-17",
            "gemini-2.5-flash-preview-05-20",
            "gemini-2.5-flash-preview-09-2025",
            "gemini-2.0-flash-lite-preview-02-05",
            "gemini-2.5-pro",  # from 2.5 on the dateless id is the stable version
            "models/gemini-1.5-pro-002",
            "gemini-embedding-001",
        ]
    ]
    + [("gemini-2.0-flash-001", VERTEX)],
    "mistral": [
        (i, MISTRAL)
        for i in [
            "mistral-large-2411",
            "mistral-large-2407",
            "mistral-small-2409",
            "mistral-small-2501",
            "mistral-small-2503",
            "mistral-medium-2505",
            "codestral-2501",
            "codestral-2405",
            "ministral-8b-2410",
            "ministral-3b-2410",
            "pixtral-12b-2409",
            "pixtral-large-2411",
            "mistral-saba-2502",
            "magistral-medium-2506",
            "devstral-small-2505",
            "open-mistral-nemo-2407",
            "mistral-embed-2312",
        ]
    ],
    "self_hosted": [
        ("llama-3.1-8b-instruct", hosted("5206a32e0bd3067aef1ce90f5528ade7d866253f")),
        ("my-finetune", hosted("a1b2c3d")),
        ("qwen2.5:7b", hosted("sha256:" + "8f" * 32)),
        ("Meta-Llama-3-8B", hosted("E1945C4")),
    ],
    "simulator": [("sim-chat-2025-01-15", SIMULATOR), ("sim-fast-2025-01-01", SIMULATOR)],
}

# (model id, context, words the error must contain: the reason and a pinned suggestion)
REFUSED = {
    "openai": [
        ("gpt-4o", OPENAI, ["floating alias", "'gpt-4o-2024-08-06'"]),
        ("gpt-4o-mini", OPENAI, ["'gpt-4o-mini-2024-07-18'"]),
        ("gpt-4", OPENAI, ["'gpt-4-0613'"]),
        ("gpt-4-turbo", OPENAI, ["'gpt-4-turbo-2024-04-09'"]),
        ("gpt-4-turbo-preview", OPENAI, ["'gpt-4-0125-preview'"]),
        ("gpt-3.5-turbo", OPENAI, ["'gpt-3.5-turbo-0125'"]),
        ("gpt-4.1", OPENAI, ["'gpt-4.1-2025-04-14'"]),
        ("gpt-5", OPENAI, ["'gpt-5-2025-08-07'"]),
        ("o1-preview", OPENAI, ["'o1-preview-2024-09-12'"]),
        ("o3", OPENAI, ["'o3-2025-04-16'"]),
        ("chatgpt-4o-latest", OPENAI, ["latest", "'gpt-4o-2024-08-06'"]),
        ("gpt-5-chat-latest", OPENAI, ["latest", "'gpt-5-2025-08-07'"]),
        ("gpt-4o-20240806", OPENAI, ["no dated snapshot", "'gpt-4o-2024-08-06'"]),
        ("gpt-4-2411", OPENAI, ["'gpt-4-0613'"]),  # four digits that are no MMDD
        ("gpt-4o-mini-search", OPENAI, ["'gpt-4o-mini-search-YYYY-MM-DD'"]),
        ("gpt-4o", AZURE, ["deployment name", "'gpt-4o-2024-08-06'", "No autoupgrade"]),
        ("prod-chat", AZURE, ["deployment name", "'prod-chat-YYYY-MM-DD'"]),
    ],
    "anthropic": [
        ("claude-sonnet-4-5", ANTHROPIC, ["floating alias", "'claude-sonnet-4-5-20250929'"]),
        ("claude-3-5-sonnet-latest", ANTHROPIC, ["latest", "'claude-3-5-sonnet-20241022'"]),
        ("claude-sonnet-4-0", ANTHROPIC, ["'claude-sonnet-4-20250514'"]),
        ("claude-opus-4-1", ANTHROPIC, ["'claude-opus-4-1-20250805'"]),
        ("claude-3-5-sonnet-2024-10-22", ANTHROPIC, ["YYYYMMDD", "'claude-3-5-sonnet-20241022'"]),
        ("claude-instant", ANTHROPIC, ["no snapshot date", "'claude-instant-YYYYMMDD'"]),
        (
            "anthropic.claude-sonnet-4-5",
            BEDROCK,
            ["floating alias", "'anthropic.claude-sonnet-4-5-20250929-v1:0'"],
        ),
        (
            "us.anthropic.claude-haiku-4-5",
            BEDROCK,
            ["'us.anthropic.claude-haiku-4-5-20251001-v1:0'"],
        ),
        (
            "anthropic.claude-sonnet-4-5-20250929",
            BEDROCK,
            ["version suffix", "'anthropic.claude-sonnet-4-5-20250929-v1:0'"],
        ),
        ("claude-haiku-4-5", VERTEX, ["'claude-haiku-4-5@20251001'"]),
        ("claude-3-5-sonnet-latest", VERTEX, ["latest", "'claude-3-5-sonnet-v2@20241022'"]),
        (
            "claude-sonnet-4-5-20250929@20250929",
            ANY_CLAUDE,
            ["date twice", "'claude-sonnet-4-5@20250929'"],
        ),
        # The right snapshot in another platform's form: the host's own form is suggested.
        ("claude-sonnet-4-5-20250929", VERTEX, ["Vertex AI", "'claude-sonnet-4-5@20250929'"]),
        ("claude-haiku-4-5@20251001", ANTHROPIC, ["'claude-haiku-4-5-20251001'"]),
        (
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
            VERTEX,
            ["'claude-3-5-sonnet-v2@20241022'"],
        ),
        (
            "claude-sonnet-4-20250514",
            BEDROCK,
            ["Amazon Bedrock", "'anthropic.claude-sonnet-4-20250514-v1:0'"],
        ),
    ],
    "google": [
        ("gemini-exp-1206", GEMINI, ["experimental", "'gemini-2.5-pro'"]),
        ("gemini-2.0-flash-exp", GEMINI, ["experimental", "'gemini-2.0-flash-001'"]),
        ("gemini-2.0-flash-thinking-exp-01-21", GEMINI, ["experimental", "'gemini-2.0-flash-001'"]),
        ("gemini-2.5-pro-exp-03-25", GEMINI, ["experimental", "'gemini-2.5-pro'"]),
        ("gemini-1.5-flash-8b-exp-0924", GEMINI, ["experimental", "'gemini-1.5-flash-8b-001'"]),
        ("gemini-1.5-pro", GEMINI, ["auto-updated", "'gemini-1.5-pro-002'"]),
        ("gemini-1.5-flash", GEMINI, ["auto-updated", "'gemini-1.5-flash-002'"]),
        ("gemini-pro", GEMINI, ["auto-updated", "'gemini-1.0-pro-002'"]),
        ("gemini-1.0-pro", GEMINI, ["'gemini-1.0-pro-002'"]),
        ("gemini-2.0-flash", GEMINI, ["'gemini-2.0-flash-001'"]),
        ("gemini-2.0-flash-lite", VERTEX, ["'gemini-2.0-flash-lite-001'"]),
        ("gemini-1.5-pro-latest", GEMINI, ["latest", "'gemini-1.5-pro-002'"]),
        ("gemini-flash-latest", GEMINI, ["latest", "'gemini-2.5-flash'"]),
        ("gemini-pro-latest", GEMINI, ["latest", "'gemini-2.5-pro'"]),
        ("gemini-3-pro-preview", GEMINI, ["preview without a release date"]),
        ("gemini-2.5-flash-preview-13-40", GEMINI, ["preview"]),
    ],
    "mistral": [
        ("mistral-large-latest", MISTRAL, ["latest", "'mistral-large-2411'"]),
        ("mistral-small-latest", MISTRAL, ["latest", "'mistral-small-2503'"]),
        ("codestral-latest", MISTRAL, ["latest", "'codestral-2501'"]),
        ("pixtral-large-latest", MISTRAL, ["latest", "'pixtral-large-2411'"]),
        ("ministral-8b-latest", MISTRAL, ["latest", "'ministral-8b-2410'"]),
        ("magistral-medium-latest", MISTRAL, ["latest", "'magistral-medium-2506'"]),
        ("mistral-medium", MISTRAL, ["floating alias", "'mistral-medium-2505'"]),
        ("mistral-small", MISTRAL, ["'mistral-small-2503'"]),
        ("mistral-tiny", MISTRAL, ["'open-mistral-nemo-2407'"]),
        ("codestral", MISTRAL, ["'codestral-2501'"]),
        ("mistral-embed", MISTRAL, ["'mistral-embed-2312'"]),
        ("mistral-large-2024-11-18", MISTRAL, ["-YYMM", "'mistral-large-2411'"]),
        ("mistral-large-20241118", MISTRAL, ["'mistral-large-2411'"]),
        ("mistral-large-1306", MISTRAL, ["'mistral-large-2411'"]),  # no YYMM before 2023
        ("mistral-small-2413", MISTRAL, ["'mistral-small-2503'"]),  # month 13
        ("devstral-small", OPENAI, ["Mistral", "'devstral-small-2507'"]),  # the id says Mistral
    ],
    "self_hosted": [
        ("llama3:latest", hosted("a1b2c3d"), ["latest"]),
        ("llama-3.1-8b", hosted(""), ["weights revision"]),
        ("llama-3.1-8b", hosted("main"), ["'main' is a branch or tag", "commit hash"]),
        ("llama-3.1-8b", hosted("master"), ["branch or tag"]),
        ("llama-3.1-8b", hosted("v1.0"), ["branch or tag"]),
        ("llama-3.1-8b", hosted("refs/pr/12"), ["branch or tag"]),
        ("llama-3.1-8b", hosted("release-2024-07"), ["branch or tag"]),
        ("llama-3.1-8b", hosted("abc123"), ["7-40 hex"]),  # too short to name one commit
        ("llama-3.1-8b", hosted("a" * 41), ["7-40 hex"]),
        ("llama-3.1-8b", hosted("sha256:ab"), ["not a whole sha256 digest"]),
        ("llama-3.1-8b", hosted("sha256:" + "g" * 64), ["not a whole sha256 digest"]),
    ],
}


def _table(table: dict) -> list:
    return [
        pytest.param(*case, id=f"{vendor}:{case[0]}")
        for vendor, cases in table.items()
        for case in cases
    ]


@pytest.mark.parametrize(("model_id", "ctx"), _table(PINNED))
def test_it_accepts_each_vendors_pinned_form(model_id, ctx):
    check_pinned(model_id, ctx)


@pytest.mark.parametrize(("model_id", "ctx", "words"), _table(REFUSED))
def test_it_refuses_a_moving_id_with_the_reason_and_a_pinned_form(model_id, ctx, words):
    with pytest.raises(FloatingAliasError) as info:
        check_pinned(model_id, ctx)
    for word in words:
        assert word in str(info.value)


_DATE = re.compile(r"\d{8}|\d{4}-\d{2}-\d{2}|YYYYMMDD|YYYY-MM-DD")


@pytest.mark.parametrize(("model_id", "ctx", "words"), _table(REFUSED))
def test_a_suggestion_never_carries_two_dates(model_id, ctx, words):
    with pytest.raises(FloatingAliasError) as info:
        check_pinned(model_id, ctx)
    suggestions = re.findall(r"'([^']+)'", str(info.value))[1:]  # the first quote is the id
    for suggestion in suggestions:
        assert len(_DATE.findall(suggestion)) <= 1, suggestion


def test_each_vendor_table_has_at_least_15_cases():
    for vendor in ("openai", "anthropic", "google", "mistral"):
        assert len(PINNED[vendor]) + len(REFUSED[vendor]) >= 15 * 2, vendor


def test_a_branch_name_as_weights_revision_is_refused_on_the_revision_field(db):
    local = registry.provider_save(
        provider=Provider(
            name="vLLM",
            api_style="openai_chat",
            base_url="http://127.0.0.1:9000/v1",
            self_hosted=True,
        ),
        actor=None,
    )
    with pytest.raises(ValidationError) as info:
        registry.model_version_save(
            version=ModelVersion(provider=local, model_id="llama-3.1-8b", weights_revision="main"),
            actor=None,
        )
    assert "branch or tag" in info.value.message_dict["weights_revision"][0]
    assert not ModelVersion.objects.exists()


def test_a_bedrock_provider_registers_the_bedrock_id_and_refuses_the_vertex_one(db):
    bedrock = registry.provider_save(
        provider=Provider(
            name="Bedrock",
            api_style="anthropic_messages",
            base_url="https://bedrock-runtime.us-east-1.amazonaws.com",
        ),
        actor=None,
    )
    ok = registry.model_version_save(
        version=ModelVersion(
            provider=bedrock, model_id="us.anthropic.claude-sonnet-4-5-20250929-v1:0"
        ),
        actor=None,
    )
    assert ok.pk
    with pytest.raises(ValidationError) as info:
        registry.model_version_save(
            version=ModelVersion(provider=bedrock, model_id="claude-sonnet-4-5@20250929"),
            actor=None,
        )
    assert "'anthropic.claude-sonnet-4-5-20250929-v1:0'" in info.value.message_dict["model_id"][0]
