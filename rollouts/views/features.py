from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from registry.models import AuditEvent
from registry.selectors import features_with_configs
from registry.services.audit import db_now
from rollouts.models import Campaign
from rollouts.services.deprecations import deprecation_calendar

from .access import get_feature_for_user


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    today = db_now().date()
    return render(
        request,
        "rollouts/home.html",
        {
            "features": features_with_configs(),
            # The deprecation calendar and the campaigns under way (rollouts/services/).
            "calendar": deprecation_calendar(today=today),
            "active_campaigns": Campaign.objects.filter(status=Campaign.Status.ACTIVE)
            .select_related("from_version", "to_version")
            .order_by("deadline", "-created")[:20],
            "today": today,
        },
    )


@require_GET
@login_required
def feature_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "rollouts/feature_list.html",
        {"features": features_with_configs(), "today": db_now().date()},
    )


@require_GET
@login_required
def feature_detail(request: HttpRequest, key: str) -> HttpResponse:
    feature = get_feature_for_user(request, key)
    events = AuditEvent.objects.filter(feature_key=feature.key).order_by("-id")[:50]
    now = db_now()
    return render(
        request,
        "rollouts/feature_detail.html",
        {
            "feature": feature,
            "events": events,
            "rollouts": feature.rollouts.select_related("baseline", "candidate").order_by(
                "-created"
            )[:20],
            "today": now.date(),
            "pin_days_left": (feature.pinned_until - now).days if feature.pinned_until else None,
            "warning_window": timedelta(days=settings.DEPRECATION_WARNING_DAYS),
        },
    )
