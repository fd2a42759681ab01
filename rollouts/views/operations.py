"""The operations page: each provider's circuit breaker, and what /api/v1/health knows.

For release managers and admins: it shows no payload, but it is where an operator decides
whether a failing rollout is the candidate's fault or its provider's. Admins may close a
circuit by hand (audited): the breaker would probe and close on its own after the cool-down,
but an operator who knows the provider is back need not wait.
"""

from datetime import UTC, datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from registry.dbfaults import DB_FAULTS
from registry.http import HtmxHttpRequest
from registry.models import DeadLetter, Provider, ShadowJob
from registry.roles import Role, has_role, require_role
from registry.services.audit import audit_record
from traffic.gateway.recorder import stats as recorder_stats
from traffic.outbox import outbox_backlog
from traffic.providers.breaker import COUNT_MINUTES, breaker_reset, breaker_snapshot, endpoint

# Columns of the failure table, in the order an operator reads them.
KINDS = ("ok", "server_error", "timeout", "connection", "rate_limited", "circuit_open")


def _breakers() -> list[dict]:
    providers = list(Provider.objects.order_by("name"))
    views = {v.provider: v for v in breaker_snapshot([p.base_url for p in providers])}
    rows = []
    for provider in providers:
        view = views[endpoint(provider.base_url)]
        other = sum(n for kind, n in view.counts.items() if kind not in KINDS)
        rows.append(
            {
                "provider": provider,
                "view": view,
                "since": datetime.fromtimestamp(view.since, UTC) if view.since else None,
                "counts": [view.counts.get(kind, 0) for kind in KINDS],
                "other": other,
            }
        )
    return rows


def _queues() -> dict:
    try:
        queued = outbox_backlog()[ShadowJob.Status.QUEUED]
        return {
            "database": "ok",
            "dead_letters": DeadLetter.objects.count(),
            "outbox_depth": queued.count,
            "outbox_oldest": queued.oldest,
            "deferred": queued.deferred,
        }
    except DB_FAULTS:
        return {"database": "unreachable"}


@require_GET
@login_required
def operations(request: HtmxHttpRequest) -> HttpResponseBase:
    require_role(request.user, Role.RELEASE_MANAGER)  # admins hold every role
    return render(
        request,
        "rollouts/operations.html",
        {
            "breakers": _breakers(),
            "kinds": KINDS,
            "minutes": COUNT_MINUTES,
            "queues": _queues(),
            "recorder": recorder_stats(),
            "can_reset": has_role(request.user, Role.ADMIN),
        },
    )


@require_POST
@login_required
def circuit_reset(request: HtmxHttpRequest, code: str) -> HttpResponseBase:
    require_role(request.user, Role.ADMIN)
    provider = get_object_or_404(Provider, code=code)
    before = next(iter(breaker_snapshot([provider.base_url])))
    reason = request.POST.get("reason", "").strip()[:500] or "closed by hand"
    breaker_reset(provider.base_url, reason=f"reset by {request.user.get_username()}: {reason}")
    with transaction.atomic():
        audit_record(
            actor=request.user,
            action="provider.circuit_reset",
            obj=provider,
            before={"circuit": before.state},
            after={"circuit": "closed"},
            reason=reason,
        )
    messages.success(request, f"The circuit of {provider.name} is closed.")
    return redirect("operations")
