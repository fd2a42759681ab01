"""Review statistics count pairs, not labels (issue 8): one verdict per pair, disagreements apart
until adjudicated, n next to every rate, agreement "too few" below the documented minimum."""

import itertools
from datetime import UTC, datetime

import pytest
import time_machine

from comparisons.models import Adjudication
from comparisons.services import review
from comparisons.services.stats import (
    AGREEMENT_MIN_PAIRS,
    Source,
    rollout_review_stats,
    similarity_values,
)
from registry.roles import Role
from tests.conftest import _make_user

_inputs = itertools.count(1)


def distinct(make_pair, **kwargs):
    """A pair with an input of its own: identical pairs share their labels (review grouping)."""
    return make_pair(user_text=f"Where is my parcel {next(_inputs)}?", **kwargs)


def label(pair, user, verdict: str, **kwargs) -> None:
    """Label in candidate terms, whichever side the blinded page showed the candidate on."""
    if verdict in ("better", "worse"):
        candidate_left = review.candidate_on_left(pair, user)
        choice = "left" if (verdict == "better") == candidate_left else "right"
    else:
        choice = verdict
    review.label_save(pair=pair, reviewer=user, data=review.LabelInput(choice, **kwargs))


@pytest.fixture
def second(db):
    return _make_user("reviewer2", Role.REVIEWER)


def test_six_labels_on_four_pairs_are_four_verdicts(make_pair, cast, second):
    a, b, c, d = (distinct(make_pair, labels_wanted=2) for _ in range(4))
    label(a, cast["reviewer"], "better")
    label(a, second, "better")
    label(b, cast["reviewer"], "worse")
    label(b, second, "worse")
    label(c, cast["reviewer"], "better")
    label(d, cast["reviewer"], "same")

    stats = rollout_review_stats(a.rollout)

    assert (stats.labels, stats.pairs_labelled, stats.pairs_with_verdict) == (6, 4, 4)
    better = stats.verdicts["better"]
    # Counting labels gave 3 of 6; a pair labelled twice is one observation.
    assert (better.count, better.total, better.labels) == (2, 4, 6)
    assert stats.verdicts["worse"].count == 1 and stats.verdicts["same"].count == 1
    assert stats.by_source == {Source.AGREED: 2, Source.SINGLE: 2}


def test_a_disagreement_is_no_verdict_until_adjudicated(make_pair, cast, second):
    agreed, split = distinct(make_pair, labels_wanted=2), distinct(make_pair, labels_wanted=2)
    label(agreed, cast["reviewer"], "same")
    label(agreed, second, "same")
    label(split, cast["reviewer"], "better")
    label(split, second, "worse")

    stats = rollout_review_stats(split.rollout)
    assert stats.disagreements == 1 and stats.pairs_with_verdict == 1
    assert stats.verdicts["worse"].count == 0 and stats.verdicts["better"].count == 0
    assert stats.verdicts["same"].total == 1  # the split pair is in no denominator

    Adjudication.objects.create(pair=split, adjudicator=cast["release"], verdict="worse", note="x")
    stats = rollout_review_stats(split.rollout)
    assert stats.disagreements == 0 and stats.by_source[Source.ADJUDICATED] == 1
    worse = stats.verdicts["worse"]
    assert (worse.count, worse.total, worse.labels) == (1, 2, 4)


def test_agreement_below_the_minimum_is_too_few_with_its_n(make_pair, cast, second):
    pairs = [distinct(make_pair, labels_wanted=2) for _ in range(2)]
    for pair in pairs:
        label(pair, cast["reviewer"], "same")
        label(pair, second, "same")

    stats = rollout_review_stats(pairs[0].rollout)

    # The old page said kappa = alpha = 1.0 from these 2 pairs, without saying n.
    assert stats.agreement.pairs == 2 and stats.agreement.minimum == AGREEMENT_MIN_PAIRS
    assert stats.agreement.too_few
    assert (stats.agreement.kappa, stats.agreement.alpha) == (None, None)


def test_agreement_is_shown_from_the_minimum_on(make_pair, cast, second):
    pairs = [distinct(make_pair, labels_wanted=2) for _ in range(AGREEMENT_MIN_PAIRS)]
    for i, pair in enumerate(pairs):
        label(pair, cast["reviewer"], "same" if i % 2 else "both_bad")
        label(pair, second, "same" if i % 2 else "both_bad")
    stats = rollout_review_stats(pairs[0].rollout)
    assert not stats.agreement.too_few
    assert (stats.agreement.kappa, stats.agreement.alpha) == (1.0, 1.0)


def test_the_dimension_rows_count_pairs_too(make_pair, cast, second):
    pair = distinct(make_pair, labels_wanted=2)
    label(pair, cast["reviewer"], "worse", dimensions=("tone",))
    label(pair, second, "worse", dimensions=("tone", "accuracy"))
    stats = rollout_review_stats(pair.rollout)
    assert stats.by_dimension["tone"]["worse"].total == 1  # one pair, though two tags
    assert stats.by_dimension["accuracy"]["worse"].count == 1


def test_the_cumulative_worse_rate_is_per_day_from_pair_verdicts(make_pair, cast, second):
    with time_machine.travel(datetime(2025, 3, 1, 9, tzinfo=UTC), tick=False):
        first = distinct(make_pair, labels_wanted=2)
        label(first, cast["reviewer"], "worse")
        label(first, second, "worse")  # two labels, one worse pair
    with time_machine.travel(datetime(2025, 3, 2, 9, tzinfo=UTC), tick=False):
        label(distinct(make_pair), cast["reviewer"], "better")
        label(distinct(make_pair), cast["reviewer"], "same")

    points = rollout_review_stats(first.rollout).worse_cumulative

    assert [d.isoformat() for d, _ in points] == ["2025-03-01", "2025-03-02"]
    (_, day1), (_, day2) = points
    assert (day1.count, day1.total, day1.labels) == (1, 1, 2)
    assert (day2.count, day2.total, day2.labels) == (1, 3, 4)
    assert day2.low < day2.rate < day2.high


def test_similarity_counts_each_labelled_pair_once(make_pair, cast, second):
    pair = distinct(make_pair, candidate="completely other words", labels_wanted=2)
    label(pair, cast["reviewer"], "worse")
    label(pair, second, "worse")
    values = similarity_values(pair.rollout)
    assert values["worse"] == [pair.similarity]  # was listed once per label


def test_the_rollout_page_shows_n_too_few_and_the_disagreements(client_for, make_pair, cast):
    second = _make_user("reviewer2", Role.REVIEWER)
    agreed, split = distinct(make_pair, labels_wanted=2), distinct(make_pair, labels_wanted=2)
    label(agreed, cast["reviewer"], "same")
    label(agreed, second, "same")
    label(split, cast["reviewer"], "better")
    label(split, second, "worse")

    html = client_for("release").get(f"/rollouts/{split.rollout.code}/").content.decode()

    assert "1 pair with a verdict" in html and "from 4 labels on 2 labelled pairs" in html
    assert "<th>n pairs</th><th>n labels</th>" in html
    assert "Disagreement, awaiting adjudication: <strong>1</strong>" in html
    assert f'href="/review/adjudicate/?rollout={split.rollout.code}"' in html
    assert "<strong>too few</strong>" in html and "n = 2 pairs labelled by two or more" in html
    assert "κ 1.0" not in html and "worse-figure" in html


def test_viewers_see_the_count_but_no_queue_link(client_for, make_pair, cast):
    second = _make_user("reviewer2", Role.REVIEWER)
    split = distinct(make_pair, labels_wanted=2)
    label(split, cast["reviewer"], "better")
    label(split, second, "worse")
    html = client_for("viewer").get(f"/rollouts/{split.rollout.code}/").content.decode()
    assert "Disagreement, awaiting adjudication: <strong>1</strong>" in html
    assert "/review/adjudicate/" not in html
