"""Golden cases from production: "add to suite" from a pair page, and "build cases from traffic"
on a feature. Permissions are decided here; the rules live in rollouts/services/golden.py."""

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from comparisons.models import Label, ShadowPair
from comparisons.views import get_pair_for_user
from evaluations.forms import add_service_errors, pretty
from evaluations.models import Dimension, Suite
from registry.errors import DomainError
from registry.http import HtmxHttpRequest
from registry.models import Feature
from registry.roles import Role, has_role, require_role
from registry.services.audit import db_now
from rollouts.services import golden

from .access import get_feature_for_user


def _suite_url(suite: Suite) -> str:
    return reverse("eval_suite_detail", kwargs={"code": suite.code})


# django-stubs' generic field; Django's class is not subscriptable at run time.
if TYPE_CHECKING:
    SuiteChoiceBase = forms.ModelChoiceField[Suite]
else:
    SuiteChoiceBase = forms.ModelChoiceField


class SuiteChoice(SuiteChoiceBase):
    def label_from_instance(self, obj: Suite) -> str:
        return obj.name if obj.active else f"{obj.name} (inactive)"


def _suite_field(feature: Feature) -> SuiteChoice:
    # Any suite's code is accepted here, so a suite of another feature reaches the service,
    # which refuses it by name; only the feature's own suites are offered, active ones first.
    field = SuiteChoice(Suite.objects.all(), to_field_name="code", empty_label=None)
    suites = sorted(feature.suites.all(), key=lambda s: (not s.active, s.name))
    field.choices = [(s.code, field.label_from_instance(s)) for s in suites]
    field.initial = suites[0].code if suites else None
    return field


def _parse_assertions(text: str) -> list[dict[str, Any]] | None:
    """The assertions typed, or None (blank): suggest them for the reference saved."""
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"Not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}. "
            'Give a JSON list like [{"type": "contains", "value": "refund"}], '
            "or leave it empty for the suggestions."
        ) from None
    if not isinstance(value, list):
        raise ValidationError(
            'Give a JSON list like [{"type": "contains", "value": "refund"}], not one '
            "assertion alone, or leave it empty for the suggestions."
        )
    return value


class PairCaseForm(forms.Form):
    name = forms.CharField(max_length=300)
    dimension = forms.ChoiceField(choices=Dimension.choices)
    critical = forms.BooleanField(
        required=False, help_text="Passing on baseline and failing blocks."
    )
    reference = forms.CharField(
        required=False, strip=False, widget=forms.Textarea(attrs={"rows": 8})
    )
    assertions = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "class": "code", "spellcheck": "false"}),
        help_text="A JSON list, promptfoo-style. Empty: the suggestions for the reference saved.",
    )

    def __init__(self, *args: Any, feature: Feature, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["suite"] = _suite_field(feature)
        self.order_fields(["suite"])

    def clean_assertions(self) -> list[dict[str, Any]] | None:
        return _parse_assertions(self.cleaned_data.get("assertions") or "")


def _pair_for_golden(request: HtmxHttpRequest, code: UUID) -> ShadowPair:
    """A blinded reviewer must not learn which side is the candidate from this page before
    labelling: so release managers (and admins), and reviewers who labelled the pair."""
    pair = get_pair_for_user(request, code)
    if (
        not has_role(request.user, Role.RELEASE_MANAGER)
        and not Label.objects.filter(pair=pair, reviewer=request.user).exists()
    ):
        raise PermissionDenied(
            "Label this pair first: adding it to a suite shows which answer is the candidate's."
        )
    return pair


@require_http_methods(["GET", "POST"])
@login_required
def golden_from_pair(request: HtmxHttpRequest, code: UUID) -> HttpResponse:
    pair = _pair_for_golden(request, code)
    feature = pair.rollout.feature
    try:
        proposal = golden.pair_proposal(pair)
    except DomainError as exc:
        context = {"pair": pair, "feature": feature, "refused": str(exc)}
        return render(request, "rollouts/golden_from_pair.html", context, status=409)
    initial = {
        "name": proposal.name,
        "dimension": proposal.dimension,
        "critical": proposal.critical,
        "reference": proposal.reference,
        "assertions": pretty(proposal.assertions),
    }
    form = PairCaseForm(request.POST or None, feature=feature, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            case = golden.case_from_pair(
                pair=pair,
                suite=data["suite"],
                actor=request.user,
                name=data["name"],
                dimension=data["dimension"],
                critical=data["critical"],
                assertions=data["assertions"],
                reference=data["reference"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Case '{case.name}' added to suite '{data['suite'].name}'.")
            return redirect(_suite_url(data["suite"]))
    context = {"pair": pair, "feature": feature, "proposal": proposal, "form": form}
    return render(request, "rollouts/golden_from_pair.html", context)


class TrafficForm(forms.Form):
    start = forms.DateTimeField(help_text="UTC, e.g. 2025-03-01 00:00")
    end = forms.DateTimeField(help_text="UTC; the range excludes this instant")
    size = forms.IntegerField(
        initial=50,
        min_value=1,
        max_value=golden.MAX_SAMPLE,
        help_text=f"Requests to sample at random, 1 to {golden.MAX_SAMPLE}.",
    )
    only_flagged = forms.BooleanField(
        required=False, help_text="Only requests with a flagged shadow pair."
    )
    only_negative = forms.BooleanField(
        required=False, help_text="Only requests with a thumbs down or a score of 1-2."
    )

    def __init__(self, *args: Any, feature: Feature, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["suite"] = _suite_field(feature)
        self.order_fields(["suite"])

    def filters(self) -> golden.TrafficFilters:
        data = self.cleaned_data
        return golden.TrafficFilters(
            start=data["start"],
            end=data["end"],
            size=data["size"],
            only_flagged=data["only_flagged"],
            only_negative=data["only_negative"],
        )


@require_http_methods(["GET", "POST"])
@login_required
def golden_from_traffic(request: HtmxHttpRequest, key: str) -> HttpResponse:
    """Preview how many logged requests match, then make draft cases of a sample of them."""
    feature = get_feature_for_user(request, key)
    require_role(request.user, Role.RELEASE_MANAGER)
    now = db_now().replace(second=0, microsecond=0)
    initial = {"start": now - timedelta(days=7), "end": now, "size": 50}
    form = TrafficForm(request.POST or None, feature=feature, initial=initial)
    context: dict[str, Any] = {"feature": feature, "form": form}
    if request.method == "POST" and form.is_valid():
        suite, filters = form.cleaned_data["suite"], form.filters()
        try:
            if request.POST.get("action") != "create":
                matching = golden.traffic_candidates(feature=feature, suite=suite, filters=filters)
                context["matching"] = matching.count()
                context["taking"] = min(context["matching"], filters.size)
            else:
                sample = golden.traffic_sample(
                    feature=feature, suite=suite, actor=request.user, filters=filters
                )
                return _sampled(request, suite, sample)
        except ValidationError as exc:
            add_service_errors(form, exc)
    return render(request, "rollouts/golden_from_traffic.html", context)


def _sampled(request: HtmxHttpRequest, suite: Suite, sample: golden.TrafficSample) -> HttpResponse:
    made = len(sample.cases)
    if made:
        messages.success(
            request,
            f"{made} draft case{'s' if made != 1 else ''} added to '{suite.name}': review and "
            "publish them; drafts never run in a gate.",
        )
    else:
        messages.warning(
            request, "No logged request matched: widen the time range or drop a filter."
        )
    if sample.skipped:
        ids = ", ".join(list(sample.skipped)[:10])
        messages.warning(
            request,
            f"{len(sample.skipped)} request(s) skipped, their input could "
            f"not become a case: {ids}.",
        )
    return redirect(_suite_url(suite))
