"""Importing a suite from promptfoo files or JSONL: upload and preview, then confirm.

Release managers only (checked here, in each view). The previewed plan is staged signed in the
user's session (tamper-proof, bound to the user, refused after STAGED_HOURS) and removed when
confirmed, so a second confirm finds nothing to import; the suite's unique name is the
database's guard against two confirms racing each other.
"""

from datetime import timedelta
from typing import Any
from uuid import uuid4

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from evaluations.importers.plan import MAX_CASES, MAX_FILES, MAX_TOTAL_BYTES, ImportPlan
from evaluations.services.importing import ImportRefused, import_apply, import_plan
from registry.http import HtmxHttpRequest
from registry.models import Feature
from registry.roles import Role, require_role

from .describe import describe_assertion

SESSION_KEY = "evaluations.import_preview"
_SALT = "evaluations.import-preview"
STAGED_HOURS = 24


class ImportForm(forms.Form):
    feature = forms.ModelChoiceField(
        Feature.objects.order_by("key"), to_field_name="key", help_text="The suite's feature."
    )
    main = forms.CharField(
        required=False,
        max_length=300,
        label="Main file",
        help_text="The config (or JSONL file) among the uploads; leave empty when there is one "
        "file, or when the config is named promptfooconfig.yaml.",
    )


def _limits() -> dict[str, int]:
    return {"files": MAX_FILES, "bytes": MAX_TOTAL_BYTES, "cases": MAX_CASES}


def _read_uploads(request: HtmxHttpRequest, form: ImportForm) -> dict[str, bytes] | None:
    uploads = request.FILES.getlist("files")
    if not uploads:
        form.add_error(None, "Choose the files to import: the promptfoo config and its files.")
        return None
    # Refused before reading: the limits are what the plan would refuse anyway.
    if len(uploads) > MAX_FILES:
        form.add_error(None, f"{len(uploads)} files chosen; at most {MAX_FILES} per import.")
        return None
    if sum(u.size or 0 for u in uploads) > MAX_TOTAL_BYTES:
        form.add_error(None, f"The files add up to more than {MAX_TOTAL_BYTES // 2**20} MB.")
        return None
    files: dict[str, bytes] = {}
    for upload in uploads:
        name = upload.name or "upload"
        if name in files:
            form.add_error(
                None,
                f"Two files are named '{name}': a browser sends no folders, so rename one (or "
                "use the import_promptfoo command, which keeps folders).",
            )
            return None
        files[name] = upload.read()
    return files


def _stage(request: HtmxHttpRequest, plan: ImportPlan) -> str:
    token = uuid4().hex
    request.session[SESSION_KEY] = signing.dumps(
        {"token": token, "user": request.user.pk, "plan": plan.to_json()},
        salt=_SALT,
        compress=True,
    )
    return token


def _unstage(request: HtmxHttpRequest, token: str) -> ImportPlan | None:
    """The staged plan for this token, removed from the session at once (one confirm only)."""
    raw = request.session.pop(SESSION_KEY, None)
    request.session.save()
    if not raw or not token:
        return None
    try:
        staged: dict[str, Any] = signing.loads(
            raw, salt=_SALT, max_age=timedelta(hours=STAGED_HOURS)
        )
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if staged.get("token") != token or staged.get("user") != request.user.pk:
        return None
    return ImportPlan.from_json(staged["plan"])


def _drop_expired(request: HtmxHttpRequest) -> None:
    raw = request.session.get(SESSION_KEY)
    if raw is None:
        return
    try:
        signing.loads(raw, salt=_SALT, max_age=timedelta(hours=STAGED_HOURS))
    except signing.BadSignature:
        del request.session[SESSION_KEY]


@require_http_methods(["GET", "POST"])
@login_required
def import_upload(request: HtmxHttpRequest) -> HttpResponse:
    """Step 1: upload several files, see what would be created. Nothing is written."""
    require_role(request.user, Role.RELEASE_MANAGER)
    _drop_expired(request)
    form = ImportForm(request.POST or None, initial={"feature": request.GET.get("feature")})
    if request.method == "POST" and form.is_valid():
        files = _read_uploads(request, form)
        if files is not None:
            plan = import_plan(
                feature=form.cleaned_data["feature"],
                files=files,
                main=form.cleaned_data["main"] or None,
                actor=request.user,
            )
            token = _stage(request, plan) if plan.ok else ""
            rows = [(c, [describe_assertion(a) for a in c.assertions]) for c in plan.preview_cases]
            context = {"plan": plan, "token": token, "rows": rows, "form": form}
            return render(request, "evaluations/import_preview.html", context)
    return render(request, "evaluations/import.html", {"form": form, "limits": _limits()})


@require_POST
@login_required
def import_confirm(request: HtmxHttpRequest) -> HttpResponse:
    """Step 2: create the previewed suite and cases, all or none, once."""
    require_role(request.user, Role.RELEASE_MANAGER)
    plan = _unstage(request, request.POST.get("token", ""))
    if plan is None:
        messages.error(
            request,
            "Nothing imported: this preview was imported already, expired (previews are kept "
            f"{STAGED_HOURS} hours) or was replaced by a newer one; upload the files again.",
        )
        return redirect("eval_import")
    try:
        suite = import_apply(plan=plan, actor=request.user)
    except ImportRefused as exc:
        messages.error(request, str(exc))
        return redirect("eval_import")
    messages.success(
        request,
        f"Imported suite '{suite.name}' with {len(plan.cases)} case"
        f"{'s' if len(plan.cases) != 1 else ''}"
        + (f" ({len(plan.warnings)} warnings were reported)." if plan.warnings else "."),
    )
    return redirect("eval_suite_detail", code=suite.code)
