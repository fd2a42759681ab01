"""Gate figures built from the stored gate report (plain dicts): easy to test on fig.to_dict()."""

import html
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

# plotly_white's look, set directly: naming the template deep-copies it into every figure.
_GRID = "#ebf0f8"
WHITE: dict[str, Any] = {
    "paper_bgcolor": "white",
    "plot_bgcolor": "white",
    "font": {"color": "#2a3f5f"},
    "xaxis": {"gridcolor": _GRID, "zerolinecolor": _GRID, "linecolor": _GRID},
    "yaxis": {"gridcolor": _GRID, "zerolinecolor": _GRID, "linecolor": _GRID},
}

COLOURS = {"baseline": "#8a94a6", "candidate": "#2f6fb3", "drop": "#b3261e"}
HEIGHT = 280


def _points(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}"


def gate_dimension_figure(dimension: Mapping[str, Any]) -> go.Figure:
    """Baseline vs candidate pass rate of one (suite, dimension) of a gate report, each bar with
    its 95% Wilson interval (unweighted counts, as the report's intervals are); the title gives
    the weighted delta and the Newcombe interval of the difference."""
    # Plotly renders some HTML tags (<b>, <a href>, <br>) in titles: names typed by people are
    # escaped so a suite called "<a href=javascript:…>" stays text.
    label = html.escape(f"{dimension['dimension']} · {dimension['suite_name']}")
    delta, interval = dimension.get("delta_pp"), dimension.get("interval_pp")
    title = f"{label}: {_points(delta)} points"
    if interval:
        title += f" (95% {interval[0]:+.1f} to {interval[1]:+.1f})"
    sides = [("baseline", dimension["baseline"]), ("candidate", dimension["candidate"])]
    drop = dimension.get("needs_ack") or False
    fig = go.Figure(
        [
            go.Bar(
                name=side,
                x=[side],
                y=[rate["rate"] if rate["rate"] is not None else 0],
                marker_color=COLOURS["drop" if side == "candidate" and drop else side],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [_above(rate)],
                    "arrayminus": [_below(rate)],
                    "visible": rate["rate"] is not None,
                },
                customdata=[[rate["passed"], rate["n"]]],
                hovertemplate=(
                    "%{x}: %{y:.1f}% (weighted) · %{customdata[0]} of %{customdata[1]} trials"
                    "<extra></extra>"
                ),
            )
            for side, rate in sides
        ]
    )
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 13}},
        height=HEIGHT,
        margin={"l": 60, "r": 16, "t": 48, "b": 40},
        showlegend=False,
        **WHITE,
    )
    fig.update_yaxes(title={"text": "pass rate (%)"}, range=[0, 105])
    return fig


def _above(rate: Mapping[str, Any]) -> float:
    if rate["rate"] is None or rate["high"] is None:
        return 0.0
    return max(0.0, float(rate["high"]) - float(rate["rate"]))


def _below(rate: Mapping[str, Any]) -> float:
    if rate["rate"] is None or rate["low"] is None:
        return 0.0
    return max(0.0, float(rate["rate"]) - float(rate["low"]))
