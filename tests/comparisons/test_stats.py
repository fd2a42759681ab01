import pytest

from comparisons.charts import similarity_figure, verdicts_over_time_figure
from comparisons.services import review
from comparisons.services.stats import (
    cohen_kappa,
    krippendorff_alpha,
    rollout_review_stats,
    similarity_values,
    wilson,
)
from registry.roles import Role
from tests.conftest import _make_user


def test_wilson_interval_matches_the_textbook():
    # 8 of 10: the 95% Wilson interval is 0.4902-0.9433 (Newcombe 1998, table I).
    rate = wilson(8, 10)
    assert (rate.low, rate.high) == (
        pytest.approx(0.4902, abs=1e-4),
        pytest.approx(0.9433, abs=1e-4),
    )
    assert wilson(0, 0).total == 0


def test_kappa_is_one_for_full_agreement_and_zero_at_chance():
    assert cohen_kappa([("better", "better"), ("worse", "worse"), ("same", "same")]) == 1.0
    # Agreement exactly as often as the marginals predict: kappa 0.
    assert (
        cohen_kappa(
            [("better", "better"), ("better", "worse"), ("worse", "better"), ("worse", "worse")]
        )
        == 0.0
    )
    assert cohen_kappa([("same", "same")]) is None


def test_krippendorff_alpha_on_a_known_case():
    assert krippendorff_alpha([["better", "better"], ["worse", "worse"]]) == 1.0
    assert krippendorff_alpha([["better", "worse"], ["worse", "better"]]) < 0
    assert krippendorff_alpha([["better"]]) is None


def test_rollout_stats_count_verdicts_dimensions_criticals_and_agreement(make_pair, cast):
    # Updated for issue 8: this test used to expect label counts (same 4 / both_bad 4 of 8
    # labels) and kappa 0.0 from 4 pairs; that was the bug. Now: one verdict per pair, the two
    # disagreements left out until adjudicated, and agreement below the minimum is "too few".
    second = _make_user("reviewer2", Role.REVIEWER)
    # Distinct inputs: identical pairs share their labels (review grouping).
    pairs = [make_pair(labels_wanted=2, user_text=f"Question {i}?") for i in range(4)]
    choices = [
        ("same", "same"),
        ("both_bad", "both_bad"),
        ("same", "both_bad"),
        ("both_bad", "same"),
    ]
    for pair, (mine, theirs) in zip(pairs, choices, strict=True):
        review.label_save(
            pair=pair,
            reviewer=cast["reviewer"],
            data=review.LabelInput(mine, ("tone",), critical=mine == "both_bad"),
        )
        review.label_save(pair=pair, reviewer=second, data=review.LabelInput(theirs))
    stats = rollout_review_stats(pairs[0].rollout)
    assert stats.labels == 8 and stats.pairs_labelled == 4 and stats.double_labelled == 4
    assert stats.pairs_with_verdict == 2 and stats.disagreements == 2
    assert (stats.verdicts["same"].count, stats.verdicts["both_bad"].count) == (1, 1)
    assert stats.verdicts["same"].total == 2 and stats.verdicts["same"].labels == 4
    assert stats.by_dimension["tone"]["both_bad"].count == 1
    assert len(stats.critical) == 2
    assert stats.agreement.too_few and stats.agreement.kappa is None
    # With the minimum lowered, the same data gives the kappa it always did.
    lowered = rollout_review_stats(pairs[0].rollout, agreement_min_pairs=4)
    assert lowered.agreement.kappa == 0.0  # agreed on half, as chance predicts (50/50)
    assert stats.throughput == {"reviewer": 4, "reviewer2": 4}


def test_charts_are_built_from_data(make_pair, cast):
    pair = make_pair(candidate="completely other words")
    review.label_save(pair=pair, reviewer=cast["reviewer"], data=review.LabelInput("left"))
    stats = rollout_review_stats(pair.rollout)
    fig = verdicts_over_time_figure(stats.per_day).to_dict()
    assert [t["name"] for t in fig["data"]] == [
        "candidate better",
        "same",
        "candidate worse",
        "both bad",
    ]
    assert sum(sum(t["y"]) for t in fig["data"]) == 1
    hist = similarity_figure(similarity_values(pair.rollout)).to_dict()
    # One pair: one bar of height 1, in the bin that holds its similarity.
    bars = [(x, y) for t in hist["data"] for x, y in zip(t["x"], t["y"], strict=True) if y]
    assert len(bars) == 1 and bars[0][1] == 1
    assert abs(bars[0][0] - pair.similarity) <= 0.025 + 1e-9


def test_the_rollout_page_shows_review_statistics(client_for, make_pair, cast):
    pair = make_pair()
    review.label_save(
        pair=pair,
        reviewer=cast["reviewer"],
        data=review.LabelInput("both_bad", critical=True, comment="rude reply"),
    )
    html = client_for("release").get(f"/rollouts/{pair.rollout.code}/").content.decode()
    assert "Wilson" in html and "rude reply" in html and "verdicts-figure" in html
    assert "plotly-basic.min.js" in html
