"""Rollout pages: reading is open to every signed-in user, acting needs a release manager."""

import json
import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from plotly.utils import PlotlyJSONEncoder

from comparisons.charts import similarity_figure, verdicts_over_time_figure, worse_rate_figure
from comparisons.models import ShadowPair
from comparisons.services.stats import rollout_review_stats, similarity_values
from evaluations.charts import gate_dimension_figure
from evaluations.models import Gate
from evaluations.services.gates import gate_acknowledge, gate_summary, latest_gate
from registry.errors import DomainError
from registry.models import Feature, ModelConfig, Rollout, ShadowDay, ShadowJob
from registry.roles import Role, require_role
from rollouts.judging import judge_summary
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
    judge_config = forms.ModelChoiceField(
        ModelConfig.objects.filter(archived=False).select_related("model_version"),
        required=False,
        help_text="Optional: a pinned config that also judges each shadow pair, in both orders. "
        "Its verdicts are kept apart from reviewers' labels.",
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
                judge_config=data["judge_config"],
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
            **gate_context(rollout),
            "judge": judge_summary(rollout),
        },
    )


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
        "candidate_choices": ModelConfig.objects.filter(archived=False)
        .exclude(pk__in=(rollout.baseline_id, rollout.candidate_id))
        .select_related("model_version")
        .order_by("name")[:200],
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
        elif action == "gate":
            services.rollout_start_gate(
                rollout=rollout, actor=request.user, trials=_int(request.POST, "trials", 1)
            )
        elif action == "acknowledge":
            gate = latest_gate(rollout)
            if gate is None or gate.candidate_id != rollout.candidate_id:
                raise DomainError("There is no gate on this candidate to acknowledge.")
            gate_acknowledge(gate=gate, actor=request.user, note=request.POST.get("note", ""))
        elif action == "candidate":
            code = _uuid(request.POST, "candidate")
            candidate = ModelConfig.objects.filter(code=code).first() if code else None
            if candidate is None:
                raise ValidationError({"candidate": "Pick the config to gate next."})
            services.rollout_change_candidate(
                rollout=rollout, candidate=candidate, actor=request.user, reason=reason
            )
        elif action == "judge":
            code = _uuid(request.POST, "judge_config")
            judge = ModelConfig.objects.filter(code=code).first() if code else None
            if code and judge is None:
                raise ValidationError({"judge_config": "No such config; pick one from the list."})
            services.rollout_set_judge(
                rollout=rollout, judge_config=judge, actor=request.user, reason=reason
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


def _int(data: QueryDict, name: str, default: int) -> int:
    raw = data.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationError({name: "Give a whole number."}) from None


def _uuid(data: QueryDict, name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(data.get(name, ""))
    except ValueError:
        return None


def plotly_json(value) -> str:
    # Figures hold numpy arrays that Django's json_script encoder cannot write; Plotly's encoder
    # turns them into lists first.
    return json.dumps(value, cls=PlotlyJSONEncoder)
