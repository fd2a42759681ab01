"""The per-process routing table: every feature's Route and every live API token, in memory.

Decisions and token checks read this table without a database query. It is rebuilt when the
database's routing generation moves past the table's: at once in the process that made the change
(on commit), and in every other process within ROUTING_REFRESH_SECONDS, when its next request
checks the generation (one single-row query at most that often).

When the database cannot be reached, the last table keeps serving (as the LaunchDarkly and Unleash
SDKs keep serving their last known flags): `routing_age()` says how long ago it was last confirmed,
the outage is logged once when it starts and once when it ends, and only a process that never
loaded a table fails (the caller answers 503).
"""

import hashlib
import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from registry import observability
from registry.dbfaults import DB_FAULTS, describe
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


log = logging.getLogger("traffic.routing")

_lock = threading.Lock()
_table: RoutingTable | None = None
_checked_at = 0.0
# When the table was last known to match the database (monotonic clock), and when the current
# outage began (None while the database answers).
_confirmed_at = 0.0
_outage_since: float | None = None


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
    """The table, checking the database generation if the last check is too old.

    If the database cannot be reached, the last table is returned (see `routing_age()`); the
    connectivity error propagates only when there is no table yet.
    """
    global _table, _checked_at, _confirmed_at
    table = fresh_table()
    if table is not None:
        return table
    # During an outage a check may hang on connect; requests that find another thread checking
    # serve the table they have instead of queueing behind it. Otherwise wait: the process that
    # committed a change must get the new table at once.
    last = _table
    if last is not None and _outage_since is not None:
        if not _lock.acquire(blocking=False):
            return last
    else:
        _lock.acquire()
    try:
        try:
            # The row comes with a migration; a flushed database (tests) simply starts at 0.
            generation = (
                RoutingState.objects.filter(pk=1).values_list("generation", flat=True).first() or 0
            )
            epoch = local_epoch()
            if _table is None or _table.generation != generation or _table.epoch != epoch:
                _table = _load(generation, epoch)
        except DB_FAULTS as exc:
            # A broken connection would fail every later check in this thread; drop it so the
            # next check reconnects.
            connection.close_if_unusable_or_obsolete()
            if _table is None:
                raise
            _note_outage(exc)
            _checked_at = time.monotonic()
            observability.routing_age_set(seconds=_checked_at - _confirmed_at)
            return _table
        _checked_at = _confirmed_at = time.monotonic()
        observability.routing_age_set(seconds=0)
        _note_recovery()
        return _table
    finally:
        _lock.release()


def routing_age() -> float | None:
    """Seconds since the table was last confirmed against the database, while the database
    cannot be reached; None while the table is current."""
    if _outage_since is None or _table is None:
        return None
    return time.monotonic() - _confirmed_at


def _note_outage(exc: BaseException) -> None:
    global _outage_since
    if _outage_since is not None:
        return  # logged when the outage began, not on every check
    _outage_since = time.monotonic()
    log.warning(
        "database unreachable (%s): serving the routing table last confirmed %.1f s ago "
        "until it is back",
        describe(exc),
        _outage_since - _confirmed_at,
    )


def _note_recovery() -> None:
    global _outage_since
    if _outage_since is None:
        return
    log.warning(
        "database reachable again after %.1f s; routing table reloaded",
        time.monotonic() - _outage_since,
    )
    _outage_since = None


__all__ = [
    "RoutingTable",
    "TokenView",
    "config_view",
    "current_table",
    "fresh_table",
    # Re-exported: callers think of them as routing operations.
    "invalidate_local",
    "routing_age",
    "routing_changed",
]
