"""Suite and case pages: reading is open to every signed-in user, writing needs a release
manager. The services validate and audit; these views only carry forms to them."""

from itertools import groupby
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from evaluations.assertions import is_judged
from evaluations.forms import CaseForm, RunForm, SuiteForm, save_or_errors
from evaluations.models import Dimension, Suite
from evaluations.selectors import features_with_suites, suite_runs
from evaluations.services import runs as run_services
from evaluations.services import suites as services
from registry.errors import DomainError
from registry.http import HtmxHttpRequest
from registry.roles import Role, require_role

from .access import get_case_for_user, get_suite_for_user
from .describe import describe_assertion


@require_GET
@login_required
def suite_list(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "evaluations/suite_list.html", {"features": features_with_suites()})


@require_http_methods(["GET", "POST"])
@login_required
def suite_new(request: HtmxHttpRequest) -> HttpResponse:
    require_role(request.user, Role.RELEASE_MANAGER)
    form = SuiteForm(request.POST or None, initial={"feature": request.GET.get("feature")})
    if request.method == "POST" and form.is_valid():
        fields = form.suite_fields()
        suite = save_or_errors(
            form,
            lambda: services.suite_create(
                feature=form.cleaned_data["feature"], actor=request.user, **fields
            ),
        )
        if suite is not None:
            messages.success(request, f"Suite '{suite.name}' created: add its cases.")
            return redirect("eval_suite_detail", code=suite.code)
    return render(request, "evaluations/suite_form.html", {"form": form, "suite": None})


@require_GET
@login_required
def suite_detail(request: HtmxHttpRequest, code: UUID) -> HttpResponse:
    suite = get_suite_for_user(request, code)
    return _render_suite(
        request, suite, RunForm(initial={"config": suite.feature.served_config_id})
    )


def _render_suite(
    request: HtmxHttpRequest, suite: Suite, run_form: RunForm, status: int = 200
) -> HttpResponse:
    order = {value: index for index, value in enumerate(Dimension.values)}
    cases = sorted(
        suite.cases.all(),
        key=lambda c: (order.get(c.dimension, 99), not c.critical, c.position, c.pk),
    )
    for case in cases:
        case.described = [  # type: ignore[attr-defined]
            describe_assertion(a) for a in case.assertions if isinstance(a, dict)
        ]
    published = [c for c in cases if not c.draft]
    # Drafts never run, so only published cases make a missing judge worth a warning.
    n_judged = sum(
        any(isinstance(a, dict) and is_judged(str(a.get("type"))) for a in c.assertions)
        for c in published
    )
    labels = dict(Dimension.choices)
    groups = [
        (labels.get(dim, dim), list(items))
        for dim, items in groupby(published, key=lambda c: c.dimension)
    ]
    return render(
        request,
        "evaluations/suite_detail.html",
        {
            "suite": suite,
            "groups": groups,
            "n_cases": len(published),
            "n_judged_cases": n_judged,
            "drafts": [c for c in cases if c.draft],
            "runs": suite_runs(suite),
            "run_form": run_form,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@login_required
def suite_edit(request: HtmxHttpRequest, code: UUID) -> HttpResponse:
    suite = get_suite_for_user(request, code, act=True)
    form = SuiteForm(request.POST or None, suite=suite)
    if request.method == "POST" and form.is_valid():
        fields = form.suite_fields()
        if save_or_errors(
            form, lambda: services.suite_update(suite=suite, actor=request.user, **fields)
        ):
            messages.success(request, "Suite saved.")
            return redirect("eval_suite_detail", code=suite.code)
    return render(request, "evaluations/suite_form.html", {"form": form, "suite": suite})


@require_POST
@login_required
def run_create(request: HtmxHttpRequest, code: UUID) -> HttpResponse:
    suite = get_suite_for_user(request, code, act=True)
    form = RunForm(request.POST)
    if form.is_valid():
        try:
            run = run_services.run_create(
                suite=suite,
                config=form.cleaned_data["config"],
                trials=form.cleaned_data["trials"],
                actor=request.user,
            )
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("eval_run_detail", code=run.code)
    return _render_suite(request, suite, form, status=400)


@require_http_methods(["GET", "POST"])
@login_required
def case_new(request: HtmxHttpRequest, code: UUID) -> HttpResponse:
    suite = get_suite_for_user(request, code, act=True)
    form = CaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        fields = form.case_fields()
        case = save_or_errors(
            form, lambda: services.case_create(suite=suite, actor=request.user, **fields)
        )
        if case is not None:
            messages.success(request, f"Case '{case.name}' added.")
            return redirect("eval_suite_detail", code=suite.code)
    return render(request, "evaluations/case_form.html", {"form": form, "suite": suite})


@require_http_methods(["GET", "POST"])
@login_required
def case_edit(request: HtmxHttpRequest, code: UUID) -> HttpResponse:
    case = get_case_for_user(request, code, act=True)
    form = CaseForm(request.POST or None, case=case)
    if request.method == "POST" and form.is_valid():
        fields = form.case_fields()
        saved = save_or_errors(
            form, lambda: services.case_update(case=case, actor=request.user, **fields)
        )
        if saved is not None:
            messages.success(request, f"Case '{saved.name}' saved.")
            return redirect("eval_suite_detail", code=case.suite.code)
    return render(
        request, "evaluations/case_form.html", {"form": form, "suite": case.suite, "case": case}
    )


@require_POST
@login_required
def case_delete(request: HtmxHttpRequest, code: UUID) -> HttpResponse:
    case = get_case_for_user(request, code, act=True)
    try:
        services.case_delete(case=case, actor=request.user)
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Case '{case.name}' deleted.")
    return redirect("eval_suite_detail", code=case.suite.code)


@require_POST
@login_required
def case_publish(request: HtmxHttpRequest, code: UUID) -> HttpResponse:
    case = get_case_for_user(request, code, act=True)
    try:
        services.case_publish(case=case, actor=request.user)
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Case '{case.name}' published: it runs from the next run on.")
    return redirect("eval_suite_detail", code=case.suite.code)
