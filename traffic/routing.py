"""The per-process routing table: every feature's Route and every live API token, in memory.

Decisions and token checks read this table without a database query. It is rebuilt when the
database's routing generation moves past the table's: at once in the process that made the change
(on commit), and in every other process within ROUTING_REFRESH_SECONDS, when its next request
checks the generation (one single-row query at most that often).
"""

import hashlib
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from registry.models import ApiToken, Feature, ModelConfig, Rollout, RoutingState
from registry.routing_state import invalidate_local, local_epoch, routing_changed
from traffic.assignment import ConfigView, ProviderView, Route, seed_for
from traffic.redaction import feature_redactor


@dataclass(frozen=True, slots=True)
class TokenView:
    id: int
    name: str
    digest: str
    feature_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class RoutingTable:
    generation: int
    epoch: int  # registry.routing_state.local_epoch() when it was loaded
    routes: dict[str, Route]
    tokens: dict[str, TokenView]


_lock = threading.Lock()
_table: RoutingTable | None = None
_checked_at = 0.0


def config_view(config: ModelConfig) -> ConfigView:
    version = config.model_version
    provider = version.provider
    return ConfigView(
        id=config.pk,
        code=str(config.code),
        name=config.name,
        model_id=version.model_id,
        model_version_code=str(version.code),
        provider=ProviderView(
            name=provider.name,
            api_style=provider.api_style,
            base_url=provider.base_url.rstrip("/"),
            api_key_env=provider.api_key_env,
            timeout=provider.timeout,
            is_simulator=provider.is_simulator,
        ),
        system_prompt=config.system_prompt,
        params={
            **config.parameters(),
            **({"json_schema": config.json_schema} if config.json_schema else {}),
        },
    )


def _load(generation: int, epoch: int) -> RoutingTable:
    related = "model_version__provider"
    active = {
        r.feature_id: r
        for r in Rollout.objects.filter(status__in=Rollout.ACTIVE).select_related(
            f"candidate__{related}"
        )
    }
    routes = {}
    for feature in Feature.objects.select_related(f"served_config__{related}"):
        rollout = active.get(feature.pk)
        candidate = config_view(rollout.candidate) if rollout else None
        bp = rollout.candidate_bp if rollout else 0
        status = rollout.status if rollout else None
        etag_src = (
            f"{feature.served_config.code}|{candidate.code if candidate else ''}|{bp}|{status}"
        )
        routes[feature.key] = Route(
            feature_id=feature.pk,
            feature_key=feature.key,
            seed=seed_for(feature.salt),
            baseline=config_view(feature.served_config),
            candidate=candidate,
            candidate_bp=bp,
            rollout_id=rollout.pk if rollout else None,
            rollout_status=status,
            shadowing=bool(rollout and rollout.status in Rollout.SHADOWING),
            etag=hashlib.sha256(etag_src.encode()).hexdigest()[:16],
            redactor=feature_redactor(feature),
            no_shadow_tool_calls=feature.no_shadow_tool_calls,
        )
    tokens = {}
    for token in ApiToken.objects.filter(revoked__isnull=True).prefetch_related("features"):
        tokens[token.prefix] = TokenView(
            id=token.pk,
            name=token.name,
            digest=token.digest,
            feature_ids=frozenset(f.pk for f in token.features.all()),
        )
    return RoutingTable(generation=generation, epoch=epoch, routes=routes, tokens=tokens)


def fresh_table() -> RoutingTable | None:
    """The cached table if it was checked recently enough, else None (no I/O here)."""
    table = _table
    if (
        table is not None
        and table.epoch == local_epoch()
        and time.monotonic() - _checked_at < settings.ROUTING_REFRESH_SECONDS
    ):
        return table
    return None


def current_table() -> RoutingTable:
    """The table, checking the database generation if the last check is too old."""
    global _table, _checked_at
    table = fresh_table()
    if table is not None:
        return table
    with _lock:
        # The row comes with a migration; a flushed database (tests) simply starts at 0.
        generation = (
            RoutingState.objects.filter(pk=1).values_list("generation", flat=True).first() or 0
        )
        epoch = local_epoch()
        if _table is None or _table.generation != generation or _table.epoch != epoch:
            _table = _load(generation, epoch)
        _checked_at = time.monotonic()
        return _table


__all__ = [
    "RoutingTable",
    "TokenView",
    "config_view",
    "current_table",
    "fresh_table",
    # Re-exported: callers think of them as routing operations.
    "invalidate_local",
    "routing_changed",
]
