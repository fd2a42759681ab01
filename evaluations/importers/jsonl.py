"""JSONL cases: one JSON object a line, the product's own case fields.

| key | required | meaning |
| --- | --- | --- |
| `name` | yes | the case's name |
| `messages` or `vars` | one (both: vars fill the messages) | `[{role, content}]`, or variables |
| `prompt` | no | this case's template (`{{ var }}` or `{var}`) |
| `reference` | no | the expected or preferred output |
| `assert` | no | `[{type, value, threshold, weight, metric}]`, promptfoo's type names |
| `dimension` | no | format, tone, accuracy, safety or other (default other) |
| `critical` | no | true when a regression on it blocks the gate |
| `weight` | no | number >= 0 (default 1) |
| `threshold` | no | 0 to 1: the weighted assertion score that passes the case |

Unknown keys are refused; every error names the line and the key.
"""

import posixpath
from typing import Any

from django.core.exceptions import ValidationError

from evaluations.assertions import clean_assertions
from evaluations.case_fields import clean_messages, clean_variables
from evaluations.importers.files import FileProblem, Uploads, load_jsonl
from evaluations.importers.plan import MAX_CASES, CasePlan, ImportPlan
from evaluations.models import Dimension

KEYS = (
    "name",
    "messages",
    "vars",
    "prompt",
    "reference",
    "assert",
    "dimension",
    "critical",
    "weight",
    "threshold",
)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _case(obj: dict[str, Any], where: str, plan: ImportPlan) -> CasePlan | None:
    errors: list[str] = []

    def attempt(clean: Any, value: object, field: str) -> Any:
        try:
            return clean(value, field=field)
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.append(f"{key}: {' '.join(messages)}")
            return None

    for key in obj:
        if key not in KEYS:
            errors.append(f"{key}: is not a known field; the fields are {', '.join(KEYS)}")
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append("name: give the case a name (text)")
    messages = attempt(clean_messages, obj.get("messages"), "messages") or []
    variables = attempt(clean_variables, obj.get("vars"), "vars") or {}
    if "messages" not in obj and "vars" not in obj:
        errors.append("messages: give 'messages' (a list of {role, content}) or 'vars'")
    for key in ("prompt", "reference"):
        if key in obj and not isinstance(obj[key], str):
            errors.append(f"{key}: give text")
    assertions = attempt(clean_assertions, obj.get("assert", []), "assert") or []
    dimension = obj.get("dimension", Dimension.OTHER)
    if dimension not in Dimension.values:
        errors.append(f"dimension: {dimension!r} is not one of {', '.join(Dimension.values)}")
    if "critical" in obj and not isinstance(obj["critical"], bool):
        errors.append("critical: give true or false")
    weight = obj.get("weight", 1.0)
    if not _number(weight) or weight < 0:
        errors.append("weight: give a number of 0 or more")
    threshold = obj.get("threshold")
    if threshold is not None and (not _number(threshold) or not 0 <= threshold <= 1):
        errors.append("threshold: give a number from 0 to 1")
    for error in errors:
        plan.problem(where, error)
    if errors:
        return None
    return CasePlan(
        name=name.strip()[:300],  # type: ignore[union-attr]
        messages=messages,
        variables=variables,
        prompt=obj.get("prompt", ""),
        reference=obj.get("reference", ""),
        assertions=assertions,
        dimension=str(dimension),
        critical=bool(obj.get("critical", False)),
        weight=float(weight),
        threshold=None if threshold is None else float(threshold),
        source_ref=where[:300],
    )


def plan_jsonl(plan: ImportPlan, uploads: Uploads, main: str) -> None:
    plan.suite_name = posixpath.splitext(posixpath.basename(main))[0][:200]
    plan.suite_description = f"Imported from {main}."
    try:
        rows = load_jsonl(main, uploads.text(main))
    except FileProblem as exc:
        plan.problem(exc.where, exc.message)
        return
    if len(rows) > MAX_CASES:
        plan.problem(main, f"holds {len(rows)} cases, more than {MAX_CASES}; split the file")
        return
    for line, obj in rows:
        where = f"{main} line {line}"
        if not isinstance(obj, dict):
            plan.problem(where, "each line is one JSON object with name and messages or vars")
            continue
        case = _case(obj, where, plan)
        if case is not None:
            plan.cases.append(case)
    if not rows:
        plan.problem(main, "holds no cases")
