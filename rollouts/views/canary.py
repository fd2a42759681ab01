"""The canary charts of a rollout: the partial's context (templates/rollouts/_canary_charts.html)
and the same figures as JSON at /rollouts/<code>/charts/. Reads the per-minute roll-ups and the
rollout's events only, never the request log."""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from plotly.utils import PlotlyJSONEncoder

from comparisons.charts import Figure
from registry.models import AuditEvent, Rollout
from rollouts.charts_canary import VERDICTS_KEY, Marker, canary_figures, canary_verdicts_figure
from rollouts.models import Approval, Stage
from rollouts.verdict_reads import verdict_series
from traffic.metrics import rollout_series

from .rollouts import get_rollout_for_user

# At most about this many points per line: a week of minutes becomes 20-minute buckets. From 10
# minutes up every step is a whole number of ten-minute blocks, so a chart over more than two
# days reads blocks (a tenth of the rows) and only its edges from minutes.
MAX_POINTS = 600
STEPS_MINUTES = (1, 2, 5, 10, 20, 30, 60, 120, 180, 360, 720, 1440)


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


@dataclass(frozen=True)
class CanaryCharts:
    figures: dict[str, Figure]  # in display order
    start: datetime
    end: datetime
    step_minutes: int
    has_traffic: bool


def canary_charts_of(rollout: Rollout) -> CanaryCharts:
    """The figures over the rollout's life so far (per-minute roll-ups, read as ten-minute
    blocks where the step allows, and the rollout's events)."""
    start = rollout.created
    end = rollout.ended or timezone.now()
    step = chart_step(start, end)
    series = rollout_series(
        rollout_id=rollout.pk, start=start, end=end, step=timedelta(minutes=step)
    )
    markers = _markers(rollout)
    figures = canary_figures(series, markers=markers, step_minutes=step)
    verdicts = verdict_series(
        rollout_id=rollout.pk, start=start, end=end, step=timedelta(minutes=step)
    )
    figures[VERDICTS_KEY] = canary_verdicts_figure(verdicts, markers=markers)
    return CanaryCharts(
        figures=figures,
        start=start,
        end=end,
        step_minutes=step,
        has_traffic=any(v.requests for v in series["candidate"]),
    )


def canary_context(rollout: Rollout) -> dict[str, Any]:
    """The partial's context: `canary_charts` = [{"id", "key", "figure"}] (JSON-ready, in
    display order), plus the window and the bucket size."""
    charts = canary_charts_of(rollout)
    # Plotly's encoder turns any numpy array into lists json_script can write.
    plain = json.loads(
        json.dumps(
            {k: f.to_plotly_json() for k, f in charts.figures.items()}, cls=PlotlyJSONEncoder
        )
    )
    return {
        "canary_charts": [
            {"id": f"canary-{key}-figure", "key": key, "figure": plain[key]} for key in plain
        ],
        "canary_start": charts.start,
        "canary_end": charts.end,
        "canary_step_minutes": charts.step_minutes,
        "canary_has_traffic": charts.has_traffic,
    }


@require_GET
@login_required
def canary_charts(request: HttpRequest, code: str) -> JsonResponse:
    """Every signed-in user may read them, like the rollout page."""
    rollout = get_rollout_for_user(request, code)
    charts = canary_charts_of(rollout)
    # Encoded once, by plotly's encoder (numpy arrays, dates), straight from the figures.
    return JsonResponse(
        {
            "rollout": str(rollout.code),
            "start": charts.start.isoformat(),
            "end": charts.end.isoformat(),
            "step_minutes": charts.step_minutes,
            "figures": {k: f.to_plotly_json() for k, f in charts.figures.items()},
        },
        encoder=PlotlyJSONEncoder,
    )
