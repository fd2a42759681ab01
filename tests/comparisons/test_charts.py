"""The review charts, read from fig.to_dict() (what the browser draws): axis titles, dates on a
date axis, a message instead of blank axes, a legend clear of the plot."""

from collections import Counter
from datetime import date

import pytest

from comparisons.charts import similarity_figure, verdicts_over_time_figure, worse_rate_figure
from comparisons.services.stats import wilson

DAYS = {date(2025, 3, 1): Counter(better=2, worse=1), date(2025, 3, 2): Counter(same=1)}
POINTS = [(date(2025, 3, 1), wilson(1, 3, labels=4)), (date(2025, 3, 2), wilson(2, 5, labels=6))]


def _title(axis: dict) -> str:
    return axis.get("title", {}).get("text", "")


@pytest.mark.parametrize(
    "fig",
    [
        verdicts_over_time_figure(DAYS),
        worse_rate_figure(POINTS),
        similarity_figure({"better": [0.2, 0.4], "unlabelled": [0.9]}),
    ],
    ids=["verdicts", "worse", "similarity"],
)
def test_every_chart_has_axis_titles_and_a_legend_below_the_plot(fig):
    layout = fig.to_dict()["layout"]
    assert _title(layout["xaxis"]) and _title(layout["yaxis"])
    legend = layout["legend"]
    # Anchored to the figure's bottom edge, inside the bottom margin: not on the plot.
    assert (legend["yref"], legend["y"], legend["yanchor"]) == ("container", 0, "bottom")
    assert layout["margin"]["b"] >= 100


def test_days_are_on_a_date_axis_with_day_ticks():
    for fig in (verdicts_over_time_figure(DAYS), worse_rate_figure(POINTS)):
        layout = fig.to_dict()["layout"]
        assert layout["xaxis"]["type"] == "date"
        assert layout["xaxis"]["dtick"] == 86_400_000  # never "12:00" between two days
        assert layout["xaxis"]["tickformat"] == "%b %d"
        assert all(t["x"][0] == "2025-03-01" for t in fig.to_dict()["data"])


def test_the_verdicts_chart_stacks_pairs_per_day():
    data = verdicts_over_time_figure(DAYS).to_dict()["data"]
    assert [t["name"] for t in data] == ["candidate better", "same", "candidate worse", "both bad"]
    assert [list(t["y"]) for t in data] == [[2, 0], [0, 1], [1, 0], [0, 0]]


def test_the_worse_rate_carries_its_interval_and_n():
    fig = worse_rate_figure(POINTS).to_dict()
    upper, lower, line = fig["data"]
    assert list(line["y"]) == [pytest.approx(1 / 3), pytest.approx(2 / 5)]
    assert list(upper["y"]) == [POINTS[0][1].high, POINTS[1][1].high]
    assert list(lower["y"]) == [POINTS[0][1].low, POINTS[1][1].low]
    assert lower["fill"] == "tonexty" and lower["name"] == "95% interval"
    assert [list(c[:2]) for c in line["customdata"]] == [[3, 4], [5, 6]]  # n pairs, n labels
    assert fig["layout"]["yaxis"]["range"] == [0, 1]


@pytest.mark.parametrize(
    "fig",
    [verdicts_over_time_figure({}), worse_rate_figure([]), similarity_figure({"unlabelled": []})],
    ids=["verdicts", "worse", "similarity"],
)
def test_without_data_a_chart_says_so_instead_of_blank_axes(fig):
    figure = fig.to_dict()
    assert figure["data"] == []
    assert figure["layout"]["xaxis"]["visible"] is False
    assert figure["layout"]["yaxis"]["visible"] is False
    (note,) = figure["layout"]["annotations"]
    assert note["text"].startswith("No ")
