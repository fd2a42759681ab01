"""Guardrail simulation: the product's own sequential test (rollouts/guardrails/sequential.py)
on simulated canaries, looked at after every batch as the minute beat task does.

- A/A: baseline and candidate at 1% errors, batches of 100 requests per arm, looked at after
  every batch up to 20,000 per arm (200 looks): the share of runs that ever breach (a false
  rollback). Target <= 5%.
- A 2% candidate against a 1% baseline: the share of runs rolled back within 3,500 candidate
  requests. Target >= 80%.
- For comparison: the fixed-horizon sample size (one-sided two-proportion z-test, alpha 0.05,
  power 0.8) that a single look at a planned n would need.

Both at the error-rate guardrail's default tolerance (rollouts/guardrails/evaluate.py), then a
table at other tolerances. Seconds, no servers, no database: `python bench/bench_guardrails.py`.
"""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# harness sits next to this file; the tests import this module as bench.bench_guardrails.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import figure

from rollouts.guardrails.sequential import BREACH, DEFAULT_DESIGN, Design, decide, fixed_horizon_n

RUNS = 2_000
BATCH = 100  # requests per arm between looks
LOOKS = 200  # horizon: 20,000 requests per arm
WITHIN = 3_500  # candidate requests
BASE_RATE = 0.01
BAD_RATE = 0.02
# The error-rate guardrail's default (evaluate.DEFAULTS); repeated here so the benchmark runs
# without Django. tests/rollouts/test_sequential.py checks that the two agree.
ERROR_RATE_TOLERANCE = 0.0


def first_breach(
    candidate_rate: float, *, tolerance: float, design: Design, seed: int
) -> np.ndarray:
    """Candidate requests at each run's first breach (np.inf when it never breached)."""
    rng = np.random.default_rng(seed)
    xc = rng.binomial(BATCH, candidate_rate, size=(RUNS, LOOKS)).cumsum(axis=1)
    xb = rng.binomial(BATCH, BASE_RATE, size=(RUNS, LOOKS)).cumsum(axis=1)
    first = np.full(RUNS, np.inf)
    for look in range(LOOKS):
        n = np.full(RUNS, (look + 1) * BATCH)
        codes = decide(xc[:, look], n, xb[:, look], n, tolerance=tolerance, design=design)
        newly = (codes == BREACH) & np.isinf(first)
        first[newly] = (look + 1) * BATCH
    return first


def figures(tolerance: float, design: Design, seed: int) -> tuple[float, float, float]:
    aa = first_breach(BASE_RATE, tolerance=tolerance, design=design, seed=seed)
    bad = first_breach(BAD_RATE, tolerance=tolerance, design=design, seed=seed + 1)
    median = float(np.median(bad)) if np.isfinite(np.median(bad)) else float("inf")
    return float(np.isfinite(aa).mean()), float((bad <= WITHIN).mean()), median


def main() -> int:
    started = time.perf_counter()
    design = DEFAULT_DESIGN
    false_rate, power, median = figures(ERROR_RATE_TOLERANCE, design, seed=20_261_201)
    horizon = fixed_horizon_n(
        baseline_rate=BASE_RATE, candidate_rate=BAD_RATE, tolerance=ERROR_RATE_TOLERANCE
    )
    print(
        f"design: alpha {design.alpha}, mixture_n {design.mixture_n:g}, min_samples "
        f"{design.min_samples} per arm; {RUNS:,} runs, batches of {BATCH} per arm, {LOOKS} looks"
    )
    print(f"error-rate guardrail, tolerance {ERROR_RATE_TOLERANCE:.0%} (the default):")
    ok_false = false_rate <= 0.05
    ok_power = power >= 0.80
    figure(
        "A/A false rollback rate",
        false_rate * 100,
        "%",
        text=f"  A/A false rollback rate: {false_rate:.2%} (target <= 5%)",
        target="<= 5%",
        met=ok_false,
    )
    figure(
        f"2% vs 1% rolled back within {WITHIN:,}",
        power * 100,
        "%",
        text=(
            f"  2% vs 1%: rolled back within {WITHIN:,} candidate requests in {power:.1%} of "
            f"runs (target >= 80%); median {median:,.0f} requests"
        ),
        target=">= 80%",
        met=ok_power,
    )
    # Information only: the fixed-horizon sample size is what one planned look would need.
    figure(
        "2% vs 1% median requests to rollback",
        median,
        "req",
        text=f"  fixed-horizon sample size (alpha 0.05 one-sided, power 0.8): {horizon:,} per arm",
        peer=horizon,
        peer_name="fixed horizon",
        ratio=median / horizon,
    )
    print("other tolerances (same design):")
    for tolerance in (0.1, 0.2):
        f, p, m = figures(tolerance, design, seed=7 + int(tolerance * 100))
        n = fixed_horizon_n(baseline_rate=BASE_RATE, candidate_rate=BAD_RATE, tolerance=tolerance)
        print(
            f"  tolerance {tolerance:.0%}: A/A false {f:.2%}, 2% vs 1% within {WITHIN:,}: "
            f"{p:.1%} (median {m:,.0f}), fixed horizon {n:,} per arm"
        )
    print(f"{time.perf_counter() - started:.1f} s")
    return 0 if ok_false and ok_power else 1


if __name__ == "__main__":
    raise SystemExit(main())
