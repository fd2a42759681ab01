"""promptfoo `assert` entries (and a CSV's `__expected` cells) onto the product's assertions.

Type names are promptfoo's, so a supported entry keeps its type, value, threshold, weight and
metric and is validated by `clean_assertions` (a malformed regex or schema is a problem naming
the test and field). A type the product does not run, or an entry that needs code the product
does not execute (`transform`), is left out and reported by name and test, never dropped
silently.
"""

import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError

from evaluations.assertions import ASSERTION_TYPES, UNSUPPORTED_HINT, clean_assertions, is_supported
from evaluations.models import Dimension

# A metric naming one of these (any case) tags the case with that dimension.
DIMENSION_NAMES = {
    "format": Dimension.FORMAT,
    "tone": Dimension.TONE,
    "accuracy": Dimension.ACCURACY,
    "reasoning": Dimension.ACCURACY,
    "accuracy/reasoning": Dimension.ACCURACY,
    "safety": Dimension.SAFETY,
}

# promptfoo types the product does not run, recognised as `type:value` prefixes in `__expected`
# (anything else before a colon is plain text to equal, as in promptfoo).
_PROMPTFOO_ONLY = frozenset(
    {
        "javascript",
        "python",
        "ruby",
        "webhook",
        "rouge-n",
        "bleu",
        "gleu",
        "meteor",
        "perplexity",
        "perplexity-score",
        "is-valid-openai-function-call",
        "is-valid-openai-tools-call",
        "is-valid-function-call",
        "model-graded-closedqa",
        "model-graded-factuality",
        "factuality",
        "answer-relevance",
        "context-faithfulness",
        "context-recall",
        "context-relevance",
        "g-eval",
        "moderation",
        "classifier",
        "select-best",
        "human",
        "is-xml",
        "contains-xml",
        "is-sql",
        "contains-sql",
        "is-html",
        "contains-html",
        "finish-reason",
        "word-count",
        "assert-set",
        "pi",
        "guardrails",
    }
)
_ALIASES = {"grade": "llm-rubric", "fn": "javascript", "eval": "javascript"}
_KEYS = {"type", "value", "threshold", "weight", "metric"}
# Keys promptfoo allows that change how an entry is graded in ways the product does not run.
_CODE_KEYS = ("transform", "contextTransform")
_IGNORED_KEYS = {
    "provider": "its grading provider is not used: the suite's judge config grades rubrics",
    "rubricPrompt": "its custom rubric prompt is not used: the judge's own prompt grades",
    "config": "its config is not used",
}
_EXPECTED = re.compile(
    r"^(?P<not>not-)?(?P<type>[a-z][a-z0-9-]*?)(?:\((?P<threshold>[0-9]*\.?[0-9]+)\))?"
    r"(?::(?P<value>.*))?$",
    re.DOTALL,
)

# Put in an `assert` list in place of an entry already left out and reported (promptfoo_tools),
# so the entries after it keep their index in messages.
LEFT_OUT: Any = object()

# (relative ref, what it is for) -> loaded value, or raises FileProblem / returns None.
LoadValue = Callable[[str, str], Any]


def _known(type_name: str) -> bool:
    base = type_name.removeprefix("not-")
    return type_name in ASSERTION_TYPES or base in ASSERTION_TYPES or base in _PROMPTFOO_ONLY


def from_expected(text: str) -> dict[str, Any]:
    """A CSV `__expected` cell as an assertion entry (promptfoo's `assertionFromString`):
    `contains:refund`, `similar(0.8):text`, `llm-rubric: ...`, `is-json`, plain text = equals."""
    stripped = text.strip()
    match = _EXPECTED.match(stripped)
    if match:
        name = match["type"]
        name = _ALIASES.get(name, name)
        full = f"{match['not'] or ''}{name}"
        if _known(full):
            entry: dict[str, Any] = {"type": full}
            if match["value"] is not None:
                entry["value"] = match["value"].strip()
            if match["threshold"] is not None:
                entry["threshold"] = float(match["threshold"])
            return entry
    return {"type": "equals", "value": text}


def dimension_of(metric: object) -> str | None:
    if isinstance(metric, str):
        return DIMENSION_NAMES.get(metric.strip().lower())
    return None


def convert(
    raw: object,
    *,
    where: str,
    field: str,
    load_value: LoadValue,
    warn: Callable[[str, str], None],
    problem: Callable[[str, str], None],
) -> list[dict[str, Any]]:
    """The supported, validated entries of one test's `assert` list (promptfoo's order)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        problem(where, f"{field} must be a list of assertions ({{type, value}}), not {_kind(raw)}")
        return []
    out: list[dict[str, Any]] = []
    for index, entry in enumerate(raw):
        here = f"{field}[{index}]"
        if entry is LEFT_OUT:
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            problem(where, f"{here} must be an object with a 'type', e.g. {{type: contains}}")
            continue
        kind = entry["type"]
        if not is_supported(kind.strip().lower()):
            warn(
                where,
                f"assertion type '{kind}' is not supported; it was left out. "
                f"{UNSUPPORTED_HINT(kind)}",
            )
            continue
        code = [key for key in _CODE_KEYS if key in entry]
        if code:
            shown = str(entry[code[0]]).strip().replace("\n", " ")
            shown = shown if len(shown) <= 60 else shown[:59] + "…"
            warn(
                where,
                f"{here} ({kind}) uses '{code[0]}' ({shown}), which is not supported: it is "
                "code Rollout Desk does not run, and checking the untransformed output would "
                "judge something else; it was left out",
            )
            continue
        for key, why in _IGNORED_KEYS.items():
            if key in entry:
                warn(where, f"{here} ({kind}): {why}")
        unknown = sorted(set(entry) - _KEYS - set(_IGNORED_KEYS))
        if unknown:
            warn(where, f"{here} ({kind}): '{unknown[0]}' is not used")
        item = {key: entry[key] for key in _KEYS if key in entry}
        value = item.get("value")
        if isinstance(value, str) and value.startswith("file://"):
            loaded = load_value(value.removeprefix("file://"), f"{here}.value")
            if loaded is None:
                continue
            item["value"] = loaded
        try:
            cleaned = clean_assertions([item], field="assert")
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                name = key.replace("assert[0]", here, 1) if key.startswith("assert") else here
                problem(where, f"{name}: {' '.join(messages)}")
            continue
        out.extend(cleaned)
    return out


def _kind(value: object) -> str:
    return {str: "text", dict: "a mapping", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )
