"""Campaign pages: every signed-in user reads them; starting one needs a release manager."""

import uuid

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from evaluations.forms import add_service_errors
from registry.errors import DomainError
from registry.http import HtmxHttpRequest
from registry.models import ModelVersion
from registry.roles import Role, require_role
from rollouts.models import Campaign
from rollouts.services.campaigns import campaign_create, campaign_days_left, campaign_matrix


def get_campaign_for_user(request: HtmxHttpRequest, code: str) -> Campaign:
    # Reads are open to every signed-in user (login_required on the views).
    campaign = (
        Campaign.objects.select_related("from_version", "to_version", "created_by")
        .filter(code=code)
        .first()
    )
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


def _versions() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.select_related("provider").order_by("provider__name", "model_id")


class CampaignForm(forms.Form):
    from_version = forms.ModelChoiceField(
        _versions(),
        to_field_name="code",
        label="Move every feature served by",
        error_messages={"invalid_choice": "Pick a registered model version to move away from."},
    )
    to_version = forms.ModelChoiceField(
        _versions(),
        to_field_name="code",
        label="To",
        help_text="Defaults to the version's successor. Each feature gets its own candidate "
        "config: its served prompt and parameters on this version.",
        error_messages={"invalid_choice": "Pick a registered model version to move to."},
    )
    name = forms.CharField(max_length=200, required=False, help_text="Defaults to 'from → to'.")
    deadline = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Usually a little before the old version retires.",
    )
    stale_days = forms.IntegerField(
        min_value=1,
        max_value=365,
        label="Stalled after (days)",
        help_text="A feature whose rollout has not moved for this long is listed as stalled.",
    )
    start_gates = forms.BooleanField(
        required=False, initial=True, help_text="Start every feature's eval gate now."
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


@require_GET
@login_required
def campaign_list(request: HtmxHttpRequest) -> HttpResponse:
    campaigns = (
        Campaign.objects.select_related("from_version", "to_version")
        .annotate(
            features=Count("members"),
            started=Count("members", filter=Q(members__rollout__isnull=False)),
        )
        .order_by("-created")[:200]
    )
    return render(
        request,
        "rollouts/campaign_list.html",
        {"campaigns": campaigns, "today": timezone.now().date()},
    )


@require_http_methods(["GET", "POST"])
@login_required
def campaign_new(request: HtmxHttpRequest) -> HttpResponse:
    require_role(request.user, Role.RELEASE_MANAGER)
    code = _uuid_or_none(request.GET.get("from"))
    start = _versions().filter(code=code).first() if code else None
    initial = {
        "from_version": start.code if start else None,
        "to_version": start.successor.code if start and start.successor else None,
        "deadline": start.deprecates if start else None,
        "stale_days": settings.CAMPAIGN_STALE_DAYS,
    }
    form = CampaignForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = campaign_create(
                from_version=data["from_version"],
                to_version=data["to_version"],
                actor=request.user,
                name=data["name"],
                deadline=data["deadline"],
                stale_days=data["stale_days"],
                note=data["note"],
                start_gates=data["start_gates"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("campaign_detail", code=campaign.code)
    return render(request, "rollouts/campaign_new.html", {"form": form, "start": start})


def _uuid_or_none(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(text or "")
    except ValueError:
        return None


@require_GET
@login_required
def campaign_detail(request: HtmxHttpRequest, code: str) -> HttpResponse:
    campaign = get_campaign_for_user(request, code)
    now = timezone.now()
    rows = campaign_matrix(campaign, now=now)
    days_left = campaign_days_left(campaign, now.date())
    return render(
        request,
        "rollouts/campaign_detail.html",
        {
            "campaign": campaign,
            "rows": rows,
            "days_left": days_left,
            "days_overdue": -days_left if days_left is not None and days_left < 0 else None,
            "stalled": sum(row.stalled for row in rows),
        },
    )
