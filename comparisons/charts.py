"""Plotly figures built from plain data: easy to test on fig.to_dict().

Every figure has axis titles, a legend below the plot (anchored to the figure's bottom edge,
so it never lands on the plot or the x-axis title), dates on a date axis with day ticks, and,
without data, a message in place of empty axes.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import Any, TypeAlias

import numpy as np
import plotly.graph_objects as go
from django.conf import settings

from comparisons.services.stats import Rate

COLOURS = {
    "better": "#2f7d4f",
    "same": "#8a94a6",
    "worse": "#b3261e",
    "both_bad": "#7a5200",
    "disagreement": "#6a3d9a",
    "unlabelled": "#c5cbd6",
}
NAMES = {
    "better": "candidate better",
    "same": "same",
    "worse": "candidate worse",
    "both_bad": "both bad",
    "disagreement": "disagreement (awaiting adjudication)",
    "unlabelled": "not labelled",
}
VERDICT_ORDER = ("better", "same", "worse", "both_bad")
HEIGHT = 320
DAY_MS = 86_400_000
# Up to this many days every day gets a tick; beyond, plotly picks fewer (still dates).
DAILY_TICKS_UP_TO = 14


# The look of plotly's "plotly_white" template, set directly: naming the template makes plotly
# deep-copy all of it into every figure (~40 ms a figure, most of a chart endpoint's time).
GRID = "#ebf0f8"
WHITE_AXIS = {"gridcolor": GRID, "zerolinecolor": GRID, "linecolor": GRID}
WHITE = {
    "paper_bgcolor": "white",
    "plot_bgcolor": "white",
    "font": {"color": "#2a3f5f"},
    "xaxis": WHITE_AXIS,
    "yaxis": WHITE_AXIS,
}


@dataclass(frozen=True)
class PlainFigure:
    """A figure as plotly.js takes it, {"data": [...], "layout": {...}}, with the two methods
    callers use on a plotly Figure. What production serves: plotly's Figure deep-copies its
    spec twice (in and out) and adds its default template, most of a chart endpoint's time."""

    spec: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.spec

    def to_plotly_json(self) -> dict[str, Any]:
        return self.spec


Figure: TypeAlias = go.Figure | PlainFigure


def figure(spec: dict[str, Any]) -> Figure:
    """The figure of a plain spec (traces as dicts). Under settings.PLOTLY_VALIDATE (on under
    DEBUG and in the tests, which build every figure) a plotly Figure, so every property is
    checked; else the spec as it is (tests/comparisons/test_figure_validation.py checks the
    two agree on every builder)."""
    if settings.PLOTLY_VALIDATE:
        return go.Figure(spec)
    return PlainFigure(spec)


def _layout(fig: go.Figure, *, title: str, x_title: str, y_title: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"},
        height=HEIGHT,
        # The bottom margin holds the x ticks, the x title and, under them, the legend.
        margin={"l": 60, "r": 16, "t": 48, "b": 110},
        legend={
            "orientation": "h",
            "yref": "container",
            "y": 0,
            "yanchor": "bottom",
            "x": 0,
            "xanchor": "left",
            # Legend in the traces' order, not reversed as plotly does for stacked bars.
            "traceorder": "normal",
        },
        **WHITE,
    )
    fig.update_xaxes(title={"text": x_title}, automargin=True)
    fig.update_yaxes(title={"text": y_title}, automargin=True)
    return fig


def _date_axis(fig: go.Figure, days: list[date]) -> None:
    daily = len(days) <= DAILY_TICKS_UP_TO
    fig.update_xaxes(
        type="date",
        tickformat="%b %d",
        hoverformat="%Y-%m-%d",
        # One tick per day (never "12:00" ticks between two days of data).
        dtick=DAY_MS if daily else None,
        tick0=days[0].isoformat() if days else None,
    )


def empty_figure(*, title: str, message: str) -> Figure:
    """No data yet: a message where the plot would be, no axes pretending to show something."""
    return figure(
        {
            "data": [],
            "layout": {
                "title": {"text": title, "x": 0, "xanchor": "left"},
                "height": HEIGHT,
                "margin": {"l": 16, "r": 16, "t": 48, "b": 16},
                "paper_bgcolor": "white",
                "plot_bgcolor": "white",
                "font": {"color": "#2a3f5f"},
                "xaxis": {"visible": False},
                "yaxis": {"visible": False},
                "annotations": [
                    {
                        "text": message,
                        "xref": "paper",
                        "yref": "paper",
                        "x": 0.5,
                        "y": 0.5,
                        "showarrow": False,
                        "font": {"size": 14, "color": "#5b6472"},
                    }
                ],
            },
        }
    )


def verdicts_over_time_figure(per_day: dict[date, Counter]) -> Figure:
    """Pairs decided per day, stacked by verdict (one pair, one count)."""
    title = "Verdicts per day"
    if not any(per_day.values()):
        return empty_figure(title=title, message="No verdicts yet: pairs appear once labelled.")
    days = sorted(per_day)
    fig = go.Figure(
        [
            go.Bar(
                name=NAMES[v],
                x=[d.isoformat() for d in days],
                y=[per_day[d][v] for d in days],
                marker_color=COLOURS[v],
                hovertemplate="%{x|%Y-%m-%d}: %{y} pairs<extra>" + NAMES[v] + "</extra>",
            )
            for v in VERDICT_ORDER
        ]
    )
    fig.update_layout(barmode="stack")
    _layout(fig, title=title, x_title="day (UTC)", y_title="pairs decided")
    _date_axis(fig, days)
    most = max(sum(c.values()) for c in per_day.values())
    if most <= 10:
        fig.update_yaxes(dtick=1)  # whole pairs, no 0.2 steps
    return fig


def worse_rate_figure(points: list[tuple[date, Rate]]) -> Figure:
    """Cumulative candidate-worse rate over pairs with a verdict, with its 95% Wilson interval."""
    title = "Candidate worse, cumulative"
    if not points:
        return empty_figure(title=title, message="No verdicts yet: the rate starts at the first.")
    days = [d.isoformat() for d, _ in points]
    rates = [r for _, r in points]
    n = [[r.total, r.labels, r.low, r.high] for r in rates]
    fig = go.Figure(
        [
            go.Scatter(
                x=days,
                y=[r.high for r in rates],
                mode="lines",
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
            ),
            go.Scatter(
                name="95% interval",
                x=days,
                y=[r.low for r in rates],
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor="rgba(179, 38, 30, 0.15)",
                hoverinfo="skip",
            ),
            go.Scatter(
                name="candidate worse",
                x=days,
                y=[r.rate for r in rates],
                mode="lines+markers",
                line={"color": COLOURS["worse"]},
                customdata=n,
                hovertemplate=(
                    "%{x|%Y-%m-%d}: %{y:.0%} of %{customdata[0]} pairs"
                    " (%{customdata[1]} labels)<br>95% interval %{customdata[2]:.0%}"
                    " to %{customdata[3]:.0%}<extra></extra>"
                ),
            ),
        ]
    )
    _layout(fig, title=title, x_title="day (UTC)", y_title="share of pairs, candidate worse")
    _date_axis(fig, [d for d, _ in points])
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    return fig


# Similarity bins: 0-0.05, ..., 0.95-1 (the last one includes 1, as numpy's last bin does).
SIMILARITY_BINS = np.linspace(0.0, 1.0, 21)


def similarity_figure(values: dict[str, list[float]]) -> Figure:
    """Binned here rather than by plotly.js: the page then needs only the basic bundle (bars
    and lines) and sends 20 counts per group instead of every pair's score."""
    title = "Similarity of pairs"
    if not any(values.values()):
        return empty_figure(title=title, message="No pairs with a similarity score yet.")
    width = float(SIMILARITY_BINS[1] - SIMILARITY_BINS[0])
    centres = [round(float(low) + width / 2, 3) for low in SIMILARITY_BINS[:-1]]
    bars = []
    for key, scores in values.items():
        if not scores:
            continue
        counts, _ = np.histogram(np.clip(scores, 0.0, 1.0), bins=SIMILARITY_BINS)
        bars.append(
            go.Bar(
                name=NAMES.get(key, key),
                x=centres,
                y=[int(c) for c in counts],
                width=width,
                marker_color=COLOURS.get(key),
                customdata=[[float(low), float(high)] for low, high in pairwise(SIMILARITY_BINS)],
                hovertemplate=(
                    "similarity %{customdata[0]:.2f} to %{customdata[1]:.2f}: %{y} pairs"
                    "<extra>%{fullData.name}</extra>"
                ),
            )
        )
    fig = go.Figure(bars)
    fig.update_layout(barmode="stack", bargap=0)
    _layout(fig, title=title, x_title="word similarity, baseline vs candidate", y_title="pairs")
    fig.update_xaxes(range=[0, 1])
    return fig
