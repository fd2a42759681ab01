"""Canary charts: candidate vs baseline over time, from the per-minute roll-ups (plain data in,
plotly figures out; tested on fig.to_dict()).

Every figure has a date x axis, axis titles, the legend below the plot, and the rollout's
events drawn across it: stage boundaries (grey dashed lines, labelled with the stage's share),
approvals (green dotted lines, with who approved on hover) and rollbacks (red lines). Without
canary traffic a figure is a message, not empty axes.
"""

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from comparisons.charts import Figure, empty_figure, figure
from rollouts.verdict_reads import VerdictView
from traffic.metrics import MinuteView

HEIGHT = 300
COLOURS = {"baseline": "#5b6472", "candidate": "#1f5fbf"}
NAMES = {"baseline": "baseline", "candidate": "candidate"}
MARKER_STYLE = {
    "stage": {"color": "#8a94a6", "dash": "dash", "width": 1},
    "approval": {"color": "#2f7d4f", "dash": "dot", "width": 1.5},
    "rollback": {"color": "#b3261e", "dash": "solid", "width": 2},
}
GRID = "#ebf0f8"
EMPTY = "No canary traffic yet: the charts fill in once the candidate serves requests."


@dataclass(frozen=True)
class Marker:
    """An event drawn across every chart: kind is "stage", "approval" or "rollback"."""

    at: datetime
    kind: str
    label: str  # short, shown at the top of the line
    detail: str = ""  # on hover


@dataclass(frozen=True)
class Metric:
    key: str
    title: str
    y_title: str
    value: Callable[[MinuteView], float | int | None]
    tickformat: str = ""
    rate: bool = False  # a share 0..1: the y axis starts at 0 and shows percentages


def _requests(v: MinuteView) -> int:
    return v.requests


METRICS: tuple[Metric, ...] = (
    Metric(
        "error-rate",
        "Error rate",
        "share of requests failed",
        lambda v: v.error_rate,
        ".1%",
        rate=True,
    ),
    Metric("latency-p95", "Latency p95", "p95 latency (ms)", lambda v: v.p95),
    Metric(
        "refusal-rate",
        "Refusal rate",
        "share of answers refusing",
        lambda v: v.refusal_rate,
        ".1%",
        rate=True,
    ),
    Metric(
        "negative-feedback",
        "Negative feedback",
        "share of feedback negative",
        lambda v: v.negative_feedback_rate,
        ".0%",
        rate=True,
    ),
    Metric("requests", "Requests", "requests", _requests),
)


def _x(when: datetime) -> str:
    return when.isoformat()


def _step_label(step_minutes: int) -> str:
    if step_minutes % 60 == 0:
        hours = step_minutes // 60
        return "per hour" if hours == 1 else f"per {hours} hours"
    return "per minute" if step_minutes == 1 else f"per {step_minutes} minutes"


def _marks(markers: Sequence[Marker]) -> tuple[list[dict], list[dict]]:
    """Vertical lines across the plot with a label on top; hover text says the detail."""
    shapes, annotations = [], []
    for n, marker in enumerate(sorted(markers, key=lambda m: m.at)):
        style = MARKER_STYLE.get(marker.kind, MARKER_STYLE["stage"])
        at = _x(marker.at)
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": at,
                "x1": at,
                "y0": 0,
                "y1": 1,
                "line": style,
                "name": marker.kind,
            }
        )
        annotation = {
            "x": at,
            "xref": "x",
            "yref": "paper",
            # Alternate heights so two events close together stay readable.
            "y": 1.0 if n % 2 == 0 else 0.92,
            "yanchor": "bottom",
            "xanchor": "left",
            # Names and notes are people's text: escaped, as plotly reads a few HTML tags.
            "text": html.escape(marker.label),
            "showarrow": False,
            "font": {"size": 10, "color": style["color"]},
            "name": marker.kind,
        }
        if marker.detail:
            annotation["hovertext"] = html.escape(marker.detail)
        annotations.append(annotation)
    return shapes, annotations


# The look of plotly's "plotly_white" template, set directly: naming the template makes plotly
# copy all of it into every figure, which cost more than the rest of the chart endpoint.
_AXIS = {"gridcolor": GRID, "zerolinecolor": GRID, "linecolor": GRID, "automargin": True}


def canary_figure(
    metric: Metric,
    series: dict[str, list[MinuteView]],
    *,
    markers: Sequence[Marker] = (),
    step_minutes: int = 1,
) -> Figure:
    """One metric, baseline and candidate as two lines over time."""
    title = metric.title
    if not any(v.requests for v in series.get("candidate", [])):
        return empty_figure(title=title, message=EMPTY)
    value_format = f":{metric.tickformat}" if metric.tickformat else ""
    traces = []
    for variant in ("baseline", "candidate"):
        views = series.get(variant, [])
        traces.append(
            {
                "type": "scatter",
                "name": NAMES[variant],
                "x": [_x(v.minute) for v in views],
                "y": [metric.value(v) for v in views],
                "customdata": [v.requests for v in views],
                "mode": "lines",
                # A bucket without a value (no requests, no feedback) is a gap, not a zero.
                "connectgaps": False,
                "line": {"color": COLOURS[variant], "width": 1.5},
                "hovertemplate": (
                    f"%{{x|%Y-%m-%d %H:%M}} UTC: %{{y{value_format}}} (%{{customdata}} requests)"
                    f"<extra>{NAMES[variant]}</extra>"
                ),
            }
        )
    y_title = metric.y_title
    if metric.key == "requests":
        y_title = f"requests {_step_label(step_minutes)}"
    yaxis = {**_AXIS, "title": {"text": y_title}, "rangemode": "tozero"}
    if metric.tickformat:
        yaxis["tickformat"] = metric.tickformat
    return figure({"data": traces, "layout": _layout(title, yaxis, markers)})


def _layout(title: str, yaxis: dict, markers: Sequence[Marker]) -> dict:
    shapes, annotations = _marks(markers)
    return {
        "title": {"text": title, "x": 0, "xanchor": "left"},
        "height": HEIGHT,
        "margin": {"l": 60, "r": 16, "t": 56, "b": 100},
        "legend": {
            "orientation": "h",
            "yref": "container",
            "y": 0,
            "yanchor": "bottom",
            "x": 0,
            "xanchor": "left",
        },
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "font": {"color": "#2a3f5f"},
        "hovermode": "x unified",
        "xaxis": {
            **_AXIS,
            "type": "date",
            "title": {"text": "time (UTC)"},
            "hoverformat": "%Y-%m-%d %H:%M",
        },
        "yaxis": yaxis,
        "shapes": shapes,
        "annotations": annotations,
    }


VERDICTS_KEY = "verdicts"
VERDICTS_TITLE = "Reviewer and judge verdicts"
VERDICTS_EMPTY = (
    "No decided verdicts yet: the chart fills in once reviewers or the judge find one answer "
    "better than the other."
)
VERDICT_SOURCES = {"reviewer": ("reviewers", "#8e3b8f"), "judge": ("judge", "#c26a00")}


def canary_verdicts_figure(
    series: dict[str, list[VerdictView]], *, markers: Sequence[Marker] = ()
) -> Figure:
    """Per bucket of traffic, the share of "candidate worse" among the pairs where one answer
    won (better + worse), for the reviewers and for the judge, with that n on hover. "Same"
    and "both bad" say nothing about which config is worse, so they stay out of the share
    (as in the reviewer-loss and judge-loss guardrails)."""
    if not any(v.decided for views in series.values() for v in views):
        return empty_figure(title=VERDICTS_TITLE, message=VERDICTS_EMPTY)
    traces = []
    for source, (name, colour) in VERDICT_SOURCES.items():
        views = [v for v in series.get(source, []) if v.decided]
        traces.append(
            {
                "type": "scatter",
                "name": name,
                "x": [_x(v.minute) for v in views],
                "y": [v.worse_share for v in views],
                "customdata": [[v.worse, v.decided] for v in views],
                # Buckets with verdicts are sparse: markers show a lone one.
                "mode": "lines+markers",
                "line": {"color": colour, "width": 1.5},
                "marker": {"color": colour, "size": 5},
                "hovertemplate": (
                    "%{x|%Y-%m-%d %H:%M} UTC: %{y:.0%} candidate worse "
                    "(%{customdata[0]} of %{customdata[1]} decided pairs)"
                    f"<extra>{name}</extra>"
                ),
            }
        )
    yaxis = {
        **_AXIS,
        "title": {"text": "share of decided pairs candidate worse"},
        "tickformat": ".0%",
        "range": [0, 1],
    }
    return figure({"data": traces, "layout": _layout(VERDICTS_TITLE, yaxis, markers)})


def canary_figures(
    series: dict[str, list[MinuteView]],
    *,
    markers: Sequence[Marker] = (),
    step_minutes: int = 1,
) -> dict[str, Figure]:
    """Every canary chart, by its key (error-rate, latency-p95, refusal-rate,
    negative-feedback, requests), in display order."""
    return {
        m.key: canary_figure(m, series, markers=markers, step_minutes=step_minutes) for m in METRICS
    }
