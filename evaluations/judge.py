"""The judge: a pinned model config that grades an output against a rubric (pointwise, for the
`llm-rubric` assertion) or compares a baseline and a candidate answer (pairwise, for shadow
pairs). It calls the provider through the same clients and call builder as everything else.

Pairwise, every pair is judged in both orders (A = baseline then A = candidate): a judge that
prefers whatever comes first picks A both times, which maps to opposite sides, so orders that
disagree count as a tie. Only a preference that survives the swap is a verdict.

A failed call or an answer that is not the JSON asked for is an `error`, never a pass, a fail or
a verdict (evaluations/judging/answers.py).
"""

import asyncio
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from evaluations.judging import prompts
from evaluations.judging.answers import PairAnswer, Unreadable, read_grade, read_pair
from traffic.assignment import ConfigView
from traffic.prompting import provider_call
from traffic.providers import CallResult, ProviderCall, acall, call

Verdict = Literal["better", "same", "worse"]
BASELINE_FIRST = "baseline_first"
CANDIDATE_FIRST = "candidate_first"
# API styles whose providers take response_format json_object (the Messages API has no JSON
# mode; there the system prompt alone asks for JSON).
JSON_MODE_STYLES = frozenset({"openai_chat"})


@dataclass(frozen=True)
class Grade:
    passed: bool | None
    score: float | None
    reasoning: str
    error: str = ""


@dataclass(frozen=True)
class PairVerdict:
    verdict: Verdict | None  # the candidate against the baseline, after both orders
    # One entry per order: order, winner ("A" | "B" | "tie" as the judge said), preferred
    # ("baseline" | "candidate" | "tie"), verdict (candidate terms), reasoning, error.
    orders: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


# --- building the calls ----------------------------------------------------------------------


def _request(judge: ConfigView, *, system: str, user: str) -> ProviderCall:
    config = dataclasses.replace(
        judge, system_prompt=prompts.system_prompt(system, judge.system_prompt)
    )
    # A config that pins its own response format keeps it (call_params: the config wins).
    wanted = (
        {"response_format": "json_object"} if judge.provider.api_style in JSON_MODE_STYLES else {}
    )
    return provider_call(
        config, messages=[{"role": "user", "content": user}], variables={}, request_params=wanted
    )


def grade_request(*, judge: ConfigView, rubric: str, output: str, question: str) -> ProviderCall:
    user = prompts.pointwise_user(rubric=rubric, question=question, output=output)
    return _request(judge, system=prompts.POINTWISE_SYSTEM, user=user)


def pair_request(
    *, judge: ConfigView, question: str, first: str, second: str, rubric: str = ""
) -> ProviderCall:
    user = prompts.pairwise_user(rubric=rubric, question=question, first=first, second=second)
    return _request(judge, system=prompts.PAIRWISE_SYSTEM, user=user)


def _call_failed(result: CallResult) -> str:
    return f"the judge's call failed ({result.error_kind.value}): {result.error}"


def _unreadable(exc: Unreadable) -> str:
    return f"the judge's answer was not the JSON asked for: {exc}"


# --- pointwise -------------------------------------------------------------------------------


def _grade_of(result: CallResult) -> Grade:
    if not result.ok:
        return Grade(passed=None, score=None, reasoning="", error=_call_failed(result))
    try:
        answer = read_grade(result.output)
    except Unreadable as exc:
        return Grade(passed=None, score=None, reasoning="", error=_unreadable(exc))
    return Grade(passed=answer.passed, score=answer.score, reasoning=answer.reasoning)


async def agrade(
    *,
    judge: ConfigView,
    rubric: str,
    output: str,
    question: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Grade:
    req = grade_request(judge=judge, rubric=rubric, output=output, question=question)
    return _grade_of(await acall(req, transport=transport))


def grade(
    *,
    judge: ConfigView,
    rubric: str,
    output: str,
    question: str,
    transport: httpx.BaseTransport | None = None,
) -> Grade:
    req = grade_request(judge=judge, rubric=rubric, output=output, question=question)
    return _grade_of(call(req, transport=transport))


# --- pairwise --------------------------------------------------------------------------------

# Which side the judge's A and B are, per order.
_SIDES = {BASELINE_FIRST: ("baseline", "candidate"), CANDIDATE_FIRST: ("candidate", "baseline")}
_VERDICT_OF: dict[str, Verdict] = {"candidate": "better", "baseline": "worse", "tie": "same"}


def _order(order: str, result: CallResult) -> dict[str, Any]:
    entry: dict[str, Any] = {"order": order, "winner": None, "preferred": None, "verdict": None}
    if not result.ok:
        return {**entry, "reasoning": "", "error": _call_failed(result)}
    try:
        answer: PairAnswer = read_pair(result.output)
    except Unreadable as exc:
        return {**entry, "reasoning": "", "error": _unreadable(exc)}
    a_side, b_side = _SIDES[order]
    preferred = {"A": a_side, "B": b_side, "tie": "tie"}[answer.winner]
    return {
        **entry,
        "winner": answer.winner,
        "preferred": preferred,
        "verdict": _VERDICT_OF[preferred],
        "reasoning": answer.reasoning,
        "error": "",
    }


def combine(orders: list[dict[str, Any]]) -> PairVerdict:
    """Both orders' verdicts into one: agreement stands, disagreement is a tie, any failed
    order makes the whole pair an error (one order alone cannot cancel position bias)."""
    failed = [o for o in orders if o["error"]]
    if failed:
        error = "; ".join(f"{o['order'].replace('_', ' ')}: {o['error']}" for o in failed)
        return PairVerdict(verdict=None, orders=orders, error=error)
    first, second = (o["verdict"] for o in orders)
    return PairVerdict(verdict=first if first == second else "same", orders=orders)


def _pair_requests(
    *, judge: ConfigView, question: str, baseline: str, candidate: str, rubric: str
) -> list[tuple[str, ProviderCall]]:
    texts = {BASELINE_FIRST: (baseline, candidate), CANDIDATE_FIRST: (candidate, baseline)}
    return [
        (
            order,
            pair_request(judge=judge, question=question, first=a, second=b, rubric=rubric),
        )
        for order, (a, b) in texts.items()
    ]


async def ajudge_pair(
    *,
    judge: ConfigView,
    question: str,
    baseline: str,
    candidate: str,
    rubric: str = "",
    transport: httpx.AsyncBaseTransport | None = None,
) -> PairVerdict:
    """Both orders at once (two calls in flight), combined by `combine`."""
    requests = _pair_requests(
        judge=judge, question=question, baseline=baseline, candidate=candidate, rubric=rubric
    )
    results = await asyncio.gather(*(acall(req, transport=transport) for _, req in requests))
    orders = [order for order, _ in requests]
    return combine([_order(order, result) for order, result in zip(orders, results, strict=True)])


def judge_pair(
    *,
    judge: ConfigView,
    question: str,
    baseline: str,
    candidate: str,
    rubric: str = "",
    transport: httpx.BaseTransport | None = None,
) -> PairVerdict:
    requests = _pair_requests(
        judge=judge, question=question, baseline=baseline, candidate=candidate, rubric=rubric
    )
    return combine([_order(order, call(req, transport=transport)) for order, req in requests])


__all__ = [
    "BASELINE_FIRST",
    "CANDIDATE_FIRST",
    "Grade",
    "PairVerdict",
    "agrade",
    "ajudge_pair",
    "combine",
    "grade",
    "judge_pair",
]
