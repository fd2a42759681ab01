"""A case's fields checked at save time, all together so a form shows every error at once:
messages, variables and assertions by shape (errors name the entry, `messages[1].role`),
unstorable text, weight and threshold by range. The importers check entries with the same
functions before anything is written."""

import math
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError

from evaluations.assertions import clean_assertions
from evaluations.models import Case, Dimension, Suite
from evaluations.storable import refuse_unstorable

# The roles a provider accepts in a conversation (traffic/ingest.py's schema).
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
# A weight above this makes the gate's weighted sums overflow to infinity (then NaN).
MAX_WEIGHT = 1_000_000.0


def clean_messages(raw: object, *, field: str = "messages") -> list[dict[str, Any]]:
    """A list of {role, content} with known roles; errors name the entry (`messages[1].role`)."""
    if raw is None or raw == "":
        return []
    if not isinstance(raw, list):
        raise ValidationError(
            {field: 'Give a JSON list of messages, e.g. [{"role": "user", "content": "Hi"}].'}
        )
    cleaned: list[dict[str, Any]] = []
    for index, message in enumerate(raw):
        where = f"{field}[{index}]"
        if not isinstance(message, dict):
            raise ValidationError(
                {where: 'Each message is an object {"role": ..., "content": ...}.'}
            )
        role = message.get("role")
        if role not in ROLES:
            raise ValidationError(
                {f"{where}.role": f"Unknown role {role!r}; use one of {', '.join(sorted(ROLES))}."}
            )
        content = message.get("content")
        if not isinstance(content, str) and not (role == "assistant" and message.get("tool_calls")):
            raise ValidationError({f"{where}.content": "Give the message's text as a string."})
        cleaned.append(dict(message))
    return cleaned


def clean_variables(raw: object, *, field: str = "variables") -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if not isinstance(raw, dict):
        raise ValidationError({field: 'Give a JSON object of variables, e.g. {"ticket": "..."}.'})
    bad = [key for key in raw if not isinstance(key, str) or not key.isidentifier()]
    if bad:
        raise ValidationError(
            {field: f"Variable names are identifiers (letters, digits, _): {bad[0]!r} is not."}
        )
    return dict(raw)


def clean_assertions_of(raw: object) -> list[dict[str, Any]]:
    return clean_assertions(raw if raw is not None else [])


def clean_case(fields: dict[str, Any], *, suite: Suite) -> dict[str, Any]:
    """Every field of a case checked together, so a form shows all errors at once."""
    errors: dict[str, list[str]] = {}

    def attempt(key: str, clean: Callable[[Any], Any]) -> None:
        try:
            fields[key] = clean(fields[key])
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors.setdefault(name, []).extend(messages)

    fields["name"] = (fields["name"] or "").strip()
    if not fields["name"]:
        errors["name"] = ["Give the case a name."]
    unstorable = refuse_unstorable(
        fields, ("name", "messages", "variables", "prompt", "reference", "assertions")
    )
    errors.update(unstorable)
    for key, clean in (
        ("messages", clean_messages),
        ("variables", clean_variables),
        ("assertions", clean_assertions_of),
    ):
        if key in unstorable:
            fields[key] = [] if key != "variables" else {}  # nothing more to say of its shape
        else:
            attempt(key, clean)
    nothing_to_send = not (fields["messages"] or fields["variables"] or fields.get("prompt"))
    if nothing_to_send and not suite.prompt and "messages" not in errors:
        errors["messages"] = [
            "Give the case messages, or variables for a prompt template (the case's or the "
            "suite's); it has nothing to send."
        ]
    if fields["dimension"] not in Dimension.values:
        errors["dimension"] = [f"Pick one of {', '.join(Dimension.values)}."]
    try:
        fields["weight"] = float(fields["weight"])
        # NaN compares false with everything, so it is refused by name, not by `< 0`.
        if not math.isfinite(fields["weight"]) or not 0 <= fields["weight"] <= MAX_WEIGHT:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        errors["weight"] = [f"Give a weight from 0 to {MAX_WEIGHT:,.0f}."]
    threshold = fields["threshold"]
    if threshold is not None:
        try:
            fields["threshold"] = float(threshold)
            if not 0 <= fields["threshold"] <= 1:
                raise ValueError
        except (TypeError, ValueError):
            errors["threshold"] = ["Give a threshold from 0 to 1, or leave it empty."]
    if fields["source"] not in Case.Source.values:
        errors["source"] = [f"Pick one of {', '.join(Case.Source.values)}."]
    if errors:
        raise ValidationError(errors)
    return fields
