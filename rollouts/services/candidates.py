"""Which configs may be a feature's candidate, and how a candidate differs from the baseline.

A feature's lineage: its served and previous configs and the baseline and candidate of every
rollout it had, with their `revision_of` ancestors and every revision made of them (a "new
config from the baseline" is one). A config of another feature's lineage is refused: its prompt
was written for another place in the product. A config no feature has used yet is allowed (it
was made in the admin for this upgrade).
"""

import difflib
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from registry.models import Feature, ModelConfig, ModelVersion, Rollout
from registry.services.registry import config_create


def _expand(seeds: set[int]) -> set[int]:
    """Seeds, their ancestors and their descendants through `revision_of`."""
    found = set(seeds)
    frontier = set(seeds)
    while frontier:  # ancestors
        parents = set(
            ModelConfig.objects.filter(pk__in=frontier, revision_of__isnull=False).values_list(
                "revision_of_id", flat=True
            )
        )
        frontier = parents - found
        found |= frontier
    frontier = set(seeds)
    while frontier:  # descendants
        children = set(
            ModelConfig.objects.filter(revision_of__in=frontier).values_list("pk", flat=True)
        )
        frontier = children - found
        found |= frontier
    return found


def lineage_ids(feature: Feature) -> set[int]:
    seeds = {feature.served_config_id}
    if feature.previous_config_id:
        seeds.add(feature.previous_config_id)
    for baseline, candidate in Rollout.objects.filter(feature=feature).values_list(
        "baseline_id", "candidate_id"
    ):
        seeds |= {baseline, candidate}
    return _expand(seeds)


def lineage_owner(config: ModelConfig, *, besides: Feature) -> Feature | None:
    """Another feature whose lineage holds `config` (None: only `besides`'s, or nobody's)."""
    for other in Feature.objects.exclude(pk=besides.pk).order_by("key"):
        if config.pk in lineage_ids(other):
            return other
    return None


def candidate_refusal(feature: Feature, config: ModelConfig) -> str | None:
    """Why `config` may not be `feature`'s candidate, or None."""
    if config.pk in lineage_ids(feature):
        return None
    owner = lineage_owner(config, besides=feature)
    if owner is None:
        return None
    return (
        f"'{config.name}' belongs to feature '{owner.key}' (its prompt was written for it); pick "
        f"one of '{feature.key}''s own configs or make a new config from the baseline."
    )


@dataclass(frozen=True)
class Choice:
    config: ModelConfig
    origin: str  # why it is offered, in words


def candidate_choices(feature: Feature, *, exclude: tuple[int, ...] = ()) -> list[Choice]:
    """The picker's configs for `feature`: its own lineage first, then configs no feature uses."""
    own = lineage_ids(feature)
    others: set[int] = set()
    for other in Feature.objects.exclude(pk=feature.pk):
        others |= lineage_ids(other)
    skip = {feature.served_config_id, *exclude}
    configs = (
        ModelConfig.objects.filter(archived=False)
        .exclude(pk__in=skip)
        .select_related("model_version", "revision_of")
        .order_by("-created")[:500]
    )
    choices = []
    for config in configs:
        if config.pk in own:
            origin = f"revision of {config.revision_of.name}" if config.revision_of else "used"
            choices.append(Choice(config, f"{feature.key}: {origin}"))
        elif config.pk not in others:
            choices.append(Choice(config, "not used by any feature yet"))
    choices.sort(key=lambda c: c.origin.startswith("not used"))
    return choices


PARAMETERS = ("temperature", "max_tokens", "response_format", "json_schema")


def config_differences(baseline: ModelConfig, candidate: ModelConfig) -> dict[str, Any]:
    """Model, prompt diff (unified, line by line) and parameters that differ."""
    model = None
    if baseline.model_version_id != candidate.model_version_id:
        model = (baseline.model_version.model_id, candidate.model_version.model_id)
    lines = list(
        difflib.unified_diff(
            baseline.system_prompt.splitlines(),
            candidate.system_prompt.splitlines(),
            "baseline",
            "candidate",
            lineterm="",
            n=2,
        )
    )[2:]  # the ---/+++ header names nothing a reader needs
    prompt = [{"kind": _kind(line), "text": line} for line in lines]
    params = [
        {"name": name, "baseline": getattr(baseline, name), "candidate": getattr(candidate, name)}
        for name in PARAMETERS
        if getattr(baseline, name) != getattr(candidate, name)
    ]
    return {
        "model": model,
        "prompt": prompt,
        "parameters": params,
        "same": not (model or prompt or params),
    }


def _kind(line: str) -> str:
    if line.startswith("@@"):
        return "hunk"
    return {"+": "added", "-": "removed"}.get(line[:1], "same")


@transaction.atomic
def config_from_baseline(
    *,
    feature: Feature,
    actor: Any,
    name: str,
    model_version: ModelVersion,
    system_prompt: str,
    temperature: float | None,
    max_tokens: int | None,
) -> ModelConfig:
    """A new config made for `feature`: a revision of its served config (so it joins the
    lineage), validated by the model's parameter rules (ModelConfig.clean names the field)."""
    base = feature.served_config
    config = ModelConfig(
        name=name.strip() or f"{base.name} (candidate)",
        revision_of=base,
        model_version=model_version,
        system_prompt=system_prompt,
        temperature=temperature,
        max_tokens=max_tokens,
        response_format=base.response_format,
        json_schema=base.json_schema,
    )
    return config_create(config=config, actor=actor, reason=f"New candidate for {feature.key}")
