"""One case result from one provider answer: the call's facts, each assertion's outcome, the
verdict. A provider error or a judge error makes the result `error`: neither a pass nor a fail,
so an outage can never pass (or fail) a gate."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from evaluations.assertions import (
    JUDGED_TYPES,
    Observed,
    Outcome,
    case_verdict,
    clean_assertions,
    evaluate,
    outcome_from_grade,
)
from evaluations.cases import render_template
from evaluations.judge import Grade
from evaluations.models import CaseResult
from traffic.providers import CallResult

NO_JUDGE = "suite has no judge config; set one on the suite to run llm-rubric assertions"

# (rubric, output, question) -> the judge's grade; the executor binds the judge config, its
# provider slot and the transport.
Judge = Callable[[str, str, str], Awaitable[Grade]]


@dataclass(frozen=True, slots=True)
class CaseSpec:
    """What scoring needs of a case, read once from the database."""

    messages: list[dict[str, Any]]  # what was sent, before the config's system prompt
    variables: dict[str, Any]  # also fill the config's system prompt
    reference: str
    assertions: list[dict[str, Any]]  # cleaned (clean_assertions' shape)
    threshold: float | None
    # Why the stored assertions cannot run (saved before a rule existed): the result's error.
    problem: str = ""


def case_spec(
    *,
    messages: list[dict[str, Any]],
    variables: dict[str, Any],
    reference: str,
    assertions: object,
    threshold: float | None,
) -> CaseSpec:
    """The spec of a stored case; assertions are cleaned again, since a row may be older than
    a rule (or written around the form), and a bad one is that case's error, not a crash.

    Placeholders in assertion values (`contains: "{{expected}}"`, a rubric quoting
    `{{customer_message}}`) are filled with the case's variables first, as promptfoo does, so
    one defaultTest rubric serves every row; the filled values are then cleaned, so a
    variable that makes a regex invalid is this case's error too.
    """
    try:
        rendered = render_assertions(assertions, variables)
        cleaned, problem = clean_assertions(rendered), ""
    except ValidationError as exc:
        cleaned = []
        problem = "the case's assertions cannot run: " + "; ".join(
            f"{field}: {' '.join(str(m) for m in messages_)}"
            for field, messages_ in exc.message_dict.items()
        )
    return CaseSpec(
        messages=messages,
        variables=variables,
        # An imported `equals: "{{expected}}"` becomes the reference too: filled alike.
        reference=render_template(reference, variables) if reference else reference,
        assertions=cleaned,
        threshold=threshold,
        problem=problem,
    )


def _render(value: object, variables: dict[str, Any]) -> object:
    if isinstance(value, str):
        return render_template(value, variables)
    if isinstance(value, list):
        return [render_template(v, variables) if isinstance(v, str) else v for v in value]
    return value  # schemas and tool-call specs hold no placeholders promptfoo would fill


def render_assertions(assertions: object, variables: dict[str, Any]) -> object:
    """The assertions with every string value (and string item of a list value) filled with
    the case's variables; anything not shaped like a list of assertions is left for
    clean_assertions to refuse."""
    if not isinstance(assertions, list) or not variables:
        return assertions
    return [
        {**a, "value": _render(a["value"], variables)} if isinstance(a, dict) and "value" in a
        else a
        for a in assertions
    ]  # fmt: skip


def question_of(messages: list[dict[str, Any]]) -> str:
    """The last user message's text (content parts joined), for the judge and `similar`."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "\n".join(
                part.get("text", "")
                for part in content
                if isinstance(part, dict) and isinstance(part.get("text"), str)
            )
    return ""


def _call_fields(result: CallResult, cost: Decimal | None) -> dict[str, Any]:
    return {
        "output": result.output,
        "tool_calls": result.tool_calls,
        "finish_reason": result.finish_reason or "",
        "latency_ms": result.latency_ms,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "cost": cost,
    }


def _error(
    fields: dict[str, Any], *, kind: str, message: str, outcomes: list[Outcome]
) -> dict[str, Any]:
    return {
        **fields,
        "status": CaseResult.Status.ERROR,
        "error_kind": kind,
        "error": message,
        "outcomes": [o.to_json() for o in outcomes],
        "score": None,
    }


async def score(
    *, case: CaseSpec, result: CallResult, cost: Decimal | None, judge: Judge | None
) -> dict[str, Any]:
    """The fields to write on the result row (status, output, outcomes, score, ...)."""
    fields = _call_fields(result, cost)
    if not result.ok:
        return _error(fields, kind=result.error_kind.value, message=result.error or "", outcomes=[])
    if case.problem:
        return _error(fields, kind="bad_assertion", message=case.problem, outcomes=[])
    observed = Observed(
        output=result.output,
        tool_calls=result.tool_calls,
        finish_reason=result.finish_reason,
        latency_ms=result.latency_ms,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        cost=cost,
        reference=case.reference,
        question=question_of(case.messages),
    )
    outcomes: list[Outcome] = []
    for assertion in case.assertions:
        if assertion.get("type") not in JUDGED_TYPES:
            outcomes.append(evaluate(assertion, observed))
            continue
        if judge is None:
            return _error(fields, kind="no_judge", message=NO_JUDGE, outcomes=outcomes)
        grade = await judge(str(assertion.get("value") or ""), result.output, observed.question)
        if grade.error:
            return _error(fields, kind="judge_error", message=grade.error, outcomes=outcomes)
        outcomes.append(outcome_from_grade(assertion, grade.passed, grade.score, grade.reasoning))
    passed, weighted = case_verdict(outcomes, case.threshold, output=result.output)
    return {
        **fields,
        "status": CaseResult.Status.PASS if passed else CaseResult.Status.FAIL,
        "error_kind": "",
        "error": "",
        "outcomes": [o.to_json() for o in outcomes],
        "score": weighted,
    }
