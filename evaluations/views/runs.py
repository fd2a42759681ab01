"""The run page: header, live progress (polled by htmx while the run is live), pass rates per
dimension, then the results with failures first."""

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from evaluations.models import Run
from evaluations.selectors import (
    MAX_FAILURES_SHOWN,
    MAX_PASSES_SHOWN,
    dimension_rates,
    failed_outcomes,
    run_failures,
    run_passes,
)
from evaluations.services.runs import run_cancel, run_progress
from registry.errors import DomainError
from registry.http import HtmxHttpRequest

from .access import get_run_for_user


def _live_context(run: Run) -> dict[str, Any]:
    """What the polled fragment shows: two aggregate queries, whatever the run's size."""
    return {"run": run, "progress": run_progress(run), "rates": dimension_rates(run)}


@require_GET
@login_required
@vary_on_headers("HX-Request")
def run_detail(request: HtmxHttpRequest, code: UUID) -> HttpResponse:
    run = get_run_for_user(request, code)
    if request.htmx:
        response = render(request, "evaluations/run_detail.html#live", _live_context(run))
        if run.ended and request.htmx.target == "run-live":
            # The page that polled was showing a live run: load it whole once, so the results
            # appear; the fragment itself has no trigger left, so polling stops either way.
            response["HX-Refresh"] = "true"
        return response
    failures = run_failures(run)
    for result in failures:
        result.failed = failed_outcomes(result)  # type: ignore[attr-defined]
    context = _live_context(run)
    progress = context["progress"]
    return render(
        request,
        "evaluations/run_detail.html",
        {
            **context,
            "failures": failures,
            "failures_hidden": max(0, progress.failed + progress.errors - len(failures)),
            "passes": run_passes(run),
            "passes_hidden": max(0, progress.passed - MAX_PASSES_SHOWN),
            "max_failures": MAX_FAILURES_SHOWN,
        },
    )


@require_POST
@login_required
def run_cancel_view(request: HtmxHttpRequest, code: UUID) -> HttpResponse:
    run = get_run_for_user(request, code, act=True)
    try:
        run_cancel(run=run, actor=request.user)
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Run cancelled: results not yet written are marked cancelled.")
    return redirect("eval_run_detail", code=run.code)
