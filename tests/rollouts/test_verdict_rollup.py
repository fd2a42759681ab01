"""Reviewer and judge verdicts per minute (rollouts/verdict_rollup.py, VerdictMinute): counted
in the minute of the traffic the pair judges, exact under edits, undos, adjudications and a
replaced judge; read in buckets (rollouts/verdict_reads.py) and charted on the canary charts."""

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comparisons.models import Label, ShadowPair
from comparisons.services import adjudication, review
from comparisons.services.stats import pair_outcomes
from registry.models import ModelVersion, Provider, RequestLog, Rollout
from registry.roles import Role
from registry.services import registry
from rollouts.charts_canary import (
    VERDICTS_EMPTY,
    VERDICTS_TITLE,
    Marker,
    canary_verdicts_figure,
)
from rollouts.judging import judge_rollout_pairs
from rollouts.models import PairJudgement, VerdictMinute
from rollouts.services import rollouts
from rollouts.tasks_verdicts import roll_up_verdicts
from rollouts.verdict_reads import VerdictView, verdict_series
from rollouts.verdict_rollup import verdict_minutes_refresh
from tests.conftest import _make_user
from tests.rollouts.test_pair_judging import StubJudge
from traffic.metrics import minute_of

_ids = itertools.count(1)
NOW = minute_of(timezone.now())
T0 = NOW - timedelta(minutes=30)


@pytest.fixture
def rollout(shadow_rollout):
    # The charts draw from the rollout's creation: make it older than the traffic below.
    Rollout.objects.filter(pk=shadow_rollout.pk).update(created=T0 - timedelta(hours=1))
    shadow_rollout.refresh_from_db()
    return shadow_rollout


@pytest.fixture
def pair_at(rollout):
    """pair_at(minutes after T0, candidate=...) -> a pair whose production request started
    then (30 seconds into that minute); log=False: an imported pair, without a request log."""

    def make(minutes: int, *, candidate: str = "It ships Monday.", log: bool = True) -> ShadowPair:
        n = next(_ids)
        started = T0 + timedelta(minutes=minutes, seconds=30)
        request = None
        if log:
            request = RequestLog.objects.create(
                feature=rollout.feature,
                request_id=f"verdict-{n}",
                source="ingest",
                config=rollout.baseline,
                variant="baseline",
                rollout=rollout,
                messages=[{"role": "user", "content": f"Where is parcel {n}?"}],
                output="It ships.",
                started=started,
            )
        return ShadowPair.objects.create(
            rollout=rollout,
            request=request,
            request_key=f"verdict-{n}",
            messages=[{"role": "user", "content": f"Where is parcel {n}?"}],
            baseline_config=rollout.baseline,
            candidate_config=rollout.candidate,
            served_variant="baseline",
            baseline_output="It ships.",
            candidate_output=candidate,
            labels_wanted=2,
            queued=True,
        )

    return make


@pytest.fixture
def reviewers(cast):
    return [cast["reviewer"], _make_user("second", Role.REVIEWER)]


def label(pair: ShadowPair, user, verdict: str) -> None:
    choice = verdict
    if verdict in ("better", "worse"):
        candidate_left = review.candidate_on_left(pair, user)
        choice = "left" if (verdict == "better") == candidate_left else "right"
    review.label_save(pair=pair, reviewer=user, data=review.LabelInput(choice))


def counts(rollout, source: str = "reviewer") -> dict[datetime, dict[str, int]]:
    rows = VerdictMinute.objects.filter(rollout=rollout, source=source).order_by("minute")
    return {
        row.minute: {
            name: getattr(row, name) for name in VerdictMinute.COUNTS if getattr(row, name)
        }
        for row in rows
    }


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


# --- counting ------------------------------------------------------------------------------


def test_labels_are_counted_in_the_minute_of_their_traffic(rollout, pair_at, reviewers):
    roll_up_verdicts()  # the first run: nothing yet, the mark is set
    first, second, third = pair_at(0), pair_at(0), pair_at(1)
    label(first, reviewers[0], "worse")
    label(second, reviewers[0], "better")
    label(third, reviewers[0], "both_bad")
    assert roll_up_verdicts() == 1
    assert counts(rollout) == {at(0): {"better": 1, "worse": 1}, at(1): {"both_bad": 1}}
    assert counts(rollout, "judge") == {}


def test_an_edited_label_moves_the_counts_and_an_undone_one_is_gone(rollout, pair_at, reviewers):
    roll_up_verdicts()
    pair, other = pair_at(0), pair_at(2)
    label(other, reviewers[1], "same")
    label(pair, reviewers[0], "worse")
    roll_up_verdicts()
    assert counts(rollout) == {at(0): {"worse": 1}, at(2): {"same": 1}}
    label(pair, reviewers[0], "better")  # the reviewer changes their mind
    roll_up_verdicts()
    assert counts(rollout) == {at(0): {"better": 1}, at(2): {"same": 1}}
    assert review.label_undo(reviewer=reviewers[0]) == pair
    roll_up_verdicts()
    # The minute's only verdict went: its row goes, no row of zeros stays behind.
    assert counts(rollout) == {at(2): {"same": 1}}
    assert not VerdictMinute.objects.filter(rollout=rollout, minute=at(0)).exists()


def test_a_late_label_lands_in_the_minute_of_the_traffic_it_judges(rollout, pair_at, reviewers):
    roll_up_verdicts()
    old = pair_at(-25)  # traffic 55 minutes ago, labelled now
    label(old, reviewers[0], "worse")
    roll_up_verdicts()
    assert counts(rollout) == {at(-25): {"worse": 1}}
    assert NOW not in counts(rollout)
    # A pair without a request log (imported) counts in the minute it was made.
    imported = pair_at(0, log=False)
    label(imported, reviewers[0], "better")
    roll_up_verdicts()
    assert counts(rollout)[minute_of(imported.created)] == {"better": 1}


def test_a_pair_counts_once_with_its_outcome_like_the_review_statistics(
    rollout, pair_at, reviewers, release
):
    roll_up_verdicts()
    agreed, split = pair_at(0), pair_at(0)
    for user in reviewers:
        label(agreed, user, "worse")
    label(split, reviewers[0], "better")
    label(split, reviewers[1], "worse")
    roll_up_verdicts()
    # Two labels that agree are one pair; reviewers who disagree give no verdict yet.
    assert counts(rollout) == {at(0): {"worse": 1}}
    adjudication.adjudication_record(
        pair=split,
        adjudicator=release,
        choice="left" if review.candidate_on_left(split, release) else "right",
        note="The candidate gives the date.",
    )
    roll_up_verdicts()
    assert counts(rollout) == {at(0): {"better": 1, "worse": 1}}
    outcomes = Counter(o.verdict for o in pair_outcomes(rollout).values() if o.verdict)
    rows = VerdictMinute.objects.filter(rollout=rollout, source="reviewer")
    assert {name: sum(getattr(r, name) for r in rows) for name in outcomes} == dict(outcomes)


def test_the_beat_task_is_idempotent(rollout, pair_at, reviewers):
    pairs = [pair_at(m) for m in (0, 0, 3)]
    for pair, verdict in zip(pairs, ("worse", "better", "same"), strict=True):
        label(pair, reviewers[0], verdict)
    roll_up_verdicts()  # the first run rebuilds what exists: the backfill
    before = counts(rollout)
    assert before == {at(0): {"better": 1, "worse": 1}, at(3): {"same": 1}}
    ids = set(VerdictMinute.objects.values_list("pk", flat=True))
    for _ in range(2):
        assert roll_up_verdicts() == 0  # nothing changed: nothing recounted
    assert verdict_minutes_refresh(rollout_id=rollout.pk, minutes=[at(0), at(3), at(9)]) == 2
    assert verdict_minutes_refresh(rollout_id=rollout.pk, minutes=[at(0), at(3), at(9)]) == 2
    assert counts(rollout) == before
    assert set(VerdictMinute.objects.values_list("pk", flat=True)) == ids


def test_beat_runs_the_roll_up_every_minute(settings):
    from rollout_site.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["roll-up-verdicts"]
    assert entry["schedule"] == 60.0
    app.loader.import_default_modules()  # autodiscovery, as a worker does at start
    assert entry["task"] in app.tasks


# --- the judge -------------------------------------------------------------------------------


def _judge(rollout, make_config, name: str):
    provider = registry.provider_save(
        provider=Provider(
            name=f"Judge stub {name}", api_style="openai_chat", base_url="http://127.0.0.1:9/v1"
        ),
        actor=None,
    )
    version = registry.model_version_save(
        version=ModelVersion(provider=provider, model_id="gpt-4o-2024-08-06"), actor=None
    )
    return make_config(name, version, system_prompt="")


def test_judge_verdicts_are_counted_apart_as_soon_as_they_are_written(
    rollout, pair_at, reviewers, make_config
):
    roll_up_verdicts()
    rollout.judge_config = _judge(rollout, make_config, "judge v1")
    rollout.save(update_fields=["judge_config"])
    worse = pair_at(0, candidate="It ships.")
    worse.baseline_output = "GOOD: it ships Monday."
    worse.save(update_fields=["baseline_output"])
    pair_at(0, candidate="GOOD: Monday.")  # better
    pair_at(1)  # a tie: same
    label(worse, reviewers[0], "both_bad")
    # The judging write path refreshes its minutes itself: no beat run needed.
    assert judge_rollout_pairs(rollout=rollout, transport=StubJudge().transport) == 3
    assert counts(rollout, "judge") == {at(0): {"better": 1, "worse": 1}, at(1): {"same": 1}}
    # The minute was recounted whole: the reviewer's label is in it, and kept apart.
    assert counts(rollout) == {at(0): {"both_bad": 1}}
    roll_up_verdicts()
    assert counts(rollout) == {at(0): {"both_bad": 1}}
    assert counts(rollout, "judge") == {at(0): {"better": 1, "worse": 1}, at(1): {"same": 1}}


def test_a_replaced_judge_is_recounted_by_the_beat(rollout, pair_at, make_config, release):
    roll_up_verdicts()
    rollout.judge_config = _judge(rollout, make_config, "judge v1")
    rollout.save(update_fields=["judge_config"])
    pair_at(0, candidate="GOOD: Monday.")
    judge_rollout_pairs(rollout=rollout, transport=StubJudge().transport)
    assert counts(rollout, "judge") == {at(0): {"better": 1}}
    rollouts.rollout_set_judge(
        rollout=rollout, judge_config=_judge(rollout, make_config, "judge v2"), actor=release
    )
    roll_up_verdicts()
    # The chart shows the rollout's judge, like the judge card: the new one has judged nothing.
    assert counts(rollout, "judge") == {}


# --- reads and the chart ---------------------------------------------------------------------


def test_the_series_sums_minutes_into_buckets_per_source(rollout, pair_at, reviewers):
    # Minutes counted from the start of a ten-minute bucket (buckets are aligned to the epoch).
    base = datetime.fromtimestamp(T0.timestamp() // 600 * 600, tz=UTC)
    offset = int((base - T0).total_seconds() // 60)
    for minutes, verdict in ((0, "worse"), (1, "better"), (2, "worse"), (12, "same")):
        label(pair_at(offset + minutes), reviewers[0], verdict)
    roll_up_verdicts()
    series = verdict_series(rollout_id=rollout.pk, start=base, end=NOW, step=timedelta(minutes=10))
    assert series["reviewer"] == [
        VerdictView(base, better=1, worse=2),
        VerdictView(base + timedelta(minutes=10), same=1),
    ]
    assert series["judge"] == []
    per_minute = verdict_series(rollout_id=rollout.pk, start=at(offset + 1), end=at(offset + 3))
    assert [(v.minute, v.worse_share) for v in per_minute["reviewer"]] == [
        (at(offset + 1), 0.0),
        (at(offset + 2), 1.0),
    ]
    with pytest.raises(ValueError, match="whole number of minutes"):
        verdict_series(rollout_id=rollout.pk, start=T0, end=NOW, step=timedelta(seconds=90))


def test_the_figure_draws_the_worse_share_per_source_with_n_and_markers():
    series = {
        "reviewer": [
            VerdictView(at(0), better=3, worse=1, same=4, both_bad=2),
            VerdictView(at(1), same=2),  # nothing decided: no point
        ],
        "judge": [VerdictView(at(0), better=1, worse=1)],
    }
    markers = [
        Marker(at=at(0), kind="stage", label="stage 2: 1%"),
        Marker(at=at(1), kind="rollback", label="rolled back", detail="by <b>ann</b>"),
    ]
    fig = canary_verdicts_figure(series, markers=markers).to_dict()
    assert fig["layout"]["title"]["text"] == VERDICTS_TITLE
    assert fig["layout"]["xaxis"]["title"]["text"] == "time (UTC)"
    assert fig["layout"]["yaxis"]["title"]["text"] == "share of decided pairs candidate worse"
    assert fig["layout"]["yaxis"]["tickformat"] == ".0%"
    reviewer, judge = fig["data"]
    assert (reviewer["name"], judge["name"]) == ("reviewers", "judge")
    assert list(reviewer["x"]) == [at(0).isoformat()]
    assert list(reviewer["y"]) == [0.25]  # 1 worse of 4 decided; same and both bad left out
    assert [list(c) for c in reviewer["customdata"]] == [[1, 4]]
    assert "of %{customdata[1]} decided pairs" in reviewer["hovertemplate"]
    assert list(judge["y"]) == [0.5]
    assert [s["line"]["color"] for s in fig["layout"]["shapes"]] == ["#8a94a6", "#b3261e"]
    assert fig["layout"]["annotations"][1]["hovertext"] == "by &lt;b&gt;ann&lt;/b&gt;"


@pytest.mark.parametrize(
    "series",
    [
        {"reviewer": [], "judge": []},
        {"reviewer": [VerdictView(at(0), same=3, both_bad=1)], "judge": []},
    ],
)
def test_without_decided_verdicts_the_figure_says_so(series):
    fig = canary_verdicts_figure(series).to_dict()
    assert fig["data"] == []
    assert fig["layout"]["annotations"][0]["text"] == VERDICTS_EMPTY
    assert fig["layout"]["title"]["text"] == VERDICTS_TITLE


def test_the_charts_endpoint_draws_the_verdicts_without_reading_labels_or_the_log(
    rollout, pair_at, reviewers, client_for
):
    label(pair_at(0), reviewers[0], "worse")
    label(pair_at(0), reviewers[1], "better")
    roll_up_verdicts()
    client = client_for("viewer")
    url = f"/rollouts/{rollout.code}/charts/"
    client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    figure = response.json()["figures"]["verdicts"]
    reviewer = figure["data"][0]
    assert reviewer["y"] == [0.5] and reviewer["customdata"] == [[1, 2]]
    sql = " ".join(q["sql"] for q in queries)
    for model in (RequestLog, Label, PairJudgement, ShadowPair):
        assert model._meta.db_table not in sql
