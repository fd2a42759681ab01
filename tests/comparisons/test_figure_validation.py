"""Figures skip plotly's Figure in production (settings.PLOTLY_VALIDATE off: the plain spec is
served) and get its property checks in the tests: both paths must give the same figure (but for
the default template plotly adds), and the checks must really run here."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from comparisons.charts import empty_figure, figure
from rollouts.charts_canary import METRICS, Marker, canary_figure, canary_verdicts_figure
from rollouts.verdict_reads import VerdictView
from traffic.metrics.reads import MinuteView

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _series() -> dict[str, list[MinuteView]]:
    return {
        variant: [
            MinuteView(
                minute=T0 + timedelta(minutes=20 * i),
                requests=100 + i,
                errors=i % 3,
                latency_hist=[i, 3, 1],
                latency_sum_ms=1000.0 * (i + 1),
                refusals=i % 2,
                feedback_up=3,
                feedback_down=i % 2,
            )
            for i in range(12)
        ]
        for variant in ("baseline", "candidate")
    }


MARKERS = [Marker(at=T0 + timedelta(hours=1), kind="stage", label="stage 2: 5%", detail="x")]
VERDICTS = {
    "reviewer": [VerdictView(minute=T0, better=3, worse=1, same=2)],
    "judge": [VerdictView(minute=T0 + timedelta(hours=1), better=1, worse=4)],
}
BUILDERS = {
    "empty": lambda: empty_figure(title="Error rate", message="No canary traffic yet."),
    "verdicts": lambda: canary_verdicts_figure(VERDICTS, markers=MARKERS),
    **{
        f"canary-{m.key}": (lambda m=m: canary_figure(m, _series(), markers=MARKERS))
        for m in METRICS
    },
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_a_figure_is_the_same_with_and_without_plotlys_checks(name):
    with override_settings(PLOTLY_VALIDATE=True):
        checked = BUILDERS[name]().to_plotly_json()
    with override_settings(PLOTLY_VALIDATE=False):
        unchecked = BUILDERS[name]().to_plotly_json()
    checked["layout"].pop("template")
    assert unchecked == checked
    assert checked["layout"]["title"]["text"]


def test_the_tests_really_check_figures():
    with override_settings(PLOTLY_VALIDATE=True), pytest.raises(ValueError, match="colr"):
        figure({"data": [{"type": "scatter", "colr": "red"}], "layout": {}})
    with override_settings(PLOTLY_VALIDATE=False):
        # Production trusts the (tested) builders and passes the spec through as it is.
        fig = figure({"data": [{"type": "scatter", "colr": "red"}], "layout": {}})
        assert fig.to_plotly_json()["data"][0]["colr"] == "red"
