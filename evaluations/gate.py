"""The gate's verdict: one pure function over the case trials of a baseline and a candidate run.

No ORM here: `evaluations/services/gates.py` reads the stored results into `CaseTrials` and
stores what `gate_verdict` returns, so every rule below is tested on plain tables of cases.

Rules (the product owner's: "the critical dimension wins over a better average"):
1. A side of a case is `pass` when every scored trial passed, `fail` when every scored trial
   failed, `flaky` when its trials disagree, `none` when no trial was scored (all errored or
   were cancelled). Only pass and fail are scored: an error never counts as a pass or a fail.
2. A case is `regressed` (pass -> fail), `fixed` (fail -> pass), `flaky` (either side flaky),
   `error` (either side none) or `unchanged`.
3. **blocked** when a critical case got worse: pass -> fail, and also pass -> flaky (the
   candidate fails it sometimes, which is a failure in production) and flaky -> fail (the
   baseline passed it at least sometimes, the candidate never does). This wins over any average.
4. **incomplete** when nothing blocks but a critical case has no scored result on one side, or
   a dimension has no scored case at all on one side, or a suite the gate ran (or the whole
   gate) has no case result at all: the gate cannot judge what was not measured, so it must
   run again (a provider outage must never pass a gate).
5. **needs_ack** when a dimension's weighted pass rate drops by more than its suite's threshold
   (percentage points). Every dimension counts, including one that holds critical cases: its
   non-critical cases dropping still needs a written note.
6. **passed** otherwise.

Rates are weighted by case weight over scored trials; cases that are `error` are left out of
both sides' rates, so both sides are compared on the same cases. The 95% interval of the delta
is Newcombe's hybrid score interval built from the two Wilson intervals, on *unweighted* trial
counts (a weighted count has no binomial interval); with equal weights the two agree.
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from math import isfinite, sqrt
from typing import Any, Literal

from scipy.stats import norm

SideStatus = Literal["pass", "fail", "flaky", "none"]
Change = Literal["regressed", "fixed", "unchanged", "flaky", "error"]
Verdict = Literal["passed", "needs_ack", "blocked", "incomplete"]

SCORED = ("pass", "fail")
# A suite missing from `thresholds` (a caller's slip) is judged at the suite default.
DEFAULT_THRESHOLD = 5.0
Z95 = float(norm.ppf(0.975))
INTERVAL_NOTE = (
    "Intervals: 95% Newcombe hybrid score interval of the difference (from Wilson intervals), "
    "on unweighted trial counts; the delta itself is weighted by case weight."
)
# The order of cases in the report: what a release manager must read first comes first.
CHANGE_ORDER: dict[str, int] = {"regressed": 0, "flaky": 1, "error": 2, "fixed": 3, "unchanged": 4}


@dataclass(frozen=True)
class CaseTrials:
    """One case's trials on one side: each trial is "pass", "fail", "error" or "cancelled"."""

    case_code: str
    name: str
    suite_code: str
    dimension: str
    critical: bool
    weight: float
    trials: tuple[str, ...]


@dataclass(frozen=True)
class SideResult:
    status: SideStatus
    passed: int
    scored: int
    trials: int


@dataclass(frozen=True)
class CaseChange:
    case: str
    name: str
    suite: str
    dimension: str
    critical: bool
    weight: float
    baseline: SideResult
    candidate: SideResult
    change: Change
    blocks: bool
    reason: str


@dataclass(frozen=True)
class SideRate:
    # Weighted pass rate in percent, None without a scored trial.
    rate: float | None
    n: int
    passed: int
    # Wilson 95% interval of the unweighted pass rate, in percent.
    low: float | None
    high: float | None


@dataclass(frozen=True)
class DimensionDelta:
    suite: str
    suite_name: str
    dimension: str
    baseline: SideRate
    candidate: SideRate
    delta_pp: float | None
    interval_pp: tuple[float, float] | None
    threshold_pp: float
    needs_ack: bool


@dataclass(frozen=True)
class GateReport:
    verdict: Verdict
    reasons: tuple[str, ...]
    cases: tuple[CaseChange, ...]
    dimensions: tuple[DimensionDelta, ...]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def regressed(self) -> tuple[CaseChange, ...]:
        return tuple(c for c in self.cases if c.change == "regressed")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        data["interval_note"] = INTERVAL_NOTE
        for dim in data["dimensions"]:
            dim["interval_pp"] = list(dim["interval_pp"]) if dim["interval_pp"] else None
        return data


def side_result(trials: Sequence[str]) -> SideResult:
    scored = [t for t in trials if t in SCORED]
    passed = sum(1 for t in scored if t == "pass")
    status: SideStatus
    if not scored:
        status = "none"
    elif passed == len(scored):
        status = "pass"
    elif passed == 0:
        status = "fail"
    else:
        status = "flaky"
    return SideResult(status=status, passed=passed, scored=len(scored), trials=len(trials))


def _change(base: SideResult, cand: SideResult) -> Change:
    if "none" in (base.status, cand.status):
        return "error"
    if "flaky" in (base.status, cand.status):
        return "flaky"
    if (base.status, cand.status) == ("pass", "fail"):
        return "regressed"
    if (base.status, cand.status) == ("fail", "pass"):
        return "fixed"
    return "unchanged"


# A critical case blocks on these (baseline, candidate) pairs: rule 3 of the docstring.
BLOCKING = {("pass", "fail"), ("pass", "flaky"), ("flaky", "fail")}


def _reason(name: str, critical: bool, base: SideResult, cand: SideResult) -> str:
    kind = "Critical case" if critical else "Case"
    pair = (base.status, cand.status)
    if pair == ("pass", "fail"):
        return f"{kind} '{name}' passed on the baseline and fails on the candidate."
    if pair == ("pass", "flaky"):
        return (
            f"{kind} '{name}' passed on the baseline and fails {cand.scored - cand.passed} of "
            f"{cand.scored} trials on the candidate."
        )
    if pair == ("flaky", "fail"):
        return (
            f"{kind} '{name}' passed {base.passed} of {base.scored} trials on the baseline and "
            "fails every trial on the candidate."
        )
    if pair == ("fail", "pass"):
        return f"{kind} '{name}' failed on the baseline and passes on the candidate."
    if "none" in pair:
        side = "baseline" if base.status == "none" else "candidate"
        if base.status == cand.status:
            side = "baseline or the candidate"
        return (
            f"{kind} '{name}' has no scored result on the {side} (every trial errored or was "
            "cancelled); run the gate again."
        )
    if "flaky" in pair:
        return (
            f"{kind} '{name}' is flaky: baseline passed {base.passed}/{base.scored}, "
            f"candidate {cand.passed}/{cand.scored}."
        )
    return f"{kind} '{name}' {'passes' if base.status == 'pass' else 'fails'} on both sides."


def wilson(passed: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (as fractions)."""
    p = passed / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(base_passed: int, base_n: int, cand_passed: int, cand_n: int) -> tuple[float, float]:
    """95% interval of p_candidate - p_baseline (fractions): Newcombe's method 10."""
    p1, p2 = base_passed / base_n, cand_passed / cand_n
    l1, u1 = wilson(base_passed, base_n)
    l2, u2 = wilson(cand_passed, cand_n)
    d = p2 - p1
    return d - sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2), d + sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)


def _side_rate(weighted_pass: float, weighted_n: float, passed: int, n: int) -> SideRate:
    if not n:
        return SideRate(rate=None, n=0, passed=0, low=None, high=None)
    low, high = wilson(passed, n)
    # Only zero-weight cases: fall back to the unweighted rate rather than divide by zero; so
    # do weights so large that their sum overflows (inf / inf is NaN, which no JSON column takes).
    usable = isfinite(weighted_n) and isfinite(weighted_pass) and weighted_n > 0
    rate = weighted_pass / weighted_n if usable else passed / n
    return SideRate(
        rate=round(100 * rate, 2),
        n=n,
        passed=passed,
        low=round(100 * low, 2),
        high=round(100 * high, 2),
    )


def _dimension(
    suite: str, suite_name: str, dimension: str, changes: list[CaseChange], threshold: float
) -> DimensionDelta:
    # Errors are left out of both sides, so both rates are over the same cases.
    compared = [c for c in changes if c.change != "error"]

    def rate(side: str) -> SideRate:
        results = [(c.weight, getattr(c, side)) for c in compared]
        return _side_rate(
            sum(w * r.passed for w, r in results),
            sum(w * r.scored for w, r in results),
            sum(r.passed for _, r in results),
            sum(r.scored for _, r in results),
        )

    base, cand = rate("baseline"), rate("candidate")
    delta = interval = None
    if base.rate is not None and cand.rate is not None:
        delta = round(cand.rate - base.rate, 2)
        lo, hi = newcombe(base.passed, base.n, cand.passed, cand.n)
        interval = (round(100 * lo, 2), round(100 * hi, 2))
    return DimensionDelta(
        suite=suite,
        suite_name=suite_name,
        dimension=dimension,
        baseline=base,
        candidate=cand,
        delta_pp=delta,
        interval_pp=interval,
        threshold_pp=threshold,
        needs_ack=delta is not None and -delta > threshold,
    )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def _drop_reason(d: DimensionDelta) -> str:
    return (
        f"Dimension {d.dimension} of suite '{d.suite_name}' dropped {-(d.delta_pp or 0):.1f} "
        f"points ({_pct(d.baseline.rate)} to {_pct(d.candidate.rate)}), more than the suite's "
        f"threshold of {d.threshold_pp:g} points; a release manager may proceed with a note."
    )


def gate_verdict(
    baseline: Sequence[CaseTrials],
    candidate: Sequence[CaseTrials],
    *,
    thresholds: Mapping[str, float],
    suite_names: Mapping[str, str] | None = None,
    expected_suites: Collection[str] = (),
) -> GateReport:
    """The gate's verdict and report (see the module docstring for the rules).
    `expected_suites`: the suites the gate ran; one without a single scored case on a side (its
    runs stored no result) makes the gate incomplete, as does a gate with no case at all."""
    names = suite_names or {}
    base_by = {(c.suite_code, c.case_code): c for c in baseline}
    cand_by = {(c.suite_code, c.case_code): c for c in candidate}
    changes: list[CaseChange] = []
    # A case on one side only (edited between runs) has no trials on the other: an error.
    for key in list(base_by) + [k for k in cand_by if k not in base_by]:
        info = base_by.get(key) or cand_by[key]
        b = side_result(base_by[key].trials if key in base_by else ())
        c = side_result(cand_by[key].trials if key in cand_by else ())
        changes.append(
            CaseChange(
                case=info.case_code,
                name=info.name,
                suite=info.suite_code,
                dimension=info.dimension,
                critical=info.critical,
                weight=info.weight,
                baseline=b,
                candidate=c,
                change=_change(b, c),
                blocks=info.critical and (b.status, c.status) in BLOCKING,
                reason=_reason(info.name, info.critical, b, c),
            )
        )
    changes.sort(key=lambda c: (not c.blocks, CHANGE_ORDER[c.change], not c.critical))

    groups: dict[tuple[str, str], list[CaseChange]] = {}
    for ch in changes:
        groups.setdefault((ch.suite, ch.dimension), []).append(ch)
    dimensions = tuple(
        _dimension(
            suite, names.get(suite, suite), dim, items, thresholds.get(suite, DEFAULT_THRESHOLD)
        )
        for (suite, dim), items in sorted(
            groups.items(), key=lambda kv: (names.get(kv[0][0], kv[0][0]), kv[0][1])
        )
    )

    reasons: list[str] = [c.reason for c in changes if c.blocks]
    verdict: Verdict
    if reasons:
        verdict = "blocked"
    else:
        reasons = [c.reason for c in changes if c.critical and c.change == "error"]
        if not changes:
            reasons.append("The gate's runs hold no case result; run the gate again.")
        seen = {c.suite for c in changes}
        for suite in sorted(set(expected_suites) - seen, key=lambda s: names.get(s, s)):
            reasons.append(
                f"Suite '{names.get(suite, suite)}' has no case result on either side; run the "
                "gate again."
            )
        for d in dimensions:
            for side, rate in (("baseline", d.baseline), ("candidate", d.candidate)):
                if rate.n == 0:
                    reasons.append(
                        f"Dimension {d.dimension} of suite '{d.suite_name}' has no scored case on "
                        f"the {side}; run the gate again."
                    )
        if reasons:
            verdict = "incomplete"
        else:
            reasons = [_drop_reason(d) for d in dimensions if d.needs_ack]
            verdict = "needs_ack" if reasons else "passed"
    if verdict == "passed":
        reasons = [
            "No critical case got worse and no dimension dropped more than its suite's threshold."
        ]
    counts = {k: 0 for k in CHANGE_ORDER}
    for ch in changes:
        counts[ch.change] += 1
    return GateReport(
        verdict=verdict,
        reasons=tuple(reasons),
        cases=tuple(changes),
        dimensions=dimensions,
        counts=counts,
    )
