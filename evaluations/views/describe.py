"""Assertions in words for the suite page: 'icontains “refund”', 'latency ≤ 2000 ms'."""

import json
from typing import Any

MAX_VALUE = 120


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def describe_assertion(assertion: dict[str, Any]) -> str:
    kind = str(assertion.get("type", "?"))
    value = assertion.get("value")
    threshold = assertion.get("threshold")
    base = kind.removeprefix("not-")
    if base in ("latency", "cost", "max-length"):
        unit = {"latency": " ms", "cost": " USD", "max-length": " characters"}[base]
        text = f"{kind} ≤ {threshold if threshold is not None else value}{unit}"
    elif base in ("similar", "levenshtein"):
        target = f"“{_short(value)}”" if value else "the reference"
        text = f"{kind} to {target}" + (f" ≥ {threshold}" if threshold is not None else "")
    elif base == "regex":
        text = f"{kind} /{_short(value)}/"
    elif base == "is-json":
        text = f"{kind} (with a JSON Schema)" if value else kind
    elif value is None or value == "":
        text = kind + (f" ≥ {threshold}" if threshold is not None else "")
    elif isinstance(value, list):
        text = f"{kind} " + ", ".join(f"“{_short(v)}”" for v in value[:8])
        if len(value) > 8:
            text += f" and {len(value) - 8} more"
    else:
        text = f"{kind} “{_short(value)}”"
    extras = []
    weight = assertion.get("weight")
    if weight not in (None, 1, 1.0):
        extras.append(f"weight {weight}")
    if assertion.get("metric"):
        extras.append(f"metric {assertion['metric']}")
    return text + (f" ({', '.join(extras)})" if extras else "")
