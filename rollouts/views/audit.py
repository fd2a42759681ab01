import csv

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from registry.http import HtmxHttpRequest
from registry.models import AuditEvent, Feature
from registry.services.serving import served_at
from registry.timeparse import BadInstant, parse_instant

PAGE_SIZE = 50
CSV_COLUMNS = [
    "id",
    "created",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "feature_key",
    "reason",
    "before",
    "after",
    "hash",
]


def _filtered(request: HtmxHttpRequest):
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


def _csv_safe(value) -> str:
    # Spreadsheets run cells that start with = + - @ as formulas; audit text is user-supplied.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_response(events) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(CSV_COLUMNS)
        for event in events.iterator(chunk_size=1000):
            yield writer.writerow([_csv_safe(getattr(event, c)) for c in CSV_COLUMNS])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
    return response


@require_GET
@login_required
def audit_list(request: HtmxHttpRequest) -> HttpResponseBase:
    events, filters = _filtered(request)
    if request.GET.get("format") == "csv":
        return _csv_response(events)
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
    """What served feature F at time T: the audit page's question box."""
    key = request.GET.get("feature", "").strip()
    raw = request.GET.get("at", "")
    context: dict = {
        "feature_key": key,
        "at_raw": raw,
        "features": Feature.objects.order_by("key").values_list("key", flat=True),
    }
    feature = Feature.objects.filter(key=key).first() if key else None
    if key and feature is None:
        context["error"] = f"feature: no feature with key '{key}'."
    elif feature is not None:
        try:
            context["served"] = served_at(feature=feature, when=parse_instant(raw))
        except BadInstant as exc:
            context["error"] = str(exc)
    template = "rollouts/audit_served.html"
    if request.htmx:
        template += "#served-result"
    return render(request, template, context)
