"""The dashboard, the feature list and the feature page: what serves now, what waits, and the
feature's history (timeline, "as of", request lookup, CSV). Reading is open to every signed-in
user; rolling back and reverting need a release manager."""

import uuid
from datetime import UTC, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from registry.errors import DomainError
from registry.http import HtmxHttpRequest
from registry.models import Feature, Rollout
from registry.roles import Role, require_role
from registry.selectors import features_with_configs
from registry.services.audit import db_now
from registry.services.serving import served_at
from registry.timeparse import BadInstant, parse_instant
from rollouts.audit_csv import csv_response
from rollouts.audit_text import describe_all
from rollouts.models import Campaign
from rollouts.services import rollouts as rollout_services
from rollouts.services.completion import feature_revert_to_previous
from rollouts.services.deprecations import deprecation_calendar
from rollouts.services.live import Split, live_split, live_splits
from rollouts.services.plan import action_refusal
from rollouts.services.timeline import KINDS, feature_events, request_lookup, timeline_filters
from rollouts.services.waiting import active_rollouts, needs_me

from .access import get_feature_for_user

TIMELINE_SIZE = 100


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    now = db_now()
    features = list(features_with_configs())
    active = active_rollouts(now=now)
    return render(
        request,
        "rollouts/home.html",
        {
            "feature_rows": _feature_rows(features),
            "active": active,
            "needs": needs_me(request.user, active),
            # The deprecation calendar and the campaigns under way (rollouts/services/).
            "calendar": deprecation_calendar(today=now.date()),
            "active_campaigns": Campaign.objects.filter(status=Campaign.Status.ACTIVE)
            .select_related("from_version", "to_version")
            .order_by("deadline", "-created")[:20],
            "today": now.date(),
        },
    )


@require_GET
@login_required
def feature_list(request: HttpRequest) -> HttpResponse:
    features = list(features_with_configs())
    return render(
        request,
        "rollouts/feature_list.html",
        {"feature_rows": _feature_rows(features), "today": db_now().date()},
    )


def _feature_rows(features: list[Feature]) -> list[tuple[Feature, Split]]:
    splits = live_splits(features)
    return [(f, splits[f.key]) for f in features]


def _as_of(request: HttpRequest, feature) -> dict:
    raw = request.GET.get("as_of", "").strip()
    if not raw:
        return {"as_of_raw": ""}
    try:
        when = parse_instant(raw, field="as_of")
    except BadInstant as exc:
        return {"as_of_raw": raw, "as_of_error": str(exc)}
    # datetime-local shows back only a bare local time, no offset.
    shown = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return {"as_of_raw": shown, "as_of": served_at(feature=feature, when=when)}


@require_GET
@login_required
@vary_on_headers("HX-Request")
def feature_detail(request: HtmxHttpRequest, key: str) -> HttpResponseBase:
    feature = get_feature_for_user(request, key)
    filters = timeline_filters(request.GET)
    events = feature_events(feature, filters)
    if request.GET.get("format") == "csv":
        return csv_response(events, filename=f"{feature.key}-timeline.csv")
    now = db_now()
    request_id = request.GET.get("request", "").strip()
    split = live_split(feature)
    context = {
        "feature": feature,
        "split": split,
        # The state machine decides, as on the rollout page (rollouts/services/plan.py).
        "can_rollback": split.rollout is not None
        and action_refusal(split.rollout, request.user, "rollback") is None,
        "rows": describe_all(list(events[:TIMELINE_SIZE])),
        "filters": filters,
        "kinds": KINDS,
        "timeline_query": {k: v for k, v in filters.as_query().items() if v},
        "rollouts": feature.rollouts.select_related(
            "baseline__model_version", "candidate__model_version"
        ).order_by("-created")[:20],
        "today": now.date(),
        "pinned": bool(
            feature.previous_config and feature.pinned_until and feature.pinned_until > now
        ),
        "pin_days_left": (feature.pinned_until - now).days if feature.pinned_until else None,
        "warning_window": timedelta(days=settings.DEPRECATION_WARNING_DAYS),
        "lookup": request_lookup(feature=feature, request_id=request_id) if request_id else None,
        **_as_of(request, feature),
    }
    template = "rollouts/feature_detail.html"
    if request.htmx and request.GET.get("part") == "timeline":
        template += "#timeline"
    return render(request, template, context)


@require_POST
@login_required
def feature_rollback(request: HttpRequest, key: str) -> HttpResponse:
    """Roll back the rollout shown on the feature page. The form names the rollout, so a page
    left open on an older rollout cannot roll back a newer one by mistake."""
    require_role(request.user, Role.RELEASE_MANAGER)
    feature = get_feature_for_user(request, key)
    code = _uuid_or_none(request.POST.get("rollout", ""))
    rollout = Rollout.objects.filter(feature=feature, code=code).first() if code else None
    if rollout is None:
        messages.error(request, "rollout: that rollout is not one of this feature's; reload.")
        return redirect("feature_detail", key=feature.key)
    refusal = action_refusal(rollout, request.user, "rollback")
    if refusal:
        messages.error(request, refusal)
        return redirect("feature_detail", key=feature.key)
    try:
        rollout_services.rollout_rollback(
            rollout=rollout, actor=request.user, reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"Rolled back: {feature.key} serves {feature.served_config} only."
        )
    return redirect("feature_detail", key=feature.key)


@require_POST
@login_required
def feature_revert(request: HttpRequest, key: str) -> HttpResponse:
    """Serve the pinned previous config again (rollouts/services/completion.py)."""
    require_role(request.user, Role.RELEASE_MANAGER)
    feature = get_feature_for_user(request, key)
    if _uuid_or_none(request.POST.get("served", "")) != str(feature.served_config.code):
        # The form names what it reverts from: the page was read before another change.
        messages.error(
            request, "served: the served config changed since you loaded the page; reload."
        )
        return redirect("feature_detail", key=feature.key)
    try:
        feature = feature_revert_to_previous(
            feature=feature, actor=request.user, reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Reverted: {feature.key} serves {feature.served_config} again.")
    return redirect("feature_detail", key=feature.key)


def _uuid_or_none(raw: str) -> str | None:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        return None
