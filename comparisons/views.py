"""Review pages: the queue (keyboard first, HTMX, and plain forms without JavaScript)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event

from comparisons.diffing import word_diff
from comparisons.forms import PairFilter
from comparisons.models import Label, ShadowPair
from comparisons.services import review
from registry.http import HtmxHttpRequest
from registry.roles import Role, has_role, require_role


def get_pair_for_user(request: HtmxHttpRequest, code) -> ShadowPair:
    if not (has_role(request.user, Role.REVIEWER) or has_role(request.user, Role.RELEASE_MANAGER)):
        raise PermissionDenied("Pairs are for reviewers and release managers.")
    pair = (
        ShadowPair.objects.select_related(
            "rollout__feature",
            "request",
            "baseline_config__model_version",
            "candidate_config__model_version",
        )
        .filter(code=code)
        .first()
    )
    if pair is None:
        raise Http404("No such pair.")
    return pair


def pair_view(pair: ShadowPair, reviewer) -> dict:
    """What the page shows of a pair: left and right sides (blinded or not) with their diff."""
    candidate_left = review.candidate_on_left(pair, reviewer)
    sides = [
        {
            "output": pair.baseline_output,
            "error": pair.baseline_error,
            "role": "baseline",
            "config": pair.baseline_config,
            "latency": pair.baseline_latency_ms,
        },
        {
            "output": pair.candidate_output,
            "error": pair.candidate_error,
            "role": "candidate",
            "config": pair.candidate_config,
            "latency": pair.candidate_latency_ms,
        },
    ]
    if candidate_left:
        sides.reverse()
    left, right = word_diff(str(sides[0]["output"]), str(sides[1]["output"]))
    sides[0]["segments"], sides[1]["segments"] = left, right
    sides[0]["name"], sides[1]["name"] = "A", "B"
    return {
        "pair": pair,
        "sides": sides,
        "blinded": pair.rollout.blinded,
        "show_roles": not pair.rollout.blinded,
        "structure": pair.metrics.get("structure"),
    }


def _skipped(request: HtmxHttpRequest) -> tuple[int, ...]:
    return tuple(request.session.get("review_skipped", []))[-200:]


def _render_panel(request: HtmxHttpRequest, context: dict) -> HttpResponse:
    """The review page, or only its panel for htmx (the server picks the fragment)."""
    template = "comparisons/review.html" + ("#review-panel" if request.htmx else "")
    return render(request, template, {"dimensions": Label.DIMENSIONS, **context})


def _panel(request: HtmxHttpRequest, *, revealed: dict | None = None) -> HttpResponse:
    """The next pair for this reviewer."""
    pair = review.next_pair_for(request.user, skip=_skipped(request))
    context = {"revealed": revealed}
    if pair is not None:
        context |= pair_view(pair, request.user)
    return _render_panel(request, context)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def review_queue(request: HtmxHttpRequest) -> HttpResponse:
    # The one documented exception to "no GET changes the database": showing a pair reserves
    # it for this reviewer (a courtesy lock that expires on its own), so two reviewers are not
    # shown the same pair at once. Losing a reservation costs nothing; a POST per page view
    # would cost a round trip before the first pair. Tested in tests/test_get_writes_nothing.py.
    require_role(request.user, Role.REVIEWER)
    revealed = None
    saved = request.GET.get("saved")
    if saved:
        label = (
            Label.objects.filter(pair__code=saved, reviewer=request.user)
            .select_related("pair__rollout", "pair__candidate_config__model_version")
            .first()
        )
        revealed = _reveal(label, request.user) if label else None
    return _panel(request, revealed=revealed)


def _reveal(label: Label, reviewer) -> dict:
    candidate_left = review.candidate_on_left(label.pair, reviewer)
    return {
        "label": label,
        "candidate_side": "A" if candidate_left else "B",
        "model": label.pair.candidate_config.model_version.model_id,
    }


@require_POST
@login_required
def review_label(request: HtmxHttpRequest, code) -> HttpResponse:
    require_role(request.user, Role.REVIEWER)
    pair = get_pair_for_user(request, code)
    data = review.LabelInput(
        choice=request.POST.get("choice", ""),
        dimensions=tuple(request.POST.getlist("dimensions")),
        critical=request.POST.get("critical") == "on",
        comment=request.POST.get("comment", "").strip(),
    )
    try:
        label = review.label_save(pair=pair, reviewer=request.user, data=data)
    except ValidationError as exc:
        # 200, not 422: htmx swaps only successful responses, and the error must be seen.
        return _render_panel(request, pair_view(pair, request.user) | {"errors": exc.message_dict})
    if request.POST.get("return") == "pair":
        return redirect("pair_detail", code=pair.code)
    if not request.htmx:
        return redirect(f"{reverse('review_queue')}?saved={pair.code}")
    response = _panel(request, revealed=_reveal(label, request.user))
    return trigger_client_event(response, "labelSaved", {"pair": str(pair.code)})


@require_POST
@login_required
def review_skip(request: HtmxHttpRequest, code) -> HttpResponse:
    require_role(request.user, Role.REVIEWER)
    pair = get_pair_for_user(request, code)
    review.release(pair, request.user)
    request.session["review_skipped"] = [*_skipped(request), pair.pk]
    if not request.htmx:
        return redirect("review_queue")
    return _panel(request)


@require_POST
@login_required
def review_undo(request: HtmxHttpRequest) -> HttpResponse:
    require_role(request.user, Role.REVIEWER)
    pair = review.label_undo(reviewer=request.user)
    if pair is not None:
        # Show the pair again at once: it is first in line for this reviewer now.
        request.session["review_skipped"] = [p for p in _skipped(request) if p != pair.pk]
        response = _render_panel(request, pair_view(pair, request.user) | {"undone": True})
        return trigger_client_event(response, "labelSaved", {})
    if not request.htmx:
        return redirect("review_queue")
    return _panel(request)


@require_GET
@login_required
def review_progress(request: HtmxHttpRequest) -> HttpResponse:
    """How many pairs wait for me: a fragment the queue page loads and refreshes after each
    label (labelSaved), so the count never slows down the page itself."""
    require_role(request.user, Role.REVIEWER)
    waiting = review.waiting_count(request.user)
    done = Label.objects.filter(reviewer=request.user, updated__date=timezone.now().date())
    return render(
        request,
        "comparisons/review.html#progress",
        {"waiting": waiting, "more": waiting > 1000, "done_today": done.count()},
    )


@require_GET
@login_required
def pair_detail(request: HtmxHttpRequest, code) -> HttpResponse:
    pair = get_pair_for_user(request, code)
    labels = list(pair.labels.select_related("reviewer").order_by("id"))
    mine = next((label for label in labels if label.reviewer_id == request.user.pk), None)
    context = pair_view(pair, request.user) | {
        "labels": labels,
        "mine": mine,
        "my_choice": _choice_for(mine, review.candidate_on_left(pair, request.user)),
        "dimensions": Label.DIMENSIONS,
        "can_label": has_role(request.user, Role.REVIEWER),
    }
    return render(request, "comparisons/pair_detail.html", context)


def _choice_for(label: Label | None, candidate_left: bool) -> str:
    """A stored verdict shown as the on-screen choice (the inverse of review.verdict_for)."""
    if label is None or label.verdict in ("same", "both_bad"):
        return label.verdict if label else ""
    candidate_won = label.verdict == Label.Verdict.BETTER
    return "left" if candidate_won == candidate_left else "right"


PAGE = 50


@require_GET
@login_required
@vary_on_headers("HX-Request")
def pair_list(request: HtmxHttpRequest) -> HttpResponse:
    """Every pair, filterable, newest first, paged by key (?before=<id>) so a deep page costs
    what the first does."""
    if not (has_role(request.user, Role.REVIEWER) or has_role(request.user, Role.RELEASE_MANAGER)):
        raise PermissionDenied("Pairs are for reviewers and release managers.")
    form = PairFilter(request.GET)
    pairs = ShadowPair.objects.select_related("rollout__feature").order_by("-id")
    if form.is_valid():
        pairs = form.apply(pairs)
    page = list(pairs[: PAGE + 1])
    query = request.GET.copy()
    query.pop("before", None)
    context = {
        "pairs": page[:PAGE],
        "form": form,
        "query": query.urlencode(),
        "next_before": page[PAGE - 1].pk if len(page) > PAGE else None,
    }
    template = "comparisons/pair_list.html" + ("#results" if request.htmx else "")
    return render(request, template, context)
