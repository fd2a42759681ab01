"""The rollout list: every rollout with what it serves now, and one-click rollback for release
managers on the rollouts the state machine lets them roll back."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from registry.models import Rollout
from registry.roles import Role, has_role
from rollouts.services.plan import action_refusal


@require_GET
@login_required
def rollout_list(request: HttpRequest) -> HttpResponse:
    rollouts = list(
        Rollout.objects.select_related(
            "feature", "baseline__model_version", "candidate__model_version"
        ).order_by("-created")[:200]
    )
    acts = has_role(request.user, Role.RELEASE_MANAGER)
    rows = [
        (r, acts and r.is_active and action_refusal(r, request.user, "rollback") is None)
        for r in rollouts
    ]
    return render(request, "rollouts/rollout_list.html", {"rows": rows, "rollouts": rollouts})
