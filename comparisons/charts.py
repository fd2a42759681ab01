"""Plotly figures built from plain data: easy to test on fig.to_dict()."""

from collections import Counter
from datetime import date

import plotly.graph_objects as go

COLOURS = {
    "better": "#2f7d4f",
    "same": "#8a94a6",
    "worse": "#b3261e",
    "both_bad": "#7a5200",
    "unlabelled": "#c5cbd6",
}
NAMES = {
    "better": "candidate better",
    "same": "same",
    "worse": "candidate worse",
    "both_bad": "both bad",
    "unlabelled": "not labelled",
}


def _layout(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(
        title=title,
        height=300,
        margin={"l": 40, "r": 10, "t": 40, "b": 40},
        barmode="stack",
        legend={"orientation": "h"},
        template="plotly_white",
    )
    return fig


def verdicts_over_time_figure(per_day: dict[date, Counter]) -> go.Figure:
    days = [d.isoformat() for d in per_day]
    fig = go.Figure(
        [
            go.Bar(
                name=NAMES[v], x=days, y=[per_day[d][v] for d in per_day], marker_color=COLOURS[v]
            )
            for v in ("better", "same", "worse", "both_bad")
        ]
    )
    return _layout(fig, "Verdicts per day")


def similarity_figure(values: dict[str, list[float]]) -> go.Figure:
    fig = go.Figure(
        [
            go.Histogram(
                name=NAMES.get(k, k),
                x=v,
                xbins={"start": 0, "end": 1.0001, "size": 0.05},
                marker_color=COLOURS.get(k),
            )
            for k, v in values.items()
            if v
        ]
    )
    fig.update_xaxes(title="word similarity baseline vs candidate", range=[0, 1])
    return _layout(fig, "Similarity of pairs")
