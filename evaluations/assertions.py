"""Assertions of eval cases: promptfoo's types and meanings, checked at save time, run on one
observed call, and combined into a case verdict.

The public entry; the types live in `evaluations/assertion_types/` (text, structured,
measures), the save-time checks in `assertion_types/cleaning.py`.

Every type has a `not-` form that negates its pass (`not-contains`, `not-is-json`, ...). A check
that cannot be made at all (no latency measured, no price known, tool arguments that do not
parse, no reference to compare with) fails in both forms: "we could not tell" is never a pass.

Scores: pass/fail types score 1.0 or 0.0; `similar` scores the edit-similarity ratio,
`levenshtein` max(0, 1 - distance / length of the longer text); a `not-` form scores 1 - score.
A `threshold` on a pass/fail type changes nothing (its score is 0 or 1 already).
"""

from typing import Any

from evaluations.assertion_types.cleaning import (
    BASE_TYPES,
    base_type,
    clean_assertions,
    is_supported,
    unsupported_hint,
)
from evaluations.assertion_types.common import Check, Observed, Outcome, clip

__all__ = [
    "ASSERTION_TYPES",
    "JUDGED_TYPES",
    "UNSUPPORTED_HINT",
    "Observed",
    "Outcome",
    "case_verdict",
    "clean_assertions",
    "evaluate",
    "is_judged",
    "is_supported",
    "outcome_from_grade",
]

ASSERTION_TYPES: frozenset[str] = frozenset(BASE_TYPES) | frozenset(f"not-{t}" for t in BASE_TYPES)
# Graded by the suite's judge through evaluations/judge.py; evaluate() refuses them.
JUDGED_TYPES: frozenset[str] = frozenset({"llm-rubric", "not-llm-rubric"})
# The judge's score that passes an llm-rubric when the judge gave a score but no verdict.
RUBRIC_DEFAULT_THRESHOLD = 0.5
# Weighted scores are sums of floats: 0.8 must reach a threshold of 0.8.
_EPSILON = 1e-9

UNSUPPORTED_HINT = unsupported_hint  # promptfoo importer's name for it: a sentence per type


def is_judged(assertion_type: str) -> bool:
    return assertion_type in JUDGED_TYPES


def _outcome(assertion: dict[str, Any], check: Check, *, negated: bool) -> Outcome:
    spec = BASE_TYPES[base_type(assertion["type"])[0]]
    positive, negative = spec.expect(assertion)
    score = check.score if check.score is not None else (1.0 if check.holds else 0.0)
    if check.undecidable:
        passed, score, reason = False, 0.0, check.said
    elif negated:
        passed, score = not check.holds, 1.0 - score
        reason = f"expected {negative}; {check.said}"
    else:
        passed = check.holds
        reason = check.said if positive is None else f"expected {positive}; {check.said}"
    return Outcome(
        type=assertion["type"],
        passed=passed,
        score=round(score, 6),
        reason=clip(reason),
        weight=assertion["weight"],
        metric=assertion["metric"],
    )


def evaluate(assertion: dict[str, Any], observed: Observed) -> Outcome:
    """One cleaned assertion (clean_assertions' shape) on one observed call.

    Raises ValueError for judged types (llm-rubric): the executor grades those with the judge
    and builds their Outcome with outcome_from_grade().
    """
    name, negated = base_type(assertion["type"])
    spec = BASE_TYPES.get(name)
    if spec is None:
        raise ValueError(f"{assertion['type']!r} is not an assertion type; clean it first")
    if spec.run is None:
        raise ValueError(f"{assertion['type']} is graded by the judge, not by evaluate()")
    return _outcome(assertion, spec.run(assertion, observed), negated=negated)


def outcome_from_grade(
    assertion: dict[str, Any], grade_passed: bool | None, score: float | None, reasoning: str
) -> Outcome:
    """The Outcome of a judged assertion from the judge's grade (evaluations/judge.py).

    With a threshold and a score, the score decides (promptfoo's rule); else the judge's verdict;
    else a score against 0.5. A grade with neither is a fail that says so. (A judge call that
    failed is a case error in the executor, never an Outcome.)
    """
    _name, negated = base_type(assertion["type"])
    threshold = assertion.get("threshold")
    if score is not None and threshold is not None:
        holds: bool | None = score + _EPSILON >= threshold
        basis = f"judge score {score:.2f} against threshold {threshold:.2f}"
    elif grade_passed is not None:
        holds, basis = grade_passed, "the judge's verdict"
    elif score is not None:
        holds = score + _EPSILON >= RUBRIC_DEFAULT_THRESHOLD
        basis = f"judge score {score:.2f} against {RUBRIC_DEFAULT_THRESHOLD:.2f}"
    else:
        holds, basis = None, ""
    judge = {"reasoning": reasoning}
    if holds is None:
        return Outcome(
            type=assertion["type"],
            passed=False,
            score=0.0,
            reason="the judge gave neither a verdict nor a score",
            weight=assertion["weight"],
            metric=assertion["metric"],
            judge=judge,
        )
    value = score if score is not None else (1.0 if holds else 0.0)
    value = min(max(value, 0.0), 1.0)
    met = "met" if holds else "not met"
    passed = holds != negated
    expected = "expected the rubric not to be met; " if negated else ""
    return Outcome(
        type=assertion["type"],
        passed=passed,
        score=round(1.0 - value if negated else value, 6),
        reason=clip(f"{expected}rubric {met} ({basis}): {reasoning.strip()[:160]}"),
        weight=assertion["weight"],
        metric=assertion["metric"],
        judge=judge,
    )


def case_verdict(
    outcomes: list[Outcome], threshold: float | None, *, output: str | None = None
) -> tuple[bool, float]:
    """(passed, weighted score) of one case trial, promptfoo's rules.

    1. Score: sum(weight * score) / sum(weight) over outcomes with weight > 0; when every weight
       is 0, the plain mean of the scores.
    2. Without a threshold the case passes when every outcome with weight > 0 passes (every
       outcome, when all weights are 0); with one, when the score reaches it, whatever single
       outcomes say.
    3. No outcomes (a case without assertions): passes with score 1.0 when the output is
       non-empty. Pass `output` so an empty answer fails (score 0.0); without it, the case
       passes, since there is nothing it was asked to do.
    """
    if not outcomes:
        empty = output is not None and not output.strip()
        return (not empty, 0.0 if empty else 1.0)
    weighted = [o for o in outcomes if o.weight > 0]
    if weighted:
        total = sum(o.weight for o in weighted)
        score = sum(o.weight * o.score for o in weighted) / total
    else:
        weighted = outcomes
        score = sum(o.score for o in outcomes) / len(outcomes)
    score = round(score, 6)
    if threshold is None:
        return all(o.passed for o in weighted), score
    return score + _EPSILON >= threshold, score
