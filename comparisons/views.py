"""Review pages: the queue (keyboard first, HTMX, and plain forms without JavaScript)."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event

from comparisons.diffing import VIEWS, diff_note, output_view
from comparisons.flags import OPEN_SIDES, flag_label
from comparisons.forms import PairFilter, QueueFilter
from comparisons.models import Label, ShadowPair
from comparisons.rendering import marked_html, trusted
from comparisons.services import adjudication, review
from comparisons.services.diffs import pair_diff_stored
from registry.errors import DomainError
from registry.http import HtmxHttpRequest
from registry.models import Rollout
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
            "imported",  # an imported pair's model ids and pinning mark, in the same query
        )
        .filter(code=code)
        .first()
    )
    if pair is None:
        raise Http404("No such pair.")
    return pair


def pair_view(
    pair: ShadowPair, reviewer, *, reveal: bool | None = None, view: str = "", query: str = ""
) -> dict:
    """What the page shows of a pair: left and right sides (blinded or not) with their diff.

    `reveal` says whether this person may learn which side is the candidate (decided by the
    calling view through review.sides_visible); by default only on an unblinded rollout, as in
    the queue. Without it nothing side-specific is named: flags, JSON key changes and
    latencies read in A/B terms, and no signed latency delta points at the candidate."""
    if reveal is None:
        reveal = not pair.rollout.blinded
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
    # Stored once per pair (computed here only for pairs older than the stored diff).
    stored = pair_diff_stored(pair=pair)
    diff = stored.diff.swapped() if candidate_left else stored.diff
    html = {"baseline": stored.baseline_html, "candidate": stored.candidate_html}
    for side, marks in zip(sides, (diff.left, diff.right), strict=True):
        side["rendered"] = trusted(html[str(side["role"])])
        side["marked"] = marked_html(str(side["output"]), marks)
    sides[0]["name"], sides[1]["name"] = "A", "B"
    names = {str(side["role"]): str(side["name"]) for side in sides}
    shown = OPEN_SIDES if reveal else names
    return {
        "pair": pair,
        "sides": sides,
        "blinded": pair.rollout.blinded,
        "show_roles": reveal,
        "flag_labels": [flag_label(f, sides=shown) for f in pair.flags],
        "keys_added": f"only in {'the candidate' if reveal else names['candidate']}",
        "keys_removed": f"only in {'the baseline' if reveal else names['baseline']}",
        "structure": pair.metrics.get("structure"),
        "diff": diff,
        "diff_note": diff_note(diff),
        "view": output_view(view, diff),
        # The links of the rendered / diff / raw toggle keep the page's other parameters.
        "view_links": {v: f"?{query}{'&' if query else ''}view={v}" for v in VIEWS},
    }


def _view(request: HtmxHttpRequest) -> str:
    """The output view asked for (?view=rendered|diff|raw), checked by pair_view."""
    return request.GET.get("view", "")


def _query_without_view(request: HtmxHttpRequest) -> str:
    """The page's other parameters, kept by the links of the output view toggle."""
    others = request.GET.copy()
    others.pop("view", None)
    return others.urlencode()


def _skipped(request: HtmxHttpRequest) -> tuple[int, ...]:
    return tuple(request.session.get("review_skipped", []))[-200:]


def _queue_filter(request: HtmxHttpRequest) -> QueueFilter:
    """Which rollout's queue (?rollout=<code>, or a hidden field on the panel's forms)."""
    form = QueueFilter(request.POST if request.method == "POST" else request.GET)
    form.is_valid()  # an unknown code shows its error above the queue of all rollouts
    return form


def _queue_query(form: QueueFilter) -> str:
    rollout = form.chosen()
    return f"rollout={rollout.code}" if rollout else ""


def _render_panel(
    request: HtmxHttpRequest, context: dict, *, queue: QueueFilter | None = None
) -> HttpResponse:
    """The review page, or only its panel for htmx (the server picks the fragment)."""
    queue = queue or _queue_filter(request)
    template = "comparisons/review.html" + ("#review-panel" if request.htmx else "")
    return render(
        request,
        template,
        {
            "dimensions": Label.DIMENSIONS,
            "queue": queue,
            "queue_rollout": queue.chosen(),
            "queue_query": _queue_query(queue),
            **context,
        },
    )


def _panel(request: HtmxHttpRequest, *, revealed: dict | None = None) -> HttpResponse:
    """The next pair for this reviewer, from the chosen rollout's queue (or all)."""
    queue = _queue_filter(request)
    pair = review.next_pair_for(request.user, skip=_skipped(request), rollout=queue.chosen())
    context = {"revealed": revealed}
    if pair is not None:
        view, query = _view(request), _query_without_view(request)
        context |= pair_view(pair, request.user, view=view, query=query)
    return _render_panel(request, context, queue=queue)


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
        "covers": label.copies.count(),
    }


@require_POST
@login_required
def review_label(request: HtmxHttpRequest, code) -> HttpResponse:
    require_role(request.user, Role.REVIEWER)
    pair = get_pair_for_user(request, code)
    # The form shows only where a label is wanted; a hand-made POST is held to the same rule.
    # A pair the queue handed to this reviewer (reserved) stays labellable even if a racing
    # reviewer filled it meanwhile: it then simply collects one label more.
    if not review.label_allowed(pair=pair, reviewer=request.user):
        raise PermissionDenied(
            "This pair has all the labels it asks for (or its rollout is no longer in review)."
        )
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
        query = _queue_query(_queue_filter(request))
        return redirect(f"{reverse('review_queue')}?saved={pair.code}&{query}".rstrip("&"))
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
        query = _queue_query(_queue_filter(request))
        return redirect(f"{reverse('review_queue')}?{query}".rstrip("?"))
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
        query = _queue_query(_queue_filter(request))
        return redirect(f"{reverse('review_queue')}?{query}".rstrip("?"))
    return _panel(request)


@require_GET
@login_required
def review_progress(request: HtmxHttpRequest) -> HttpResponse:
    """How many labels wait for me and how long they take at my recent pace: a fragment the
    queue page loads and refreshes after each label (labelSaved), so the count never slows
    down the page itself."""
    require_role(request.user, Role.REVIEWER)
    rollout = _queue_filter(request).chosen()
    waiting = review.waiting_count(request.user, rollout=rollout)
    done = Label.objects.filter(
        reviewer=request.user, covered_by=None, updated__date=timezone.now().date()
    )
    context = {
        "waiting": waiting,
        "more": waiting > 1000,
        "done_today": done.count(),
        "estimate": review.pace_estimate(reviewer=request.user, remaining=waiting),
        "queue_rollout": rollout,
    }
    return render(request, "comparisons/review.html#progress", context)


@require_GET
@login_required
def review_recent(request: HtmxHttpRequest) -> HttpResponse:
    """My latest labels, each linking to its pair (refreshed after each label)."""
    require_role(request.user, Role.REVIEWER)
    recent = review.recent_labels(reviewer=request.user)
    return render(request, "comparisons/review.html#recent", {"recent": recent})


@require_GET
@login_required
def pair_detail(request: HtmxHttpRequest, code) -> HttpResponse:
    pair = get_pair_for_user(request, code)
    labels = list(pair.labels.select_related("reviewer").order_by("id"))
    mine = next((label for label in labels if label.reviewer_id == request.user.pk), None)
    reveal = review.sides_visible(pair, request.user, labelled=mine is not None)
    view, query = _view(request), _query_without_view(request)
    context = pair_view(pair, request.user, reveal=reveal, view=view, query=query) | {
        # Other reviewers' verdicts are in candidate terms and their comments name sides: a
        # blinded reviewer sees only how many there are until they have labelled.
        "labels": labels if reveal else [],
        "hidden_labels": 0 if reveal else len(labels),
        "mine": mine,
        "covers": mine.copies.count() if mine else 0,
        "my_choice": _choice_for(mine, review.candidate_on_left(pair, request.user)),
        "dimensions": Label.DIMENSIONS,
        "can_label": has_role(request.user, Role.REVIEWER)
        and review.label_wanted(pair, labelled=mine is not None),
    }
    return render(request, "comparisons/pair_detail.html", context)


def _choice_for(label: Label | None, candidate_left: bool) -> str:
    """A stored verdict shown as the on-screen choice (the inverse of review.verdict_for)."""
    if label is None or label.verdict in ("same", "both_bad"):
        return label.verdict if label else ""
    candidate_won = label.verdict == Label.Verdict.BETTER
    return "left" if candidate_won == candidate_left else "right"


PAGE = 50


def _pair_row(pair: ShadowPair, user) -> dict:
    """One row of the pair list as this user may see it: the two outputs in their A/B order
    (A left, as in the queue and on the pair page), flags in those terms, and the roles only
    where review.sides_visible allows."""
    reveal = review.sides_visible(pair, user, labelled=bool(getattr(pair, "labelled", False)))
    baseline = {"role": "baseline", "text": pair.baseline_error or pair.baseline_output}
    candidate = {"role": "candidate", "text": pair.candidate_error or pair.candidate_output}
    sides = [baseline, candidate]
    if review.candidate_on_left(pair, user):
        sides.reverse()
    sides[0]["name"], sides[1]["name"] = "A", "B"
    names = OPEN_SIDES if reveal else {str(s["role"]): str(s["name"]) for s in sides}
    return {
        "pair": pair,
        "reveal": reveal,
        "sides": sides,
        "by_role": [baseline, candidate],
        "flags": [flag_label(f, sides=names) for f in pair.flags],
    }


@require_GET
@login_required
@vary_on_headers("HX-Request")
def pair_list(request: HtmxHttpRequest) -> HttpResponse:
    """Every pair, filterable, newest first, paged by key (?before=<id>) so a deep page costs
    what the first does."""
    if not (has_role(request.user, Role.REVIEWER) or has_role(request.user, Role.RELEASE_MANAGER)):
        raise PermissionDenied("Pairs are for reviewers and release managers.")
    form = PairFilter(request.GET, viewer=request.user)
    mine = Label.objects.filter(pair=OuterRef("pk"), reviewer=request.user)
    pairs: QuerySet[ShadowPair] = (
        ShadowPair.objects.select_related("rollout__feature")
        .annotate(labelled=Exists(mine))
        .order_by("-id")
    )
    if form.is_valid():
        pairs = form.apply(pairs)
    page = list(pairs[: PAGE + 1])
    query = request.GET.copy()
    query.pop("before", None)
    context = {
        "pairs": page[:PAGE],
        "rows": [_pair_row(p, request.user) for p in page[:PAGE]],
        # Release managers read every row in the truth's terms; reviewers in their A/B.
        "by_role": has_role(request.user, Role.RELEASE_MANAGER),
        "form": form,
        "query": query.urlencode(),
        "next_before": page[PAGE - 1].pk if len(page) > PAGE else None,
    }
    template = "comparisons/pair_list.html" + ("#results" if request.htmx else "")
    return render(request, template, context)


# --- Adjudication: a third person settles a disagreement (comparisons/services/adjudication.py)

ADJUDICATION_CHOICES = {
    "left": "A better",
    "same": "Same",
    "right": "B better",
    "both_bad": "Both bad",
}


def _require_adjudicator(user) -> None:
    if not (has_role(user, Role.REVIEWER) or has_role(user, Role.RELEASE_MANAGER)):
        raise PermissionDenied("Adjudication is for reviewers and release managers.")


def _rollout_filter(request: HtmxHttpRequest) -> Rollout | None:
    code = request.GET.get("rollout", "")
    if not code:
        return None
    try:
        return Rollout.objects.select_related("feature").get(code=uuid.UUID(code))
    except (ValueError, Rollout.DoesNotExist):
        raise Http404("No such rollout: give ?rollout=<code> from the rollout page.") from None


def _adjudication_page(
    request: HtmxHttpRequest, pair: ShadowPair | None, *, status: int = 200, **extra
) -> HttpResponse:
    rollout = _rollout_filter(request)
    waiting = list(
        adjudication.awaiting_adjudication(
            rollout=rollout, excluding_labeller=request.user
        ).select_related("rollout__feature")[: PAGE + 1]
    )
    context: dict = {"waiting": waiting[:PAGE], "more": len(waiting) > PAGE, "rollout": rollout}
    context["query"] = f"?rollout={rollout.code}" if rollout else ""
    context["choices"] = ADJUDICATION_CHOICES
    if pair is not None:
        candidate_left = review.candidate_on_left(pair, request.user)
        # Release managers see the truth; a reviewer adjudicating a blinded pair sees A and B
        # (an adjudicator never labelled the pair).
        reveal = review.sides_visible(pair, request.user, labelled=False)
        view = pair_view(pair, request.user, reveal=reveal)
        labels = list(pair.labels.select_related("reviewer").order_by("id"))
        context |= view | {
            "labels": [
                (label, ADJUDICATION_CHOICES[_choice_for(label, candidate_left)])
                for label in labels
            ],
            "decided": getattr(pair, "adjudication", None),
        }
    return render(request, "comparisons/adjudicate.html", context | extra, status=status)


@require_GET
@login_required
def adjudication_queue(request: HtmxHttpRequest) -> HttpResponse:
    """The oldest disagreement this person may settle, with the list of the others."""
    _require_adjudicator(request.user)
    first = (
        adjudication.awaiting_adjudication(
            rollout=_rollout_filter(request), excluding_labeller=request.user
        )
        .values_list("code", flat=True)
        .first()
    )
    pair = get_pair_for_user(request, first) if first else None
    return _adjudication_page(request, pair)


@require_http_methods(["GET", "POST"])
@login_required
def adjudication_pair(request: HtmxHttpRequest, code) -> HttpResponse:
    _require_adjudicator(request.user)
    pair = get_pair_for_user(request, code)
    if adjudication.labelled_by(pair=pair, user=request.user):
        raise PermissionDenied(
            "You labelled this pair: a third reviewer or a release manager adjudicates it."
        )
    if request.method == "GET":
        return _adjudication_page(request, pair)
    choice, note = request.POST.get("choice", ""), request.POST.get("note", "")
    try:
        decided = adjudication.adjudication_record(
            pair=pair, adjudicator=request.user, choice=choice, note=note
        )
    except ValidationError as exc:
        return _adjudication_page(
            request, pair, errors=exc.message_dict, choice=choice, note=note, status=422
        )
    except adjudication.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from None
    except DomainError as exc:  # Conflict (adjudicated first by someone else) and the rest
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Recorded: {decided.get_verdict_display().lower()}.")
    return redirect(reverse("adjudication_queue") + _query(request))


def _query(request: HtmxHttpRequest) -> str:
    rollout = _rollout_filter(request)
    return f"?rollout={rollout.code}" if rollout else ""
