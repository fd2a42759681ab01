"""The gate's verdict on tables of cases (evaluations/gate.py, no database)."""

import json

import pytest

from evaluations.gate import CaseTrials, gate_verdict, newcombe, side_result

P, F, E, C = "pass", "fail", "error", "cancelled"


def case(
    code: str,
    base: tuple[str, ...],
    cand: tuple[str, ...],
    *,
    critical: bool = False,
    dimension: str = "accuracy",
    suite: str = "s1",
    weight: float = 1.0,
) -> tuple[CaseTrials, CaseTrials]:
    def side(trials: tuple[str, ...]) -> CaseTrials:
        return CaseTrials(
            case_code=code,
            name=code,
            suite_code=suite,
            dimension=dimension,
            critical=critical,
            weight=weight,
            trials=trials,
        )

    return side(base), side(cand)


def verdict_of(rows, thresholds=None):
    thresholds = thresholds or {"s1": 5.0, "s2": 5.0}
    return gate_verdict(
        [b for b, _ in rows],
        [c for _, c in rows],
        thresholds=thresholds,
        suite_names={"s1": "Support", "s2": "Safety"},
    )


@pytest.mark.parametrize(
    ("trials", "status"),
    [
        ((P,), "pass"),
        ((P, P, P), "pass"),
        ((F, F), "fail"),
        ((P, F, P), "flaky"),
        ((E, C), "none"),
        ((), "none"),
        # Errors are not scored: two passes and an error is a pass, not flaky.
        ((P, E, P), "pass"),
        ((F, C), "fail"),
    ],
)
def test_a_side_of_a_case_is_pass_fail_flaky_or_none(trials, status):
    assert side_result(trials).status == status


@pytest.mark.parametrize(
    ("base", "cand", "change"),
    [
        ((P,), (F,), "regressed"),
        ((F,), (P,), "fixed"),
        ((P,), (P,), "unchanged"),
        ((F,), (F,), "unchanged"),
        ((P, F), (P, P), "flaky"),
        ((P, P), (P, F), "flaky"),
        ((E,), (P,), "error"),
        ((P,), (C, E), "error"),
    ],
)
def test_each_case_is_marked_by_how_it_changed(base, cand, change):
    report = verdict_of([case("a", base, cand, dimension="tone")])
    assert report.cases[0].change == change


# Each row: the cases, then the expected verdict. Non-critical cases unless marked.
VERDICTS = [
    pytest.param([case("a", (P,), (P,)), case("b", (F,), (P,))], "passed", id="all-good"),
    pytest.param(
        [case("a", (P,), (F,), critical=True), case("b", (P,), (P,))], "blocked", id="critical"
    ),
    pytest.param(
        # Better on average (every other case fixed) but a critical regression: blocked.
        [case("crit", (P,), (F,), critical=True)] + [case(f"x{i}", (F,), (P,)) for i in range(20)],
        "blocked",
        id="better-on-average-but-critical-regression",
    ),
    pytest.param(
        [case("a", (P, P, P), (P, F, P), critical=True)], "blocked", id="critical-pass-to-flaky"
    ),
    pytest.param(
        [case("a", (P, F, P), (F, F, F), critical=True)], "blocked", id="critical-flaky-to-fail"
    ),
    pytest.param(
        # Flaky on both sides is noise, not evidence of a regression.
        [case("a", (P, F), (F, P), critical=True)],
        "passed",
        id="critical-flaky-both",
    ),
    pytest.param(
        [case("a", (P,), (E,), critical=True), case("b", (P,), (P,))], "incomplete", id="crit-err"
    ),
    pytest.param(
        [case("a", (E, C), (P,), critical=True), case("b", (P,), (P,))],
        "incomplete",
        id="crit-err-baseline",
    ),
    pytest.param(
        # The block wins over the incomplete: one critical case is known to regress.
        [case("a", (P,), (E,), critical=True), case("b", (P,), (F,), critical=True)],
        "blocked",
        id="blocked-beats-incomplete",
    ),
    pytest.param(
        # A non-critical error is excluded, the rest still compares: passed.
        [case("a", (P,), (E,)), case("b", (P,), (P,))],
        "passed",
        id="noncritical-error",
    ),
    pytest.param(
        # Everything errored on the candidate: nothing measured is never a pass.
        [case("a", (P,), (E,)), case("b", (P,), (E,))],
        "incomplete",
        id="outage",
    ),
    pytest.param(
        [case(f"t{i}", (P,), (F,) if i < 2 else (P,), dimension="tone") for i in range(10)],
        "needs_ack",
        id="tone-drops-20pp",
    ),
]


@pytest.mark.parametrize(("rows", "verdict"), VERDICTS)
def test_verdicts(rows, verdict):
    assert verdict_of(rows).verdict == verdict


def test_a_critical_regression_blocks_and_says_so_in_plain_language_first():
    rows = [case(f"x{i}", (F,), (P,)) for i in range(5)]
    rows.append(case("refund intent is JSON", (P,), (F,), critical=True, dimension="format"))
    report = verdict_of(rows)
    assert report.verdict == "blocked"
    assert report.reasons == (
        "Critical case 'refund intent is JSON' passed on the baseline and fails on the candidate.",
    )
    assert report.cases[0].name == "refund intent is JSON"
    assert [c.name for c in report.regressed] == ["refund intent is JSON"]
    # The averages did improve: accuracy went from 0% to 100%.
    accuracy = next(d for d in report.dimensions if d.dimension == "accuracy")
    assert accuracy.delta_pp == 100.0


def test_errors_are_left_out_of_both_sides_rates():
    rows = [
        case("a", (P,), (P,)),
        case("b", (F,), (F,)),
        # Would be a 50-point drop if the candidate's error counted as a fail.
        case("c", (P,), (E,)),
    ]
    dim = verdict_of(rows).dimensions[0]
    assert (dim.baseline.rate, dim.baseline.n) == (50.0, 2)
    assert (dim.candidate.rate, dim.candidate.n) == (50.0, 2)
    assert dim.delta_pp == 0.0


def test_rates_are_weighted_by_case_weight_over_scored_trials():
    rows = [
        case("heavy", (P, P), (F, F), weight=3.0),
        case("light", (P, P), (P, E), weight=1.0),
    ]
    dim = verdict_of(rows, {"s1": 90.0}).dimensions[0]
    assert dim.baseline.rate == 100.0
    # candidate: heavy 0/2 trials at weight 3, light 1/1 scored at weight 1 -> 1 / 7.
    assert dim.candidate.rate == pytest.approx(100 / 7, abs=0.01)
    assert (dim.candidate.n, dim.candidate.passed) == (3, 1)


def test_thresholds_are_per_suite():
    rows = [case(f"a{i}", (P,), (F,) if i == 0 else (P,), suite="s1") for i in range(10)]
    rows += [case(f"b{i}", (P,), (F,) if i == 0 else (P,), suite="s2") for i in range(10)]
    report = verdict_of(rows, {"s1": 15.0, "s2": 5.0})
    assert report.verdict == "needs_ack"
    flagged = [(d.suite_name, d.needs_ack) for d in report.dimensions]
    assert flagged == [("Safety", True), ("Support", False)]
    assert report.reasons == (
        "Dimension accuracy of suite 'Safety' dropped 10.0 points (100.0% to 90.0%), more than "
        "the suite's threshold of 5 points; a release manager may proceed with a note.",
    )


def test_a_drop_equal_to_the_threshold_passes():
    rows = [case(f"a{i}", (P,), (F,) if i == 0 else (P,)) for i in range(20)]
    assert verdict_of(rows, {"s1": 5.0}).verdict == "passed"


def test_dimensions_are_compared_per_suite_and_dimension():
    rows = [
        case("a", (P,), (P,), dimension="tone"),
        case("b", (P,), (F,), dimension="format"),
        case("c", (P,), (P,), dimension="format", suite="s2"),
    ]
    dims = {(d.suite, d.dimension): d.delta_pp for d in verdict_of(rows).dimensions}
    assert dims == {("s1", "tone"): 0.0, ("s1", "format"): -100.0, ("s2", "format"): 0.0}


def test_the_interval_is_newcombes_on_unweighted_counts():
    # Newcombe (1998), table II example: 56/70 vs 48/80 -> difference 0.2, CI (0.0524, 0.3339).
    low, high = newcombe(48, 80, 56, 70)
    assert low == pytest.approx(0.0524, abs=1e-4)
    assert high == pytest.approx(0.3339, abs=1e-4)
    rows = [
        case(f"a{i}", (P,), (P,) if i < 8 else (F,), weight=5.0 if i == 0 else 1) for i in range(10)
    ]
    dim = verdict_of(rows, {"s1": 50.0}).dimensions[0]
    lo, hi = dim.interval_pp
    assert lo < dim.delta_pp < hi
    # Weighted: case a0 (weight 5) passes on both, so the drop is 2 of 14 weighted trials.
    assert dim.delta_pp == pytest.approx(-100 * 2 / 14, abs=0.01)
    # Unweighted: 8/10 vs 10/10.
    assert (lo, hi) == tuple(round(100 * x, 2) for x in newcombe(10, 10, 8, 10))


def test_the_report_is_json_ready():
    rows = [case("a", (P,), (F,), critical=True), case("b", (P, E), (P, P), dimension="tone")]
    data = json.loads(json.dumps(verdict_of(rows).to_json()))
    assert data["verdict"] == "blocked"
    assert data["cases"][0]["change"] == "regressed"
    assert data["cases"][0]["baseline"] == {"status": "pass", "passed": 1, "scored": 1, "trials": 1}
    assert {d["dimension"] for d in data["dimensions"]} == {"accuracy", "tone"}
    assert data["counts"]["regressed"] == 1
    assert "unweighted" in data["interval_note"]
