"""The audit pages: every event in sentences with filters and a CSV export, and "what served
feature F at time T" from the serving ledger."""

from datetime import UTC

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from registry.http import HtmxHttpRequest
from registry.models import AuditEvent, Feature
from registry.services.audit import db_now
from registry.services.serving import served_at
from registry.timeparse import BadInstant, parse_instant
from rollouts.audit_csv import csv_response
from rollouts.audit_text import describe_all

PAGE_SIZE = 50


def _filtered(request: HtmxHttpRequest) -> tuple[QuerySet[AuditEvent], dict[str, str]]:
    events = AuditEvent.objects.order_by("-id")
    filters = {
        "feature": request.GET.get("feature", "").strip(),
        "action": request.GET.get("action", "").strip(),
        "actor": request.GET.get("actor", "").strip(),
    }
    if filters["feature"]:
        events = events.filter(feature_key=filters["feature"])
    if filters["action"]:
        events = events.filter(action__startswith=filters["action"])
    if filters["actor"]:
        events = events.filter(actor_label=filters["actor"])
    return events, filters


@require_GET
@login_required
def audit_list(request: HtmxHttpRequest) -> HttpResponseBase:
    events, filters = _filtered(request)
    if request.GET.get("format") == "csv":
        return csv_response(events, filename="audit-events.csv")
    before = request.GET.get("before", "")
    if before.isdigit():
        # Keyset pagination: "older than id N" stays fast on page 1,000 as on page 1.
        events = events.filter(id__lt=int(before))
    page = list(events.select_related(None)[: PAGE_SIZE + 1])
    query = request.GET.copy()
    query.pop("before", None)
    return render(
        request,
        "rollouts/audit_list.html",
        {
            "events": page[:PAGE_SIZE],
            "rows": describe_all(page[:PAGE_SIZE]),
            "next_before": page[PAGE_SIZE - 1].id if len(page) > PAGE_SIZE else None,
            "filters": filters,
            "query": query.urlencode(),
            "features": Feature.objects.order_by("key").values_list("key", flat=True),
        },
    )


@require_GET
@login_required
@vary_on_headers("HX-Request")
def audit_served(request: HtmxHttpRequest) -> HttpResponse:
    """What served feature F at time T: the audit page's question box. An empty time means
    now, so the "now" answer needs no script."""
    key = request.GET.get("feature", "").strip()
    raw = request.GET.get("at", "").strip()
    context: dict = {
        "feature_key": key,
        "at_raw": raw,
        "features": Feature.objects.order_by("key").values_list("key", flat=True),
    }
    feature = Feature.objects.filter(key=key).first() if key else None
    if key and feature is None:
        context["error"] = f"feature: no feature with key '{key}'; pick one from the list."
    elif feature is not None:
        try:
            when = parse_instant(raw) if raw else db_now()
        except BadInstant as exc:
            context["error"] = str(exc)
        else:
            context["served"] = served_at(feature=feature, when=when)
            # What a datetime-local input can show back (it refuses offsets).
            context["at_raw"] = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    template = "rollouts/audit_served.html"
    if request.htmx:
        template += "#served-result"
    return render(request, template, context)
