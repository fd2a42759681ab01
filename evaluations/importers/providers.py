"""promptfoo `providers` matched to registered model versions, by model id.

Nothing is created for a provider: a matched one lists the configs to run the suite on; a
floating id (`openai:gpt-4`, `...-latest`) is reported with the pinned id to register instead,
by the same pinning rule as everywhere else (registry.pinning), never registered as is.
"""

from typing import Any

from evaluations.importers.plan import ImportPlan, ProviderPlan
from registry.models import ModelConfig, ModelVersion
from registry.pinning import FloatingAliasError, PinningContext, check_pinned

# Longest first: "openai:chat:" before "openai:". The value is the pinning context that says
# which vendor's shape the id has (a Bedrock or Vertex host, Anthropic's API style).
_PREFIXES: tuple[tuple[str, PinningContext], ...] = (
    ("openai:chat:", PinningContext(api_style="openai_chat")),
    ("openai:responses:", PinningContext(api_style="openai_chat")),
    ("openai:", PinningContext(api_style="openai_chat")),
    ("anthropic:messages:", PinningContext(api_style="anthropic_messages")),
    ("anthropic:", PinningContext(api_style="anthropic_messages")),
    (
        "vertex:",
        PinningContext(
            api_style="openai_chat", base_url="https://us-central1-aiplatform.googleapis.com"
        ),
    ),
    (
        "bedrock:",
        PinningContext(
            api_style="anthropic_messages",
            base_url="https://bedrock-runtime.us-east-1.amazonaws.com",
        ),
    ),
    ("google:", PinningContext(api_style="openai_chat")),
    ("mistral:", PinningContext(api_style="openai_chat")),
)
_SUPPORTED = "openai:, anthropic:messages:, vertex:, bedrock:, google:, mistral:"
# promptfoo providers that are not a model at all: what each one is, for the warning.
_NOT_A_MODEL = (
    ("echo", "promptfoo's echo provider, which answers with the prompt itself"),
    ("sequence", "a sequence of other providers"),
    ("exec:", "a command promptfoo runs"),
    ("python:", "a Python script promptfoo runs"),
    ("file://", "code promptfoo runs"),
    ("golang:", "a Go program promptfoo runs"),
    ("webhook:", "a webhook"),
    ("http", "an HTTP endpoint"),
    ("websocket", "a WebSocket endpoint"),
)


def _not_a_model(given: str) -> str:
    for prefix, what in _NOT_A_MODEL:
        if given == prefix or given.startswith(prefix):
            return (
                f"'{given}' is not a model: it is {what}. There is nothing to match; the suite "
                "runs on registered model configs (pick them when you start a run or gate)"
            )
    return ""


def _provider_id(entry: object) -> tuple[str, str]:
    """(id, problem) for a provider entry: a string, {id, label, config}, or {id: {config}}."""
    if isinstance(entry, str):
        return entry, ""
    if isinstance(entry, dict):
        if isinstance(entry.get("id"), str):
            return entry["id"], ""
        if len(entry) == 1 and isinstance(next(iter(entry)), str):
            return next(iter(entry)), ""
    return "", "give each provider as an id such as 'openai:gpt-4o-2024-08-06' or {id: ...}"


def _strip(given: str) -> tuple[str, PinningContext | None]:
    for prefix, ctx in _PREFIXES:
        if given.startswith(prefix):
            return given[len(prefix) :], ctx
    return given, None


def match_providers(raw: Any, plan: ImportPlan) -> None:
    """Fill plan.providers (and warnings) from the config's `providers` value."""
    if raw is None:
        return
    entries = raw if isinstance(raw, list) else [raw]
    for index, entry in enumerate(entries):
        given, problem = _provider_id(entry)
        where = f"providers[{index}]"
        if problem:
            plan.warn(where, f"{problem}; it was left out")
            continue
        model_id, ctx = _strip(given)
        if note := _not_a_model(given):
            plan.providers.append(ProviderPlan(given=given, model_id="", note=note))
            plan.warn(where, note)
            continue
        if ctx is None:
            note = (
                f"'{given}' is not a model provider Rollout Desk matches ({_SUPPORTED}); "
                "it was left out"
            )
            plan.providers.append(ProviderPlan(given=given, model_id="", note=note))
            plan.warn(where, note)
            continue
        try:
            check_pinned(model_id, ctx)
        except FloatingAliasError as exc:
            note = f"{exc} It was not matched; register the pinned version and run on that."
            plan.providers.append(ProviderPlan(given=given, model_id=model_id, note=note))
            plan.warn(f"{where} '{given}'", note)
            continue
        versions = ModelVersion.objects.filter(model_id=model_id)
        configs = list(
            ModelConfig.objects.filter(model_version__in=versions, archived=False)
            .order_by("name")
            .values_list("name", flat=True)
        )
        if configs:
            note = ""
        elif versions.exists():
            note = f"model version {model_id} is registered, but no active config uses it yet"
        else:
            note = f"model version {model_id} is not registered; register it to run the suite on it"
        plan.providers.append(
            ProviderPlan(given=given, model_id=model_id, configs=configs, note=note)
        )
        if isinstance(entry, dict) and entry.get("config"):
            plan.warn(
                f"{where} '{given}'",
                "its config (temperature, max tokens, ...) is not copied: a model config in the "
                "registry holds the parameters a run uses",
            )
