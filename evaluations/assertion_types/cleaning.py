"""Save-time checking of a case's assertions: every malformed regex, schema, value, weight or
threshold is refused here, naming the field (`assertions[2].value`), never at run time."""

import difflib
from typing import Any

from django.core.exceptions import ValidationError

from evaluations.assertion_types import measures, structured, text
from evaluations.assertion_types.common import (
    Refused,
    ThresholdRule,
    TypeSpec,
    kind,
    number,
    quote,
    required_text,
)

KEYS = ("type", "value", "threshold", "weight", "metric")
METRIC_LIMIT = 100


def _clean_rubric(raw: object) -> str:
    rubric = str(required_text("llm-rubric")(raw)).strip()
    if not rubric:
        raise Refused("llm-rubric needs a value: the rubric the judge grades the answer against")
    return rubric


BASE_TYPES: dict[str, TypeSpec] = {
    **text.TYPES,
    **structured.TYPES,
    **measures.TYPES,
    # Graded by the suite's judge (evaluations/judge.py) in the executor, not by evaluate().
    "llm-rubric": TypeSpec(_clean_rubric, lambda a: (None, "the rubric not to be met"), None),
}

# Known promptfoo types this product does not run: why, and what to write instead.
_CODE = ("runs code from the config file", "rewrite it as regex, is-json, tool-call or llm-rubric")
_GRADED = ("is a model-graded metric of its own", "write the criterion as an llm-rubric")
_NGRAM = ("is an n-gram metric", "use similar or levenshtein against the reference")
_MARKUP = ("checks a format other than JSON", "use regex")
_TOOLS = ("checks calls against the provider's tool list", "use tool-call with a schema")
_HINTS: dict[str, tuple[str, str]] = {
    "javascript": _CODE,
    "python": _CODE,
    "webhook": ("calls an outside web hook", "use llm-rubric"),
    "moderation": ("needs a moderation model", "use is-refusal or llm-rubric"),
    "classifier": ("needs a classifier model", "use llm-rubric"),
    "perplexity": ("needs token log-probabilities", "use llm-rubric"),
    "perplexity-score": ("needs token log-probabilities", "use llm-rubric"),
    "select-best": ("ranks several prompts' outputs", "the gate compares baseline and candidate"),
    "human": ("asks for a human grade", "the review queue takes human labels"),
    "assert-set": ("groups assertions", "list the assertions one by one"),
}
_HINTS.update(
    dict.fromkeys(
        (
            "model-graded-closedqa",
            "model-graded-factuality",
            "factuality",
            "answer-relevance",
            "context-faithfulness",
            "context-recall",
            "context-relevance",
            "conversation-relevance",
            "g-eval",
            "pi",
            "search-rubric",
        ),
        _GRADED,
    )
)
_HINTS.update(dict.fromkeys(("rouge-n", "bleu", "gleu", "meteor"), _NGRAM))
_HINTS.update(
    dict.fromkeys(
        ("is-xml", "contains-xml", "is-html", "contains-html", "is-sql", "contains-sql"), _MARKUP
    )
)
_HINTS.update(
    dict.fromkeys(
        ("is-valid-openai-tools-call", "is-valid-openai-function-call", "is-valid-function-call"),
        _TOOLS,
    )
)


def base_type(assertion_type: str) -> tuple[str, bool]:
    """("contains", True) for "not-contains"; the name itself when it is not a not- form."""
    if assertion_type.startswith("not-") and assertion_type[4:] in BASE_TYPES:
        return assertion_type[4:], True
    return assertion_type, False


def is_supported(assertion_type: str) -> bool:
    return base_type(assertion_type)[0] in BASE_TYPES


def unsupported_hint(assertion_type: str) -> str:
    """One sentence saying that a type is not run, and what to write instead."""
    name = assertion_type[4:] if assertion_type.startswith("not-") else assertion_type
    if name in _HINTS:
        why, instead = _HINTS[name]
        return f'Rollout Desk does not run "{assertion_type}" assertions: it {why}; {instead}.'
    guess = difflib.get_close_matches(assertion_type, sorted(_all_names()), n=1, cutoff=0.75)
    instead = f'did you mean "{guess[0]}"?' if guess else f"use one of {', '.join(BASE_TYPES)}."
    return f'Rollout Desk does not run "{assertion_type}" assertions (unknown type); {instead}'


def _all_names() -> set[str]:
    return set(BASE_TYPES) | {f"not-{name}" for name in BASE_TYPES}


def _threshold(raw: object, rule: ThresholdRule, type_name: str) -> float | None:
    if raw is None or raw == "":
        if rule.required:
            raise Refused(f"{type_name} needs a threshold: {rule.what}", key="threshold")
        return None
    value = number(raw, what=f"the threshold of {type_name}")
    too_low = value <= rule.low if rule.above_low else value < rule.low
    if too_low or (rule.high is not None and value > rule.high):
        raise Refused(f"{type_name} takes {rule.what}; got {value:g}", key="threshold")
    return value


def _weight(raw: object) -> float:
    if raw is None or raw == "":
        return 1.0
    value = number(raw, what="the weight", key="weight")
    if value < 0:
        raise Refused(
            f"give a weight of 0 or more (0 keeps it out of the score); got {value:g}", key="weight"
        )
    return value


def _metric(raw: object) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise Refused(f"give the metric a name (text), not {kind(raw)}", key="metric")
    if len(raw.strip()) > METRIC_LIMIT:
        raise Refused(f"keep the metric name under {METRIC_LIMIT} characters", key="metric")
    return raw.strip()


def _clean_one(raw: dict[str, Any]) -> tuple[dict[str, Any], list[Refused]]:
    """One entry, normalised, with every problem it has (a bad value and a bad weight both)."""
    problems = [
        Refused(f"unknown key; use {', '.join(KEYS[:-1])} or {KEYS[-1]}", key=str(key))
        for key in raw
        if key not in KEYS
    ]
    assertion_type = raw.get("type")
    if not isinstance(assertion_type, str) or not assertion_type.strip():
        return {}, [*problems, Refused("give the assertion a type, e.g. contains", key="type")]
    assertion_type = assertion_type.strip()
    if assertion_type.lower() in _all_names():
        assertion_type = assertion_type.lower()
    spec = BASE_TYPES.get(base_type(assertion_type)[0])
    if spec is None:
        return {}, [*problems, Refused(unsupported_hint(assertion_type), key="type")]
    cleaned: dict[str, Any] = {"type": assertion_type}
    steps = (
        ("value", lambda: spec.clean_value(raw.get("value"))),
        ("threshold", lambda: _threshold(raw.get("threshold"), spec.threshold, assertion_type)),
        ("weight", lambda: _weight(raw.get("weight"))),
        ("metric", lambda: _metric(raw.get("metric"))),
    )
    for key, step in steps:
        try:
            cleaned[key] = step()
        except Refused as exc:
            problems.append(exc)
    return cleaned, problems


def clean_assertions(raw: object, *, field: str = "assertions") -> list[dict[str, Any]]:
    """The normalised list {type, value, threshold, weight, metric}, or every problem at once.

    Raises ValidationError({"assertions[2].value": [message], ...}); an entry that is not an
    object is named `assertions[2]`, a list that is not a list `assertions`.
    """
    if raw is None or raw == "":
        return []
    if not isinstance(raw, list):
        raise ValidationError(
            {field: [f"give a list of assertions (each {{type, value, ...}}), not {kind(raw)}"]}
        )
    cleaned: list[dict[str, Any]] = []
    errors: dict[str, list[str]] = {}
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            shown = quote(str(item), 30) if isinstance(item, str) else kind(item)
            errors[f"{field}[{i}]"] = [f"give an assertion object {{type, value}}, not {shown}"]
            continue
        assertion, problems = _clean_one(item)
        cleaned.append(assertion)
        for problem in problems:
            errors.setdefault(f"{field}[{i}].{problem.key}", []).append(problem.message)
    if errors:
        raise ValidationError(errors)
    return cleaned
