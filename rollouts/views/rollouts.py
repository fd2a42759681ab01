"""Rollout pages: reading is open to every signed-in user, acting needs a release manager."""

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from plotly.utils import PlotlyJSONEncoder

from comparisons.charts import similarity_figure, verdicts_over_time_figure, worse_rate_figure
from comparisons.models import ShadowPair
from comparisons.services.stats import rollout_review_stats, similarity_values
from registry.errors import DomainError
from registry.models import Feature, ModelConfig, Rollout, ShadowDay, ShadowJob
from registry.roles import Role, require_role
from rollouts.services import rollouts as services


def get_rollout_for_user(request: HttpRequest, code, *, act: bool = False) -> Rollout:
    if act:
        require_role(request.user, Role.RELEASE_MANAGER)
    rollout = (
        Rollout.objects.select_related(
            "feature", "baseline__model_version", "candidate__model_version", "created_by"
        )
        .filter(code=code)
        .first()
    )
    if rollout is None:
        raise Http404("No such rollout.")
    return rollout


class RolloutForm(forms.Form):
    feature = forms.ModelChoiceField(Feature.objects.order_by("key"), to_field_name="key")
    candidate = forms.ModelChoiceField(
        ModelConfig.objects.filter(archived=False).select_related("model_version"),
        help_text="The config to move to. Its model version must be pinned (it is).",
    )
    shadow_sample_percent = forms.FloatField(initial=100, min_value=0, max_value=100)
    shadow_daily_cap = forms.IntegerField(initial=10_000, min_value=0, max_value=10_000_000)
    review_sample_percent = forms.FloatField(
        initial=10,
        min_value=0,
        max_value=100,
        help_text="Share of unflagged pairs that also enter the review queue.",
    )
    double_review_percent = forms.FloatField(
        initial=10,
        min_value=0,
        max_value=100,
        help_text="Share of queued pairs labelled by two reviewers, to measure agreement.",
    )
    blinded = forms.BooleanField(
        initial=True,
        required=False,
        help_text="Reviewers see A and B in random order; the candidate is revealed after saving.",
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


@require_GET
@login_required
def rollout_list(request: HttpRequest) -> HttpResponse:
    rollouts = Rollout.objects.select_related(
        "feature", "baseline__model_version", "candidate__model_version"
    ).order_by("-created")[:200]
    return render(request, "rollouts/rollout_list.html", {"rollouts": rollouts})


@require_http_methods(["GET", "POST"])
@login_required
def rollout_new(request: HttpRequest) -> HttpResponse:
    require_role(request.user, Role.RELEASE_MANAGER)
    form = RolloutForm(request.POST or None, initial={"feature": request.GET.get("feature")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            rollout = services.rollout_create(
                feature=data["feature"],
                candidate=data["candidate"],
                actor=request.user,
                note=data["note"],
                shadow_sample_percent=data["shadow_sample_percent"],
                shadow_daily_cap=data["shadow_daily_cap"],
                review_sample_percent=data["review_sample_percent"],
                double_review_percent=data["double_review_percent"],
                blinded=data["blinded"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("rollout_detail", code=rollout.code)
    return render(request, "rollouts/rollout_new.html", {"form": form})


@require_GET
@login_required
def rollout_detail(request: HttpRequest, code) -> HttpResponse:
    rollout = get_rollout_for_user(request, code)
    jobs = dict(
        ShadowJob.objects.filter(rollout=rollout)
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    days = ShadowDay.objects.filter(rollout=rollout).aggregate(
        queued=Sum("queued"), sample=Sum("skipped_sample"), cap=Sum("skipped_cap")
    )
    stats = rollout_review_stats(rollout)
    charts = {
        "verdicts": verdicts_over_time_figure(stats.per_day).to_plotly_json(),
        "worse": worse_rate_figure(stats.worse_cumulative).to_plotly_json(),
        "similarity": similarity_figure(similarity_values(rollout)).to_plotly_json(),
    }
    return render(
        request,
        "rollouts/rollout_detail.html",
        {
            "rollout": rollout,
            "reviewing_statuses": Rollout.REVIEWING,
            "jobs": jobs,
            "days": days,
            "pairs": ShadowPair.objects.filter(rollout=rollout).count(),
            "next_percent": _next_stage(rollout.candidate_percent),
            "stats": stats,
            "charts": json.loads(plotly_json(charts)),
        },
    )


STAGES = (1, 5, 10, 25, 50, 100)


def _next_stage(current: float) -> int | None:
    return next((s for s in STAGES if s > current), None)


@require_POST
@login_required
def rollout_act(request: HttpRequest, code, action: str) -> HttpResponse:
    rollout = get_rollout_for_user(request, code, act=True)
    reason = request.POST.get("reason", "").strip()
    try:
        if action == "shadow":
            services.rollout_start_shadow(rollout=rollout, actor=request.user, reason=reason)
        elif action == "canary":
            try:
                percent = float(request.POST.get("percent", ""))
            except ValueError:
                raise ValidationError(
                    {"percent": "Give the canary percentage as a number."}
                ) from None
            services.rollout_set_canary(
                rollout=rollout, percent=percent, actor=request.user, reason=reason
            )
        elif action == "rollback":
            services.rollout_rollback(rollout=rollout, actor=request.user, reason=reason)
        elif action == "abort":
            services.rollout_abort(rollout=rollout, actor=request.user, reason=reason)
        else:
            raise Http404("Unknown action.")
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Done: {action.replace('_', ' ')}.")
    return redirect("rollout_detail", code=rollout.code)


def plotly_json(value) -> str:
    # Figures hold numpy arrays that Django's json_script encoder cannot write; Plotly's encoder
    # turns them into lists first.
    return json.dumps(value, cls=PlotlyJSONEncoder)
