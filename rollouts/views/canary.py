"""The canary charts of a rollout: the partial's context (templates/rollouts/_canary_charts.html)
and the same figures as JSON at /rollouts/<code>/charts/. Reads the per-minute roll-ups and the
rollout's events only, never the request log."""

import json
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from plotly.utils import PlotlyJSONEncoder

from registry.models import AuditEvent, Rollout
from rollouts.charts_canary import METRICS, Marker, canary_figures
from rollouts.models import Approval, Stage
from traffic.metrics import rollout_series

from .rollouts import get_rollout_for_user

# At most about this many points per line: a week of minutes becomes 20-minute buckets.
MAX_POINTS = 600
STEPS_MINUTES = (1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 360, 720, 1440)


def chart_step(start: datetime, end: datetime) -> int:
    """The bucket size, in minutes, that draws [start, end) in at most MAX_POINTS points."""
    minutes = max((end - start).total_seconds() / 60, 1)
    return next((s for s in STEPS_MINUTES if minutes / s <= MAX_POINTS), STEPS_MINUTES[-1])


def _markers(rollout: Rollout) -> list[Marker]:
    markers = []
    for stage in Stage.objects.filter(rollout=rollout, started__isnull=False):
        share = "shadow" if stage.is_shadow else f"{stage.percent:g}%"
        markers.append(
            Marker(
                at=stage.started,  # type: ignore[arg-type]
                kind="stage",
                label=f"stage {stage.position + 1}: {share}",
                detail=f"Stage {stage.position + 1} ({share}) started",
            )
        )
    approvals = Approval.objects.filter(rollout=rollout).select_related("approver", "to_stage")
    for approval in approvals:
        who = approval.approver.get_username()
        markers.append(
            Marker(
                at=approval.created,
                kind="approval",
                label="approved",
                detail=f"{who} approved {approval.to_stage.percent:g}%: {approval.note[:200]}",
            )
        )
    rollbacks = AuditEvent.objects.filter(
        object_type=Rollout._meta.label_lower,
        object_id=str(rollout.code),
        action="rollout.rollback",
    ).only("created", "actor_label", "reason")
    for event in rollbacks:
        markers.append(
            Marker(
                at=event.created,
                kind="rollback",
                label="rolled back",
                detail=f"Rolled back by {event.actor_label}: {event.reason[:200]}",
            )
        )
    return markers


def canary_context(rollout: Rollout) -> dict[str, Any]:
    """The figures (JSON-ready) over the rollout's life so far, in display order:
    `canary_charts` = [{"id", "key", "figure"}], plus the window and the bucket size."""
    start = rollout.created
    end = rollout.ended or timezone.now()
    step = chart_step(start, end)
    series = rollout_series(
        rollout_id=rollout.pk, start=start, end=end, step=timedelta(minutes=step)
    )
    figures = canary_figures(series, markers=_markers(rollout), step_minutes=step)
    # Plotly's encoder turns the figures' numpy arrays into lists json_script can write.
    plain = json.loads(
        json.dumps({k: f.to_plotly_json() for k, f in figures.items()}, cls=PlotlyJSONEncoder)
    )
    return {
        "canary_charts": [
            {"id": f"canary-{m.key}-figure", "key": m.key, "figure": plain[m.key]} for m in METRICS
        ],
        "canary_start": start,
        "canary_end": end,
        "canary_step_minutes": step,
        "canary_has_traffic": any(v.requests for v in series["candidate"]),
    }


@require_GET
@login_required
def canary_charts(request: HttpRequest, code: str) -> JsonResponse:
    """Every signed-in user may read them, like the rollout page."""
    rollout = get_rollout_for_user(request, code)
    context = canary_context(rollout)
    return JsonResponse(
        {
            "rollout": str(rollout.code),
            "start": context["canary_start"].isoformat(),
            "end": context["canary_end"].isoformat(),
            "step_minutes": context["canary_step_minutes"],
            "figures": {c["key"]: c["figure"] for c in context["canary_charts"]},
        }
    )
