"""Is a model id pinned to one immutable snapshot, or a floating alias the provider may move?

`check_pinned` is the single rule used by forms, the admin, services, imports and the API. It
knows each vendor's own pinned shape (OpenAI and Azure OpenAI, Anthropic and its Bedrock and
Vertex AI forms, Google Gemini, Mistral) and self-hosted weights revisions, and refuses with an
error that names the id and shows a pinned form in that vendor's shape.

Which vendor: the id's own shape first (a Bedrock `anthropic.` prefix, `claude-`, `gemini-`,
Mistral's family names, `gpt-`/`o3`/`ft:`), because one host may serve several vendors (Vertex
serves Gemini and Claude) and gateways pass ids through; then the provider's host; then its
api_style. Azure's host wins over the id, since there the id is a deployment name.
"""

import re
from urllib.parse import urlsplit

from registry.pinning import anthropic_ids, gemini_ids, mistral_ids, openai_ids
from registry.pinning.base import FloatingAliasError, PinningContext
from registry.pinning.revisions import check_revision

__all__ = ["FloatingAliasError", "PinningContext", "check_pinned", "vendor_of"]

_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")
_OPENAI_FAMILY = re.compile(
    r"^(?:gpt-|chatgpt-|o\d(?:-|$)|ft:|text-embedding-3|omni-moderation|codex-|chat-latest$)"
)


def _host_vendor(base_url: str) -> str:
    """The vendor an API host belongs to, or "" for an unknown host (a gateway, the simulator)."""
    try:
        host = (urlsplit(base_url).hostname or "").lower()
    except ValueError:
        return ""
    if host == "api.openai.com":
        return "openai"
    if host.endswith((".openai.azure.com", ".cognitiveservices.azure.com")):
        return "azure"
    if host == "api.anthropic.com":
        return "anthropic"
    if host.startswith("bedrock-runtime") and host.endswith(".amazonaws.com"):
        return "bedrock"
    if host == "aiplatform.googleapis.com" or host.endswith("-aiplatform.googleapis.com"):
        return "vertex"
    if host == "generativelanguage.googleapis.com":
        return "google"
    if host == "api.mistral.ai":
        return "mistral"
    return ""


def vendor_of(model_id: str, ctx: PinningContext) -> str:
    """One of: openai, azure, anthropic, google, mistral, self_hosted, generic."""
    if ctx.self_hosted:
        return "self_hosted"
    host = _host_vendor(ctx.base_url)
    if host == "azure":
        return "azure"
    lowered = model_id.lower()
    if anthropic_ids.is_bedrock_shape(lowered) or lowered.startswith("claude-"):
        return "anthropic"
    if re.match(r"^(?:publishers/google/)?(?:models/)?gemini-", lowered):
        return "google"
    if mistral_ids.FAMILY.match(lowered):
        return "mistral"
    if _OPENAI_FAMILY.match(lowered):
        return "openai"
    by_host = {"bedrock": "anthropic", "vertex": "google"}.get(host, host)
    if by_host:
        return by_host
    return "anthropic" if ctx.api_style == "anthropic_messages" else "generic"


def _host_form(ctx: PinningContext) -> str:
    """The Anthropic id form the provider's host expects, "" when any form may pass through."""
    host = _host_vendor(ctx.base_url)
    return {"anthropic": "first_party", "bedrock": "bedrock", "vertex": "vertex"}.get(host, "")


def _suggest(model_id: str, vendor: str, ctx: PinningContext) -> str:
    if vendor == "anthropic":
        return anthropic_ids.suggest(model_id, host_form=_host_form(ctx))
    if vendor == "google":
        return gemini_ids.suggest(model_id)
    if vendor == "mistral":
        return mistral_ids.suggest(model_id)
    return openai_ids.suggest(model_id)


def check_pinned(model_id: str, ctx: PinningContext) -> None:
    """Raise FloatingAliasError unless `model_id` names one immutable model snapshot.

    1. Any id containing "latest" floats, whoever hosts it.
    2. A self-hosted server names models freely, so the id proves nothing: the weights revision
       (a commit hash or a sha256 digest, never a branch or tag) is what pins it.
    3. Otherwise the vendor's own pinned shape is required (see the vendor modules).
    """
    if not model_id or not _MODEL_ID.match(model_id):
        raise FloatingAliasError(
            f"Model id {model_id!r} is not a provider model id: use letters, digits and . _ - : / @"
            " with no spaces, e.g. 'gpt-4o-2024-08-06'."
        )
    vendor = vendor_of(model_id, ctx)
    if "latest" in model_id.lower():
        suggestion = (
            "" if vendor == "self_hosted" else f" such as '{_suggest(model_id, vendor, ctx)}'"
        )
        raise FloatingAliasError(
            f"'{model_id}' is a floating alias (it contains 'latest'); pin a dated snapshot"
            f"{suggestion}."
        )
    if vendor == "self_hosted":
        check_revision(model_id, ctx.weights_revision)
    elif vendor == "anthropic":
        anthropic_ids.check(model_id, host_form=_host_form(ctx))
    elif vendor == "google":
        gemini_ids.check(model_id)
    elif vendor == "mistral":
        mistral_ids.check(model_id)
    else:
        openai_ids.check(model_id, azure=vendor == "azure")
