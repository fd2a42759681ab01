"""Always-valid sequential tests for guardrails (pure: numpy and scipy, no Django).

A guardrail is looked at every minute for as long as a stage runs, so a fixed-horizon test
(checked again and again) would fire on chance alone sooner or later. This module's tests keep
their false-breach rate at most `alpha` however often they are looked at.

Model. Every guardrail metric is a proportion per arm ("higher is worse"): errors per request,
refusals per request, invalid JSON per checked answer, thumbs-down per feedback, and for latency
the share of requests slower than the baseline's p95 bucket boundary (`share_above`). With the
tolerated relative change `tol` and k = 1 + tol:

    H0 (within tolerance): p_c <= k * p_b        H1 (breach): p_c > k * p_b

The excess theta = p_c - k p_b is estimated by D = x_c/n_c - k x_b/n_b with the plug-in variance
V = q_c(1-q_c)/n_c + k^2 q_b(1-q_b)/n_b, q = (x + 1/2)/(n + 1) (smoothed so that zero events in
the first batches never make V zero and a single error look decisive).

Test. An mSPRT with a one-sided normal mixture (Johari, Pekelis, Walsh 2017, "Always valid
inference"; Robbins 1970): the likelihood ratio of theta against the boundary theta = 0, mixed
over a half-normal prior on theta > 0 with variance tau^2, is

    Lambda = 2 sqrt(V / (V + tau^2)) exp(D^2 tau^2 / (2 V (V + tau^2)))
             * Phi(D tau / sqrt(V (V + tau^2)))

a (super)martingale under H0, so by Ville's inequality P(ever Lambda >= 1/alpha) <= alpha. With
z = D / sqrt(V) and r = tau^2 / V it depends on (z, r) only. The mixture variance is taken
proportional to the plug-in per-request variance, tau^2 = V * n_c / mixture_n, i.e.
r = n_c / mixture_n (the asymptotic confidence sequences of Howard et al. 2021 and Waudby-Smith et
al. 2024 "Time-uniform central limit theory" justify the plug-in): scale-free across base rates,
tightest around n_c ~ mixture_n * 4..12 candidate requests. The mirror test (prior on theta < 0)
shows the candidate within tolerance. Inverting both gives an always-valid interval
[D - c sqrt(V), D + c sqrt(V)] for the excess, where Lambda(c, r) = 1/alpha.

Decisions:
  - breach: the interval's lower end is above 0 (the candidate is worse than tolerated);
  - ok: its upper end is below 0 (the candidate is shown within tolerance);
  - insufficient: fewer than `min_samples` per arm, or neither. Never a pass.

Parameters (`Design`, tuned with bench/bench_guardrails.py: 2,000 A/A canaries at 1% errors,
batches of 100 per arm, 200 looks): alpha 0.05, mixture_n 400, min_samples 200. At tolerance 0
that gives ~2-3% false rollbacks (alpha bounds it; discrete looks make it smaller) and rolls back a
2% candidate against a 1% baseline within 3,500 candidate requests in ~82% of runs.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq
from scipy.special import log_ndtr
from scipy.stats import norm

BREACH, INSUFFICIENT, OK = 1, 0, -1  # codes of `decide`


class State(StrEnum):
    INSUFFICIENT = "insufficient"
    OK = "ok"
    BREACH = "breach"


STATE_OF_CODE = {BREACH: State.BREACH, INSUFFICIENT: State.INSUFFICIENT, OK: State.OK}


@dataclass(frozen=True)
class Design:
    alpha: float = 0.05
    # Candidate observations at which the mixture sits (r = n_c / mixture_n); see the docstring.
    mixture_n: float = 400.0
    # Per arm, before either decision: below it the smoothed variance still dominates.
    min_samples: int = 200

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 0.5:
            raise ValueError("alpha must be between 0 and 0.5")
        if self.mixture_n <= 0 or self.min_samples < 1:
            raise ValueError("mixture_n must be positive and min_samples at least 1")


DEFAULT_DESIGN = Design()


def log_mixture_lr(z: ArrayLike, r: ArrayLike) -> NDArray[np.float64]:
    """log Lambda of the one-sided normal-mixture mSPRT at standardised excess z and variance
    ratio r = tau^2 / V (the module docstring)."""
    z, r = np.asarray(z, dtype=float), np.asarray(r, dtype=float)
    shrink = r / (1.0 + r)
    out: NDArray[np.float64] = (
        np.log(2.0) - 0.5 * np.log1p(r) + 0.5 * z * z * shrink + log_ndtr(z * np.sqrt(shrink))
    )
    return out


def _smoothed(x: NDArray[np.float64], n: NDArray[np.float64]) -> NDArray[np.float64]:
    q: NDArray[np.float64] = (x + 0.5) / (n + 1.0)
    return q


def excess_and_variance(
    xc: ArrayLike,
    nc: ArrayLike,
    xb: ArrayLike,
    nb: ArrayLike,
    *,
    tolerance: float,
    slack: float = 0.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """D = p_c - (1 + tol) p_b - slack and its plug-in variance V (arrays; n > 0 expected).
    The absolute slack (a rate, 0.002 = 0.2 points) lets a rare event be shown within
    tolerance: at a baseline rate of 0 the relative tolerance alone allows nothing, and the
    candidate can never be shown at or below nothing."""
    xc_, nc_ = np.asarray(xc, dtype=float), np.asarray(nc, dtype=float)
    xb_, nb_ = np.asarray(xb, dtype=float), np.asarray(nb, dtype=float)
    k = 1.0 + tolerance
    safe_c, safe_b = np.maximum(nc_, 1.0), np.maximum(nb_, 1.0)
    qc, qb = _smoothed(xc_, safe_c), _smoothed(xb_, safe_b)
    excess = xc_ / safe_c - k * xb_ / safe_b - slack
    variance = qc * (1 - qc) / safe_c + k * k * qb * (1 - qb) / safe_b
    return excess, variance


def _codes(
    excess: NDArray[np.float64],
    variance: NDArray[np.float64],
    n_mixture: NDArray[np.float64],
    enough: NDArray[np.bool_],
    design: Design,
) -> NDArray[np.int8]:
    z = excess / np.sqrt(variance)
    r = n_mixture / design.mixture_n
    level = np.log(1.0 / design.alpha)
    breach = enough & (log_mixture_lr(z, r) >= level)
    ok = enough & (log_mixture_lr(-z, r) >= level)
    codes = np.zeros(np.shape(excess), dtype=np.int8)
    codes[breach] = BREACH
    codes[ok & ~breach] = OK
    return codes


def decide(
    xc: ArrayLike,
    nc: ArrayLike,
    xb: ArrayLike,
    nb: ArrayLike,
    *,
    tolerance: float,
    slack: float = 0.0,
    design: Design = DEFAULT_DESIGN,
) -> NDArray[np.int8]:
    """Vectorised two-proportion decision: BREACH, OK or INSUFFICIENT per element. The product
    (`two_proportions`) and the benchmark both go through here."""
    excess, variance = excess_and_variance(xc, nc, xb, nb, tolerance=tolerance, slack=slack)
    nc_, nb_ = np.asarray(nc, dtype=float), np.asarray(nb, dtype=float)
    enough = (nc_ >= design.min_samples) & (nb_ >= design.min_samples)
    return _codes(excess, variance, nc_, enough, design)


def critical_z(r: float, alpha: float) -> float:
    """c with log Lambda(c, r) = log(1/alpha): the always-valid half-width in units of sqrt(V)."""
    level = np.log(1.0 / alpha)
    return float(brentq(lambda z: float(log_mixture_lr(z, r)) - level, 0.0, 100.0))


@dataclass(frozen=True)
class Verdict:
    """One look at one guardrail: the state and the numbers behind it (all JSON-ready)."""

    state: State
    candidate_n: int
    candidate_x: int
    baseline_n: int  # for one-sample tests: 0
    baseline_x: int
    tolerance: float
    # The rate the candidate may reach (k * baseline rate, or the one-sample null rate).
    tolerated_rate: float | None
    excess: float | None  # observed candidate rate - tolerated rate
    low: float | None  # always-valid interval for the excess
    high: float | None
    alpha: float
    needs: str  # what "insufficient" still waits for ("" otherwise)

    @property
    def candidate_rate(self) -> float | None:
        return self.candidate_x / self.candidate_n if self.candidate_n else None

    @property
    def baseline_rate(self) -> float | None:
        return self.baseline_x / self.baseline_n if self.baseline_n else None

    def to_json(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(float(value), 6)

        return {
            "state": str(self.state),
            "candidate": {
                "n": self.candidate_n,
                "events": self.candidate_x,
                "rate": rounded(self.candidate_rate),
            },
            "baseline": {
                "n": self.baseline_n,
                "events": self.baseline_x,
                "rate": rounded(self.baseline_rate),
            },
            "tolerance": self.tolerance,
            "tolerated_rate": rounded(self.tolerated_rate),
            "excess": rounded(self.excess),
            "low": rounded(self.low),
            "high": rounded(self.high),
            "alpha": self.alpha,
            "needs": self.needs,
        }


def _needs(state: State, nc: int, nb: int, design: Design, *, sign_known: bool) -> str:
    if state != State.INSUFFICIENT:
        return ""
    missing = [
        f"{design.min_samples - n:,} more {arm} observations"
        for arm, n in (("candidate", nc), ("baseline", nb))
        if n < design.min_samples
    ]
    if missing:
        return " and ".join(missing)
    if not sign_known:
        return "events in the baseline arm, so a tolerated level can be shown"
    return "more observations: neither a breach nor 'within tolerance' is shown yet"


def two_proportions(
    *,
    candidate: tuple[int, int],
    baseline: tuple[int, int],
    tolerance: float,
    slack: float = 0.0,
    design: Design = DEFAULT_DESIGN,
) -> Verdict:
    """Judge candidate (events, n) against baseline (events, n) with the tolerance (relative)
    and the slack (absolute, a rate) folded in: the tolerated rate is (1 + tol) p_b + slack."""
    (xc, nc), (xb, nb) = candidate, baseline
    if min(xc, nc, xb, nb) < 0 or xc > nc or xb > nb:
        raise ValueError("events must be between 0 and n in each arm")
    if nc == 0 or nb == 0:
        return Verdict(
            State.INSUFFICIENT, nc, xc, nb, xb, tolerance, None, None, None, None,
            design.alpha, _needs(State.INSUFFICIENT, nc, nb, design, sign_known=True),
        )  # fmt: skip
    code = int(decide([xc], [nc], [xb], [nb], tolerance=tolerance, slack=slack, design=design)[0])
    excess, variance = excess_and_variance(xc, nc, xb, nb, tolerance=tolerance, slack=slack)
    half = critical_z(nc / design.mixture_n, design.alpha) * float(np.sqrt(variance))
    state = STATE_OF_CODE[code]
    d = float(excess)
    return Verdict(
        state, nc, xc, nb, xb, tolerance, (1 + tolerance) * xb / nb + slack, d, d - half,
        d + half, design.alpha,
        _needs(state, nc, nb, design, sign_known=xb > 0 or slack > 0 or d > 0),
    )  # fmt: skip


def one_proportion(
    *, events: int, n: int, null_rate: float, design: Design = DEFAULT_DESIGN
) -> Verdict:
    """H0: rate <= null_rate against rate > null_rate, the same mixture on D = rate - null_rate
    (reviewer and judge loss: the candidate-worse share of decided, non-tied pairs)."""
    if events < 0 or n < 0 or events > n or not 0 < null_rate < 1:
        raise ValueError("events must be between 0 and n, and null_rate inside (0, 1)")
    if n < design.min_samples:
        return Verdict(
            State.INSUFFICIENT, n, events, 0, 0, 0.0, null_rate,
            events / n - null_rate if n else None, None, None, design.alpha,
            f"{design.min_samples - n:,} more observations",
        )  # fmt: skip
    q = (events + 0.5) / (n + 1.0)
    d = events / n - null_rate
    variance = q * (1 - q) / n
    code = int(
        _codes(np.array([d]), np.array([variance]), np.array([float(n)]), np.array([True]), design)[
            0
        ]
    )
    half = critical_z(n / design.mixture_n, design.alpha) * float(np.sqrt(variance))
    state = STATE_OF_CODE[code]
    return Verdict(
        state, n, events, 0, 0, 0.0, null_rate, d, d - half, d + half, design.alpha,
        _needs(state, n, n, design, sign_known=True),
    )  # fmt: skip


def share_above(
    baseline_hist: list[int], candidate_hist: list[int], bounds_ms: tuple[int, ...]
) -> tuple[tuple[int, int], tuple[int, int], int] | None:
    """Latency as a proportion: the baseline's p95 bucket (the first whose cumulative count
    reaches 95%) fixes a boundary; each arm's (requests above it, requests) and the boundary in
    ms. None when the baseline has no requests or its p95 is in the overflow bucket (no edge
    above it to count against). Buckets: upper bounds `bounds_ms`, then one overflow bucket."""
    if len(baseline_hist) != len(bounds_ms) + 1 or len(candidate_hist) != len(bounds_ms) + 1:
        raise ValueError("a histogram has one count per bucket bound plus an overflow bucket")
    total_b, total_c = sum(baseline_hist), sum(candidate_hist)
    if total_b == 0:
        return None
    cumulative = np.cumsum(baseline_hist)
    index = int(np.searchsorted(cumulative, 0.95 * total_b, side="left"))
    if index >= len(bounds_ms):
        return None
    above_b = int(total_b - cumulative[index])
    above_c = int(sum(candidate_hist[index + 1 :]))
    return (above_c, total_c), (above_b, total_b), int(bounds_ms[index])


def fixed_horizon_n(
    *, baseline_rate: float, candidate_rate: float, tolerance: float = 0.0,
    alpha: float = 0.05, power: float = 0.8,
) -> int:  # fmt: skip
    """Per-arm sample size of a one-sided two-proportion z-test (unpooled variance) of
    p_c <= (1 + tol) p_b that detects `candidate_rate` with `power`: the comparison figure."""
    k = 1.0 + tolerance
    effect = candidate_rate - k * baseline_rate
    if effect <= 0:
        raise ValueError("the candidate rate must exceed the tolerated rate")
    spread = candidate_rate * (1 - candidate_rate) + k * k * baseline_rate * (1 - baseline_rate)
    z = float(norm.ppf(1 - alpha) + norm.ppf(power))
    return int(np.ceil(z * z * spread / (effect * effect)))
