"""Rollout pages: reading is open to every signed-in user, acting needs a release manager."""

import json
import uuid
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers
from plotly.utils import PlotlyJSONEncoder

from comparisons.charts import similarity_figure, verdicts_over_time_figure, worse_rate_figure
from comparisons.models import ShadowPair
from comparisons.services.stats import rollout_review_stats, similarity_values
from evaluations.charts import gate_dimension_figure
from evaluations.models import Gate
from evaluations.services.gates import gate_summary, latest_gate
from registry.errors import DomainError
from registry.models import Feature, ModelConfig, ModelVersion, Rollout, ShadowDay, ShadowJob
from registry.roles import Role, require_role
from rollouts.guardrails.evaluate import guardrails_context
from rollouts.judging import judge_summary
from rollouts.services import rollouts as services
from rollouts.services.candidates import candidate_choices, candidate_refusal, config_differences
from rollouts.services.decision import decision_panel
from rollouts.views.rollout_context import stepper_context


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
    """The rollout settings; the candidate is picked from the feature's own configs (see
    rollout_new), or made from the baseline with the new_* fields."""

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
    judge_config = forms.ModelChoiceField(
        ModelConfig.objects.filter(archived=False).select_related("model_version"),
        required=False,
        help_text="Optional: a pinned config that also judges each shadow pair, in both orders. "
        "Its verdicts are kept apart from reviewers' labels.",
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


# The rollout list lives in rollouts/views/rollout_list.py.


@require_http_methods(["GET", "POST"])
@login_required
def rollout_new(request: HttpRequest) -> HttpResponse:
    """Pick the feature (GET ?feature=), then its candidate and the settings. "Show the
    differences" re-renders the form with the candidate's changes from the baseline."""
    require_role(request.user, Role.RELEASE_MANAGER)
    key = request.POST.get("feature") or request.GET.get("feature") or ""
    feature = Feature.objects.select_related("served_config__model_version").filter(key=key).first()
    form = RolloutForm(request.POST or None)
    picked: ModelConfig | None = None
    if request.method == "POST" and feature is not None and form.is_valid():
        try:
            with transaction.atomic():
                picked = _picked_candidate(request, feature)
                if "preview" in request.POST:
                    transaction.set_rollback(True)  # a preview writes nothing
                else:
                    rollout = _create(request, feature, picked, form.cleaned_data)
                    return redirect("rollout_detail", code=rollout.code)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                # Picker fields (candidate, new_*) are not form fields: name them in the message.
                if field in form.fields:
                    form.add_error(field, errors)
                else:
                    form.add_error(None, [f"{field}: {e}" for e in errors])
        except DomainError as exc:
            form.add_error(None, str(exc))
    return render(
        request,
        "rollouts/rollout_new.html",
        {
            "form": form,
            "features": Feature.objects.order_by("key"),
            "feature": feature,
            **(picker_context(feature, picked, request.POST) if feature else {}),
        },
    )


def _picked_candidate(request: HttpRequest, feature: Feature) -> ModelConfig:
    from rollouts.views.rollout_actions import new_config_from_post

    if request.POST.get("candidate") == "new":
        return new_config_from_post(request, None, feature=feature)
    code = _uuid(request.POST.get("candidate", ""))
    config = (
        ModelConfig.objects.select_related("model_version").filter(code=code).first()
        if code
        else None
    )
    if config is None:
        raise ValidationError(
            {"candidate": "Pick the candidate config, or make a new one from the baseline."}
        )
    refusal = candidate_refusal(feature, config)
    if refusal:  # the list offers only these, but a forged or stale form must not pass
        raise ValidationError({"candidate": refusal})
    return config


def _create(request: HttpRequest, feature: Feature, candidate: ModelConfig, data: dict) -> Rollout:
    return services.rollout_create(
        feature=feature,
        candidate=candidate,
        actor=request.user,
        note=data["note"],
        shadow_sample_percent=data["shadow_sample_percent"],
        shadow_daily_cap=data["shadow_daily_cap"],
        review_sample_percent=data["review_sample_percent"],
        double_review_percent=data["double_review_percent"],
        blinded=data["blinded"],
        judge_config=data["judge_config"],
    )


def picker_context(
    feature: Feature, picked: ModelConfig | None, data: Any, *, exclude: tuple[int, ...] = ()
) -> dict[str, Any]:
    """The candidate picker partial's context (templates/rollouts/_candidate_picker.html)."""
    baseline = feature.served_config
    return {
        "baseline": baseline,
        "choices": candidate_choices(feature, exclude=exclude),
        "picked": picked,
        "differences": config_differences(baseline, picked) if picked else None,
        "model_versions": ModelVersion.objects.select_related("provider").order_by("model_id"),
        "new": {
            "model_version": data.get("new_model_version", "") if data else "",
            "system_prompt": data.get("new_system_prompt", baseline.system_prompt)
            if data
            else baseline.system_prompt,
            "temperature": data.get("new_temperature", "") if data else baseline.temperature,
            "max_tokens": data.get("new_max_tokens", "") if data else baseline.max_tokens,
            "name": data.get("new_name", "") if data else "",
        },
        "selected": data.get("candidate", "") if data else "",
    }


@require_GET
@login_required
def rollout_detail(request: HttpRequest, code) -> HttpResponse:
    rollout = get_rollout_for_user(request, code)
    panel = decision_panel(rollout)
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
            "stats": stats,
            "charts": json.loads(plotly_json(charts)),
            **gate_context(rollout),
            "judge": judge_summary(rollout),
            "panel": panel,
            "stepper": stepper_context(rollout, request.user, panel),
            **picker_context(
                rollout.feature, None, None, exclude=(rollout.baseline_id, rollout.candidate_id)
            ),
            # After the picker's context, whose "differences" (of a picked config) is empty here.
            "differences": config_differences(rollout.baseline, rollout.candidate),
            **_canary_partials(rollout),
        },
    )


def _canary_partials(rollout: Rollout) -> dict[str, Any]:
    """The canary charts (rollouts/views/canary.py) and the guardrail cards
    (rollouts/guardrails/evaluate.py), each drawn by its own partial."""
    # Imported here: canary.py imports this module for get_rollout_for_user.
    from rollouts.views.canary import canary_context

    return {**canary_context(rollout), **guardrails_context(rollout)}


def gate_context(rollout: Rollout) -> dict:
    """The gate partial's context (templates/rollouts/_gate.html): the latest gate, its charts
    and the configs a release manager may switch the candidate to."""
    gate = latest_gate(rollout)
    summary = gate_summary(gate) if gate else {}
    figures = [gate_dimension_figure(d).to_plotly_json() for d in summary.get("dimensions", [])]
    can_run = rollout.status == Rollout.Status.DRAFT or (
        rollout.status == Rollout.Status.GATE and services.gate_rerun_refusal(rollout, gate) is None
    )
    return {
        "gate_summary": summary,
        "gate_charts": [
            {"id": f"gate-figure-{i}", "figure": fig}
            for i, fig in enumerate(json.loads(plotly_json(figures)), start=1)
        ],
        "gate_can_run": can_run,
        "gate_stale": gate is not None and gate.candidate_id != rollout.candidate_id,
        "candidate_choices": [
            c.config
            for c in candidate_choices(
                rollout.feature, exclude=(rollout.baseline_id, rollout.candidate_id)
            )
        ],
    }


@require_GET
@login_required
@vary_on_headers("HX-Request")
def rollout_gate(request: HttpRequest, code) -> HttpResponse:
    """The gate partial alone, polled every 2 s while the gate runs. Once its verdict is in, a
    poll reloads the whole page, so the charts and actions that depend on it are drawn."""
    rollout = get_rollout_for_user(request, code)
    context = gate_context(rollout)
    response = render(request, "rollouts/_gate.html", {"rollout": rollout, **context})
    gate = context["gate_summary"].get("gate")
    if request.headers.get("HX-Request") and gate and gate.verdict != Gate.Verdict.RUNNING:
        response["HX-Refresh"] = "true"
    return response


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def plotly_json(value: Any) -> str:
    # Figures hold numpy arrays that Django's json_script encoder cannot write; Plotly's encoder
    # turns them into lists first.
    return json.dumps(value, cls=PlotlyJSONEncoder)
