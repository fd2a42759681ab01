"""The always-valid sequential test behind guardrails (rollouts/guardrails/sequential.py)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from rollouts.guardrails.sequential import (
    BREACH,
    DEFAULT_DESIGN,
    OK,
    Design,
    State,
    critical_z,
    decide,
    fixed_horizon_n,
    log_mixture_lr,
    one_proportion,
    share_above,
    two_proportions,
)

# candidate (events, n), baseline (events, n), tolerance -> state
TABLE = [
    ((120, 3000), (30, 3000), 0.0, State.BREACH),  # 4% vs 1%
    ((80, 2000), (20, 2000), 0.0, State.BREACH),
    ((30, 3000), (30, 3000), 0.0, State.INSUFFICIENT),  # A/A: never "ok" at tolerance 0
    ((60, 3000), (50, 3000), 0.5, State.INSUFFICIENT),  # worse, but well within +50%
    ((2000, 50_000), (2500, 50_000), 0.2, State.OK),  # 4% vs 5%: shown within +20%
    ((5500, 100_000), (5000, 100_000), 0.2, State.OK),  # +10%, tolerated +20%, lots of data
    ((7000, 100_000), (5000, 100_000), 0.2, State.BREACH),  # +40% against +20% tolerated
    ((50, 150), (0, 150), 0.0, State.INSUFFICIENT),  # below the minimum sample: never decided
    ((0, 0), (0, 0), 0.0, State.INSUFFICIENT),
]


@pytest.mark.parametrize(("candidate", "baseline", "tolerance", "state"), TABLE)
def test_it_decides_the_table(candidate, baseline, tolerance, state):
    verdict = two_proportions(candidate=candidate, baseline=baseline, tolerance=tolerance)
    assert verdict.state == state
    if state == State.BREACH:
        assert verdict.low is not None and verdict.low > 0
    if state == State.OK:
        assert verdict.high is not None and verdict.high < 0


def test_the_tolerance_is_folded_into_the_null():
    # The same data breaches at 0% and is tolerated at +100%.
    c, b = (90, 3000), (50, 3000)
    assert two_proportions(candidate=c, baseline=b, tolerance=0.0).state == State.BREACH
    tolerant = two_proportions(candidate=c, baseline=b, tolerance=1.0)
    assert tolerant.state != State.BREACH
    assert tolerant.tolerated_rate == pytest.approx(2 * 50 / 3000)


def test_insufficient_says_what_it_still_needs():
    verdict = two_proportions(candidate=(5, 50), baseline=(1, 120), tolerance=0.2)
    assert verdict.state == State.INSUFFICIENT
    assert "150 more candidate observations" in verdict.needs
    assert "80 more baseline observations" in verdict.needs
    later = two_proportions(candidate=(30, 3000), baseline=(30, 3000), tolerance=0.2)
    assert later.state == State.INSUFFICIENT and "more observations" in later.needs


def test_it_refuses_impossible_counts():
    with pytest.raises(ValueError, match="between 0 and n"):
        two_proportions(candidate=(11, 10), baseline=(0, 10), tolerance=0)
    with pytest.raises(ValueError, match="null_rate"):
        one_proportion(events=1, n=10, null_rate=1.5)


def test_the_closed_form_is_the_half_normal_mixture():
    """log Lambda equals the numerically integrated mixture of Gaussian likelihood ratios."""
    for d, v, tau2 in ((0.004, 1e-5, 4e-5), (-0.002, 2e-6, 1e-5), (0.01, 5e-5, 1e-6)):

        def integrand(theta, d=d, v=v, tau2=tau2):
            prior = 2 * math.exp(-(theta**2) / (2 * tau2)) / math.sqrt(2 * math.pi * tau2)
            return prior * math.exp((theta * d - theta**2 / 2) / v)

        numeric, _ = integrate.quad(integrand, 0, 50 * math.sqrt(tau2))
        closed = float(log_mixture_lr(d / math.sqrt(v), tau2 / v))
        assert closed == pytest.approx(math.log(numeric), rel=1e-6)


def test_the_interval_and_the_decision_agree():
    rng = np.random.default_rng(3)
    for _ in range(300):
        n_c, n_b = int(rng.integers(200, 20_000)), int(rng.integers(200, 20_000))
        x_c, x_b = int(rng.binomial(n_c, 0.03)), int(rng.binomial(n_b, 0.025))
        verdict = two_proportions(candidate=(x_c, n_c), baseline=(x_b, n_b), tolerance=0.1)
        assert verdict.low is not None and verdict.high is not None
        assert (verdict.state == State.BREACH) == (verdict.low > 0)
        assert (verdict.state == State.OK) == (verdict.high < 0)


def test_the_critical_value_solves_the_boundary():
    for r in (0.5, 5.0, 50.0):
        c = critical_z(r, 0.05)
        assert float(log_mixture_lr(c, r)) == pytest.approx(math.log(20), abs=1e-9)
    # Always-valid costs width: above the fixed-horizon one-sided 1.645 everywhere.
    assert min(critical_z(r, 0.05) for r in (1, 4, 8, 16, 64)) > 1.645


def test_pair_verdicts_are_held_to_the_tolerated_share():
    assert one_proportion(events=40, n=50, null_rate=0.5).state == State.INSUFFICIENT  # < 200
    pairs = Design(mixture_n=50, min_samples=50)
    assert one_proportion(events=40, n=50, null_rate=0.5, design=pairs).state == State.BREACH
    assert one_proportion(events=26, n=50, null_rate=0.5, design=pairs).state == State.INSUFFICIENT
    assert one_proportion(events=100, n=400, null_rate=0.5, design=pairs).state == State.OK


def test_latency_becomes_the_share_above_the_baselines_p95_bucket():
    bounds = (100, 200, 500, 1000)
    baseline = [500, 400, 60, 30, 10]  # cumulative 500, 900, 960: rank 950 is in <= 500 ms
    candidate = [100, 300, 400, 150, 50]
    split = share_above(baseline, candidate, bounds)
    assert split is not None
    (above_c, n_c), (above_b, n_b), threshold = split
    assert threshold == 500
    assert (above_b, n_b) == (40, 1000)
    assert (above_c, n_c) == (200, 1000)
    assert share_above([0, 0, 0, 0, 0], candidate, bounds) is None
    assert share_above([0, 0, 0, 10, 990], candidate, bounds) is None  # p95 in the overflow
    with pytest.raises(ValueError, match="overflow"):
        share_above([1, 2], [1, 2], bounds)


def test_fixed_horizon_sample_size():
    # (1.645 + 0.842)^2 * (0.0196 + 0.0099) / 0.01^2 = 1,823.4 per arm
    assert fixed_horizon_n(baseline_rate=0.01, candidate_rate=0.02) == 1824
    assert fixed_horizon_n(baseline_rate=0.01, candidate_rate=0.02, tolerance=0.2) > 3000
    with pytest.raises(ValueError, match="exceed"):
        fixed_horizon_n(baseline_rate=0.02, candidate_rate=0.02)


def test_the_vectorised_decision_is_the_products():
    xc, nc, xb, nb = [120, 30, 2000], [3000, 3000, 50_000], [30, 30, 2500], [3000, 3000, 50_000]
    codes = decide(xc, nc, xb, nb, tolerance=0.2)
    singles = [
        two_proportions(candidate=(a, b), baseline=(c, d), tolerance=0.2).state
        for a, b, c, d in zip(xc, nc, xb, nb, strict=True)
    ]
    assert [int(c) for c in codes] == [
        {State.BREACH: BREACH, State.OK: OK, State.INSUFFICIENT: 0}[s] for s in singles
    ]


@settings(max_examples=20, deadline=None)
@given(rate=st.floats(min_value=0.003, max_value=0.3), seed=st.integers(0, 2**32 - 1))
def test_a_a_canaries_rarely_breach(rate, seed):
    """Both arms at the same rate, looked at after every batch of 100 for 60 looks: the share
    of runs that ever breach stays near or below alpha (expected ~2-3%; 8% allows for the
    Monte Carlo noise of 400 runs)."""
    runs, looks, batch = 400, 60, 100
    rng = np.random.default_rng(seed)
    xc = rng.binomial(batch, rate, size=(runs, looks)).cumsum(axis=1)
    xb = rng.binomial(batch, rate, size=(runs, looks)).cumsum(axis=1)
    ever = np.zeros(runs, dtype=bool)
    for look in range(looks):
        n = np.full(runs, (look + 1) * batch)
        ever |= decide(xc[:, look], n, xb[:, look], n, tolerance=0.0) == BREACH
    assert ever.mean() <= 0.08
    assert DEFAULT_DESIGN.alpha == 0.05


def test_a_rare_event_absent_from_both_arms_is_shown_within_its_slack():
    # No refusals in 2,000 answers per arm: the relative tolerance alone allows nothing...
    none = two_proportions(candidate=(0, 2000), baseline=(0, 2000), tolerance=0.2)
    assert none.state == State.INSUFFICIENT
    # ...half a point of slack lets the candidate be shown within tolerance,
    slack = two_proportions(candidate=(0, 2000), baseline=(0, 2000), tolerance=0.2, slack=0.005)
    assert slack.state == State.OK and slack.tolerated_rate == pytest.approx(0.005)
    # and a candidate refusing 3% of the time still breaches it.
    bad = two_proportions(candidate=(60, 2000), baseline=(0, 2000), tolerance=0.2, slack=0.005)
    assert bad.state == State.BREACH
