import pytest

from registry.pinning import FloatingAliasError, PinningContext, check_pinned

OPENAI = PinningContext(api_style="openai_chat")
ANTHROPIC = PinningContext(api_style="anthropic_messages")
SELF_HOSTED = PinningContext(
    api_style="openai_chat",
    self_hosted=True,
    weights_revision="abc1234",  # a 7-hex commit
)
SELF_HOSTED_NO_REV = PinningContext(api_style="openai_chat", self_hosted=True)

PINNED = [
    ("gpt-4o-2024-08-06", OPENAI),
    ("gpt-4o-mini-2024-07-18", OPENAI),
    ("gpt-4-0613", OPENAI),
    ("gpt-4-1106-preview", OPENAI),
    ("gpt-3.5-turbo-0125", OPENAI),
    ("o3-mini-2025-01-31", OPENAI),
    ("ft:gpt-4o-2024-08-06:acme::AbC123xy", OPENAI),
    ("claude-3-5-sonnet-20241022", ANTHROPIC),
    ("claude-sonnet-4-5-20250929", ANTHROPIC),
    ("claude-opus-4-6", ANTHROPIC),  # documented dateless snapshot
    ("llama-3.1-8b-instruct", SELF_HOSTED),
    ("my-finetune", SELF_HOSTED),
]

# (model id, context, words the error must contain: the alias and a pinned suggestion)
REFUSED = [
    ("gpt-4o", OPENAI, ["'gpt-4o'", "gpt-4o-2024-08-06"]),
    ("GPT-4O", OPENAI, ["'GPT-4O'", "gpt-4o-2024-08-06"]),
    ("gpt-4o-mini", OPENAI, ["floating alias", "gpt-4o-mini-2024-07-18"]),
    ("chatgpt-4o-latest", OPENAI, ["latest", "gpt-4o-2024-08-06"]),
    ("chat-latest", OPENAI, ["latest", "gpt-4o-2024-08-06"]),
    ("gpt-5", OPENAI, ["'gpt-5'", "gpt-5-2025-08-07"]),
    ("o1", OPENAI, ["'o1'", "o1-2024-12-17"]),
    ("my-model-latest", OPENAI, ["latest", "my-model-YYYY-MM-DD"]),
    ("gpt-4o-mini-search", OPENAI, ["no dated snapshot suffix", "YYYY-MM-DD"]),
    ("claude-3-5-sonnet-latest", ANTHROPIC, ["latest", "claude-3-5-sonnet-20241022"]),
    ("claude-3-opus-latest", ANTHROPIC, ["latest", "claude-3-opus-20240229"]),
    ("claude-sonnet-4-5", ANTHROPIC, ["floating alias", "claude-sonnet-4-5-20250929"]),
    ("claude-opus-4-1", ANTHROPIC, ["floating alias", "claude-opus-4-1-20250805"]),
    ("claude-instant", ANTHROPIC, ["no snapshot date", "claude-instant-YYYYMMDD"]),
    ("claude-3-5-sonnet-2024-10-22", ANTHROPIC, ["no snapshot date"]),
    ("llama3:latest", SELF_HOSTED, ["latest"]),
    ("llama-3.1-8b-instruct", SELF_HOSTED_NO_REV, ["weights revision"]),
    ("", OPENAI, ["not a provider model id"]),
    ("gpt 4o 2024-08-06", OPENAI, ["not a provider model id"]),
]


@pytest.mark.parametrize(("model_id", "ctx"), PINNED)
def test_it_accepts_a_pinned_snapshot(model_id, ctx):
    check_pinned(model_id, ctx)


@pytest.mark.parametrize(("model_id", "ctx", "words"), REFUSED)
def test_it_refuses_a_floating_alias_naming_it_and_a_pinned_form(model_id, ctx, words):
    with pytest.raises(FloatingAliasError) as info:
        check_pinned(model_id, ctx)
    for word in words:
        assert word in str(info.value)
