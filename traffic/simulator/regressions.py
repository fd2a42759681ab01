"""The simulator's staged regressions (registry SimulatorRegression): the switch, and the read the
simulator makes on every request, cached in-process for about a second.

A regression is prepared for one simulated model version and applied on top of its Behaviour
while it is on: more failures (HTTP 500 by default, OpenAI-shaped like any other simulated
failure), more refusals, extra latency. The answers stay deterministic per input: a regression
at 25% fails the same quarter of distinct inputs on every call, like a model that regressed.

Why the database and a one-second cache: the switch is thrown by a management command in one
process and must be seen by every web process (and the Celery workers' shadow calls hit the
same web processes) within about two seconds, without a query per simulated request.
"""

import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from registry.dbfaults import DB_FAULTS
from registry.models import SimulatorRegression

from .behaviours import BEHAVIOURS, FAILURE_STATUSES, Behaviour

logger = logging.getLogger("traffic.simulator")

# How long a process serves its last read of the table before it reads again.
CACHE_SECONDS = 1.0
# The demo's support-reply candidate ("support v2 (Jun)", rollouts/management/commands/seed_demo).
DEMO_MODEL = "sim-chat-2025-06-01"


@dataclass(frozen=True)
class Regression:
    """What a regression adds to a model's behaviour while it is on."""

    model_id: str
    failure_rate: float = 0.25
    failure_status: int = 500
    extra_latency_ms: int = 300
    refusal_rate: float = 0.05

    def __post_init__(self) -> None:
        # Messages name the command's options: this is what the switch raises on bad input.
        for name in ("failure_rate", "refusal_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                option = "--" + name.replace("_", "-")
                raise ValueError(f"{option} must be between 0 and 1, not {value:g}.")
        if self.failure_status not in FAILURE_STATUSES:
            statuses = ", ".join(str(s) for s in sorted(FAILURE_STATUSES))
            raise ValueError(
                f"--failure-status must be one of {statuses}, not {self.failure_status}."
            )
        if self.extra_latency_ms < 0:
            raise ValueError(f"--extra-latency-ms must be 0 or more, not {self.extra_latency_ms}.")


def applied(behaviour: Behaviour, regression: Regression | None) -> Behaviour:
    """The behaviour with the regression on top (pure). Rates only grow: a model that failed
    more than the regression's rate already keeps its own rate."""
    if regression is None:
        return behaviour
    return dataclasses.replace(
        behaviour,
        failure_rate=max(behaviour.failure_rate, regression.failure_rate),
        failure_status=regression.failure_status,
        refusal_rate=max(behaviour.refusal_rate, regression.refusal_rate),
        latency_ms=behaviour.latency_ms + regression.extra_latency_ms,
    )


# --- The read, cached -------------------------------------------------------------------------

# (monotonic time the read expires, {model_id: regression that is on}). Swapped whole, never
# mutated, so concurrent requests (event loop and threads alike) see one consistent read.
_cache: tuple[float, dict[str, Regression]] = (0.0, {})


def _row_regression(row: SimulatorRegression) -> Regression:
    return Regression(
        model_id=row.model_id,
        failure_rate=row.failure_rate,
        failure_status=row.failure_status,
        extra_latency_ms=row.extra_latency_ms,
        refusal_rate=row.refusal_rate,
    )


def _load() -> dict[str, Regression]:
    try:
        return {
            row.model_id: _row_regression(row)
            for row in SimulatorRegression.objects.filter(on=True)
        }
    except DB_FAULTS:
        # The simulator stands in for a provider, which does not go down with our database:
        # during an outage it answers as the model normally would.
        logger.warning("simulator: staged regressions could not be read; serving without them")
        return {}


def active() -> dict[str, Regression]:
    """The regressions that are on, as of at most CACHE_SECONDS ago (sync callers)."""
    global _cache
    expires, regressions = _cache
    now = time.monotonic()
    if now < expires:
        return regressions
    # Claim the refresh first: requests arriving meanwhile serve the previous read, so an
    # expiry never sends a burst of identical queries.
    _cache = (now + CACHE_SECONDS, regressions)
    fresh = _load()
    _cache = (time.monotonic() + CACHE_SECONDS, fresh)
    return fresh


async def regression_for(model_id: str) -> Regression | None:
    """The simulator's per-request read: one query per process per CACHE_SECONDS at most."""
    expires, regressions = _cache
    if time.monotonic() < expires:
        return regressions.get(model_id)
    return (await sync_to_async(active)()).get(model_id)


def invalidate_local() -> None:
    """Forget this process's read (the switch calls it; tests too)."""
    global _cache
    _cache = (0.0, {})


# --- The switch -------------------------------------------------------------------------------


def _known_model(model_id: str) -> None:
    if model_id not in BEHAVIOURS:
        known = ", ".join(sorted(BEHAVIOURS))
        raise ValueError(f"--model: '{model_id}' is not a simulated model id; use one of {known}.")


@transaction.atomic
def simulator_regression_switch(
    *, model_id: str = DEMO_MODEL, on: bool, changes: dict[str, Any] | None = None
) -> SimulatorRegression:
    """Switch the model's regression on or off. `changes` (failure_rate, failure_status,
    extra_latency_ms, refusal_rate) replace the prepared values and are kept for the next time
    it is switched on. Raises ValueError naming the option on bad input."""
    _known_model(model_id)
    row = SimulatorRegression.objects.select_for_update().filter(model_id=model_id).first()
    base = _row_regression(row) if row is not None else Regression(model_id=model_id)
    wanted = dataclasses.replace(base, **(changes or {}))  # validates (__post_init__)
    row = row or SimulatorRegression(model_id=model_id)
    for name in ("failure_rate", "failure_status", "extra_latency_ms", "refusal_rate"):
        setattr(row, name, getattr(wanted, name))
    if row.on != on or row.switched is None:
        row.switched = timezone.now()
    row.on = on
    row.save()
    invalidate_local()
    return row


def simulator_regressions() -> list[SimulatorRegression]:
    """Every prepared regression, for `status`: the demo model's one first even before it was
    ever switched (unsaved then, off)."""
    rows = list(SimulatorRegression.objects.order_by("model_id"))
    if not any(r.model_id == DEMO_MODEL for r in rows):
        rows.insert(0, SimulatorRegression(model_id=DEMO_MODEL))
    return rows


def switched_text(when: datetime | None) -> str:
    return timezone.localtime(when).strftime("%Y-%m-%d %H:%M:%S") if when else "never"
