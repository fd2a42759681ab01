"""The routing generation: one counter row every process watches to know its routing table
(traffic.routing) is stale. Any change that alters what serves, what a request log records or who
may call (features, configs, providers, versions, rollouts, tokens) calls `routing_changed()`.

The process that made the change must see it at once, not within the refresh period, so a
process-local epoch moves on commit too; the routing table compares both."""

import threading

from django.db import transaction
from django.db.models import F

from registry.models import RoutingState

_epoch_lock = threading.Lock()
_local_epoch = 0


def local_epoch() -> int:
    """How many routing changes this process has committed (or forced with `invalidate_local`)."""
    return _local_epoch


def invalidate_local() -> None:
    global _local_epoch
    with _epoch_lock:
        _local_epoch += 1


def routing_changed() -> None:
    """Call inside the transaction that changes routing: bump the generation every process
    watches, and drop this process's table as soon as the change commits."""
    if not RoutingState.objects.filter(pk=1).update(generation=F("generation") + 1):
        RoutingState.objects.get_or_create(pk=1, defaults={"generation": 1})
    transaction.on_commit(invalidate_local)
