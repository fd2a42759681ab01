"""Pages that bring in pairs without live traffic: offline comparisons, imports, replays.
Release managers only (checked here, in each view); the domain logic is in comparisons."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from comparisons.batches import ImportBatch, ReplayRun
from comparisons.services import importing, replay
from comparisons.services.offline import offline_comparison_create
from registry.errors import DomainError
from registry.models import Feature, ModelConfig, Rollout
from registry.roles import Role, require_role
from rollouts.views.rollouts import get_rollout_for_user
from traffic import pairformat


def _configs():
    return ModelConfig.objects.filter(archived=False).select_related("model_version")


class OfflineForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="e.g. 'support: 4o vs 4.1, March tickets'")
    feature = forms.ModelChoiceField(Feature.objects.order_by("key"), to_field_name="key")
    baseline = forms.ModelChoiceField(_configs(), help_text="Any config; usually the served one.")
    candidate = forms.ModelChoiceField(_configs())
    review_sample_percent = forms.FloatField(
        initial=100,
        min_value=0,
        max_value=100,
        help_text="Share of unflagged pairs that enter the review queue (flagged pairs always do).",
    )
    double_review_percent = forms.FloatField(initial=10, min_value=0, max_value=100)
    blinded = forms.BooleanField(initial=True, required=False)


class UploadForm(forms.Form):
    file = forms.FileField(help_text="JSONL (one record a line) or CSV with a header row.")


class ReplayForm(forms.Form):
    since = forms.DateTimeField(help_text="UTC, e.g. 2025-03-01 00:00")
    until = forms.DateTimeField(help_text="UTC; the range excludes this instant")
    sample = forms.IntegerField(initial=100, min_value=1, max_value=replay.MAX_SAMPLE)
    only_flagged = forms.BooleanField(
        required=False, help_text="Only requests with a flagged pair, or whose call failed."
    )
    only_negative = forms.BooleanField(
        required=False, help_text="Only requests with a thumbs down or a score of 1-2."
    )


def _form_errors(form: forms.Form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _reviewing(request: HttpRequest, code) -> Rollout:
    rollout = get_rollout_for_user(request, code, act=True)
    if rollout.status not in Rollout.REVIEWING:
        raise Http404("This rollout has ended; its pairs are no longer reviewed.")
    return rollout


@require_http_methods(["GET", "POST"])
@login_required
def offline_new(request: HttpRequest) -> HttpResponse:
    require_role(request.user, Role.RELEASE_MANAGER)
    form = OfflineForm(request.POST or None, initial={"feature": request.GET.get("feature")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            rollout = offline_comparison_create(actor=request.user, **data)
        except ValidationError as exc:
            _form_errors(form, exc)
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Offline comparison created: import or replay pairs.")
            return redirect("import_upload", code=rollout.code)
    return render(request, "rollouts/offline_new.html", {"form": form})


@require_http_methods(["GET", "POST"])
@login_required
def import_upload(request: HttpRequest, code) -> HttpResponse:
    """Step 1: upload, validate, preview. Nothing is imported until the preview is confirmed."""
    rollout = _reviewing(request, code)
    form = UploadForm(request.POST or None, request.FILES or None)
    context: dict = {"rollout": rollout, "form": form, "limits": _limits()}
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > importing.MAX_FILE_BYTES:
            form.add_error("file", f"The file is larger than {importing.MAX_FILE_BYTES} bytes.")
        else:
            parsed = importing.parse_file(upload.read(), file_name=upload.name)
            try:
                batch, preview = importing.import_stage(
                    rollout=rollout, parsed=parsed, actor=request.user, file_name=upload.name
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                context.update(batch=batch, preview=preview, file_name=upload.name)
    context["batches"] = ImportBatch.objects.filter(
        rollout=rollout, status=ImportBatch.Status.IMPORTED
    ).order_by("-id")[:20]
    return render(request, "rollouts/import.html", context)


@require_POST
@login_required
def import_confirm(request: HttpRequest, code) -> HttpResponse:
    """Step 2: create the previewed pairs, all or none."""
    rollout = _reviewing(request, code)
    try:
        batch = importing.import_confirm(
            batch_code=request.POST.get("batch", ""), actor=request.user
        )
    except importing.ImportRefused as exc:
        messages.error(request, f"{exc} " + "; ".join(str(e) for e in exc.errors[:5]))
        return redirect("import_upload", code=rollout.code)
    except (DomainError, ValidationError) as exc:
        messages.error(request, str(exc) if isinstance(exc, DomainError) else "Upload again.")
        return redirect("import_upload", code=rollout.code)
    messages.success(
        request,
        f"Imported {batch.pairs} pairs ({batch.flagged} flagged, {batch.queued} in the review "
        f"queue, {batch.unpinned} with an unpinned model id, imported as is).",
    )
    return redirect("rollout_detail", code=rollout.code)


def _limits() -> dict:
    return {
        "records": importing.MAX_RECORDS,
        "bytes": importing.MAX_FILE_BYTES,
        "text": pairformat.MAX_TEXT,
        "columns": importing.CSV_COLUMNS,
        "sample": replay.MAX_SAMPLE,
    }


@require_http_methods(["GET", "POST"])
@login_required
def replay_new(request: HttpRequest, code) -> HttpResponse:
    rollout = _reviewing(request, code)
    now = timezone.now().replace(second=0, microsecond=0)
    form = ReplayForm(
        request.POST or None, initial={"since": now - timedelta(days=7), "until": now}
    )
    if request.method == "POST" and form.is_valid():
        try:
            run = replay.replay_start(
                rollout=rollout,
                filters=replay.ReplayFilters(**form.cleaned_data),
                actor=request.user,
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("replay_detail", code=run.code)
    runs = ReplayRun.objects.filter(rollout=rollout).order_by("-id")[:20]
    return render(
        request,
        "rollouts/replay_new.html",
        {"rollout": rollout, "form": form, "runs": runs, "limits": _limits()},
    )


def _get_run_for_user(request: HttpRequest, code) -> ReplayRun:
    require_role(request.user, Role.RELEASE_MANAGER)
    run = ReplayRun.objects.select_related("rollout__feature").filter(code=code).first()
    if run is None:
        raise Http404("No such replay.")
    return run


@require_GET
@login_required
@vary_on_headers("HX-Request")
def replay_detail(request: HttpRequest, code) -> HttpResponse:
    run = _get_run_for_user(request, code)
    template = "rollouts/replay_detail.html"
    if getattr(request, "htmx", False):
        template += "#progress"
    return render(request, template, {"run": run, "rollout": run.rollout})


@require_POST
@login_required
def replay_resume(request: HttpRequest, code) -> HttpResponse:
    run = _get_run_for_user(request, code)
    if run.status == ReplayRun.Status.DONE:
        raise PermissionDenied("This replay is done.")
    replay.replay_resume(run=run)
    messages.success(request, "Sent to the workers again; pairs already stored are kept.")
    return redirect("replay_detail", code=run.code)
