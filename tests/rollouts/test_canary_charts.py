"""Canary charts: pure figures from minute roll-ups (rollouts/charts_canary.py) and the chart
endpoint /rollouts/<code>/charts/ with its partial (rollouts/views/canary.py)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext

from registry.models import RequestLog
from rollouts.charts_canary import EMPTY, METRICS, Marker, canary_figure, canary_figures
from rollouts.models import Approval, Stage
from rollouts.services import rollouts
from rollouts.views.canary import canary_context, chart_step
from tests.gates import pass_gate
from traffic.metrics import MinuteView
from traffic.metrics.rollup import latency_bucket
from traffic.metrics.upsert import MinuteRow, upsert_minutes

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BY_KEY = {m.key: m for m in METRICS}


def _hist(ms: float, n: int) -> list[int]:
    hist = [0] * 23
    hist[latency_bucket(ms)] = n
    return hist


def _view(minute: int, *, requests: int, errors: int = 0, ms: float = 200.0, **more) -> MinuteView:
    return MinuteView(
        minute=T0 + timedelta(minutes=minute),
        requests=requests,
        errors=errors,
        latency_hist=_hist(ms, requests),
        **more,
    )


SERIES = {
    "baseline": [_view(0, requests=100, errors=1), _view(1, requests=90, errors=2)],
    "candidate": [
        _view(0, requests=10, errors=1, ms=900.0, feedback_down=1, feedback_up=3),
        _view(1, requests=0),
    ],
}


def test_each_figure_draws_candidate_and_baseline_on_a_date_axis_with_titles():
    figures = canary_figures(SERIES, step_minutes=20)
    assert list(figures) == [
        "error-rate",
        "latency-p95",
        "refusal-rate",
        "negative-feedback",
        "requests",
    ]
    error = figures["error-rate"].to_dict()
    assert error["layout"]["title"]["text"] == "Error rate"
    assert error["layout"]["xaxis"]["type"] == "date"
    assert error["layout"]["xaxis"]["title"]["text"] == "time (UTC)"
    assert error["layout"]["yaxis"]["title"]["text"] == "share of requests failed"
    assert error["layout"]["yaxis"]["tickformat"] == ".1%"
    base, cand = error["data"]
    assert (base["name"], cand["name"]) == ("baseline", "candidate")
    assert list(base["y"]) == [pytest.approx(0.01), pytest.approx(2 / 90)]
    # A minute without requests is a gap in the line, not a 0% error rate.
    assert list(cand["y"]) == [pytest.approx(0.1), None]
    assert list(cand["x"]) == [T0.isoformat(), (T0 + timedelta(minutes=1)).isoformat()]
    latency = figures["latency-p95"].to_dict()
    assert latency["layout"]["yaxis"]["title"]["text"] == "p95 latency (ms)"
    assert 750 <= latency["data"][1]["y"][0] <= 1000  # the 900 ms bucket
    assert figures["negative-feedback"].to_dict()["data"][1]["y"][0] == pytest.approx(0.25)
    requests = figures["requests"].to_dict()
    assert requests["layout"]["yaxis"]["title"]["text"] == "requests per 20 minutes"
    assert list(requests["data"][0]["y"]) == [100, 90]


def test_stage_approval_and_rollback_are_marked_on_every_chart():
    markers = [
        Marker(at=T0, kind="stage", label="stage 2: 1%"),
        Marker(at=T0 + timedelta(minutes=1), kind="approval", label="approved", detail="ann: ok"),
        Marker(
            at=T0 + timedelta(minutes=2),
            kind="rollback",
            label="rolled back",
            detail="by <script>alert(1)</script>",
        ),
    ]
    for fig in canary_figures(SERIES, markers=markers).values():
        layout = fig.to_dict()["layout"]
        lines = [(s["x0"], s["line"]["color"]) for s in layout["shapes"]]
        assert lines == [
            (T0.isoformat(), "#8a94a6"),
            ((T0 + timedelta(minutes=1)).isoformat(), "#2f7d4f"),
            ((T0 + timedelta(minutes=2)).isoformat(), "#b3261e"),
        ]
        assert all(s["yref"] == "paper" for s in layout["shapes"])
        texts = [a["text"] for a in layout["annotations"]]
        assert texts == ["stage 2: 1%", "approved", "rolled back"]
        # People's text is escaped: plotly reads some HTML in annotations.
        assert layout["annotations"][2]["hovertext"] == "by &lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.mark.parametrize(
    "series",
    [
        {"baseline": [], "candidate": []},
        {"baseline": SERIES["baseline"], "candidate": []},  # shadow: the baseline serves all
    ],
)
def test_without_canary_traffic_each_chart_says_so(series):
    for metric in METRICS:
        fig = canary_figure(metric, series).to_dict()
        assert fig["data"] == []
        assert fig["layout"]["annotations"][0]["text"] == EMPTY
        assert fig["layout"]["xaxis"]["visible"] is False
        assert fig["layout"]["title"]["text"] == metric.title


def test_the_bucket_size_keeps_a_week_to_a_few_hundred_points():
    assert chart_step(T0, T0 + timedelta(hours=2)) == 1
    assert chart_step(T0, T0 + timedelta(days=1)) == 5
    assert chart_step(T0, T0 + timedelta(days=7)) == 20
    assert chart_step(T0, T0 + timedelta(days=400)) == 1440


# --- the endpoint and the partial -------------------------------------------------------------


@pytest.fixture
def rollout(feature, make_config, make_version, release):
    candidate = make_config("support v2", make_version("gpt-4o-2024-08-06"))
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=release)
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=release)
    rollout.refresh_from_db()
    now = rollout.created
    # The plan may exist already (made when shadow starts): these two stages, as they ran.
    Stage.objects.filter(rollout=rollout).delete()
    shadow = Stage.objects.create(
        rollout=rollout, position=0, candidate_bp=0, status="done", started=now, ended=now
    )
    canary = Stage.objects.create(
        rollout=rollout, position=1, candidate_bp=100, status="active", started=now
    )
    Approval.objects.create(
        rollout=rollout,
        from_stage=shadow,
        to_stage=canary,
        approver=release,
        note="<b>looks fine</b>",
    )
    minute = now.replace(second=0, microsecond=0)
    for variant, requests, errors in (("baseline", 99, 1), ("candidate", 5, 2)):
        upsert_minutes(
            [
                MinuteRow(
                    rollout_id=rollout.pk,
                    variant=variant,
                    minute=minute,
                    requests=requests,
                    errors=errors,
                    latency_hist=_hist(300.0, requests),
                )
            ]
        )
    return rollout


URL = "/rollouts/{}/charts/"


def test_signed_in_users_read_the_charts_and_outsiders_sign_in_first(rollout, client_for):
    url = URL.format(rollout.code)
    assert client_for(None).get(url).status_code == 302
    response = client_for("viewer").get(url)
    assert response.status_code == 200
    body = response.json()
    assert list(body["figures"]) == [*(m.key for m in METRICS), "verdicts"]
    error = body["figures"]["error-rate"]
    assert [t["name"] for t in error["data"]] == ["baseline", "candidate"]
    assert error["data"][1]["y"] == [pytest.approx(0.4)]
    texts = [a["text"] for a in error["layout"]["annotations"]]
    assert texts[:2] == ["stage 1: shadow", "stage 2: 1%"] and "approved" in texts
    assert (
        client_for("viewer").get(URL.format("00000000-0000-0000-0000-000000000000")).status_code
        == 404
    )
    assert client_for("viewer").post(url).status_code == 405


def test_the_endpoint_reads_roll_ups_never_the_request_log(rollout, client_for, release):
    rollouts.rollout_rollback(rollout=rollout, actor=release, reason="errors up")
    client = client_for("viewer")
    client.get(URL.format(rollout.code))  # warm the session
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL.format(rollout.code))
    assert response.status_code == 200
    table = RequestLog._meta.db_table
    assert not [q["sql"] for q in queries if table in q["sql"]]
    # Session, user, rollout, two metric reads, stages, approvals, rollbacks, verdict minutes.
    assert len(queries) <= 9, [q["sql"] for q in queries]
    texts = [a["text"] for a in response.json()["figures"]["requests"]["layout"]["annotations"]]
    assert "rolled back" in texts


def test_the_partial_embeds_each_figure_and_escapes_notes(rollout):
    context = canary_context(rollout)
    html = render_to_string("rollouts/_canary_charts.html", {"rollout": rollout, **context})
    for metric in METRICS:
        figure_id = f"canary-{metric.key}-figure"
        assert f'data-figure="{figure_id}"' in html
        assert f'<script id="{figure_id}" type="application/json">' in html
    assert "<b>looks fine</b>" not in html  # the approval note, escaped twice over
    assert "No canary traffic yet" not in html
    empty = canary_context(rollout) | {"canary_has_traffic": False}
    assert "No canary traffic yet" in render_to_string(
        "rollouts/_canary_charts.html", {"rollout": rollout, **empty}
    )
