"""Assertions on structure: is-json, contains-json (each with an optional JSON Schema) and
tool-call (OpenAI-shaped calls: name, a subset of the arguments, an optional schema)."""

import json
from typing import Any

from evaluations.assertion_types.common import (
    SCAN_LIMIT,
    Check,
    Observed,
    Refused,
    TypeSpec,
    clean_schema,
    json_difference,
    json_equal,
    json_error,
    kind,
    loads_strict,
    quote,
    schema_problem,
    shown_json,
)

# contains-json tries to decode at most this many `{` / `[` positions: a long answer full of
# braces must not cost a decode per character.
MAX_JSON_STARTS = 500


def _clean_optional_schema(raw: object) -> dict[str, Any] | None:
    return clean_schema(raw)


def _first_line(text: str) -> str:
    stripped = text.lstrip()
    return stripped.split("\n", 1)[0][:30]


def _run_is_json(a: dict[str, Any], o: Observed) -> Check:
    # A fenced answer (```json ... ```) is not JSON: a consumer calling json.loads on it breaks,
    # and a candidate model that starts fencing is exactly the regression this catches.
    if not o.output.strip():
        return Check(False, "not JSON: the answer is empty")
    try:
        parsed = loads_strict(o.output)
    except ValueError as exc:
        start = f" (the answer starts with {quote(_first_line(o.output), 40)})"
        return Check(False, f"not JSON: {json_error(exc)}{start}")
    if a["value"] is None:
        return Check(True, f"valid JSON ({kind(parsed)})")
    problem = schema_problem(a["value"], parsed)
    return Check(not problem, problem or "valid JSON matching the schema")


def _expect_is_json(a: dict[str, Any]) -> tuple[str | None, str]:
    if a["value"] is None:
        return None, "the output not to be JSON"
    return None, "the output not to be JSON matching the schema"


def json_values(text: str) -> list[object]:
    """Every JSON object or array inside a text (fenced, after a sentence, several), in order."""
    decoder = json.JSONDecoder(parse_constant=lambda name: None)
    found: list[object] = []
    text = text[:SCAN_LIMIT]
    at, tries = 0, 0
    while tries < MAX_JSON_STARTS:
        starts = [i for i in (text.find("{", at), text.find("[", at)) if i >= 0]
        if not starts:
            break
        begin = min(starts)
        tries += 1
        try:
            value, end = decoder.raw_decode(text, begin)
        except ValueError:
            at = begin + 1
            continue
        found.append(value)
        at = end
    return found


def _run_contains_json(a: dict[str, Any], o: Observed) -> Check:
    values = json_values(o.output)
    if not values:
        return Check(False, "no JSON object or array found in the output")
    if a["value"] is None:
        return Check(True, f"found {kind(values[0])}")
    problems = [schema_problem(a["value"], v) for v in values]
    if "" in problems:
        return Check(True, "found JSON matching the schema")
    count = f"{len(values)} JSON values, none matches" if len(values) > 1 else "JSON that fails"
    return Check(False, f"found {count} the {problems[0]}")


def _expect_contains_json(a: dict[str, Any]) -> tuple[str | None, str]:
    which = "JSON" if a["value"] is None else "JSON matching the schema"
    return f"the output to contain {which}", f"the output not to contain {which}"


# --- tool-call ---------------------------------------------------------------------------

_TOOL_KEYS = ("name", "arguments", "schema")


def _clean_tool_call(raw: object) -> dict[str, Any] | None:
    if raw is None or raw == "":
        return None  # any tool call at all
    value = raw
    if isinstance(raw, str):
        try:
            value = loads_strict(raw)
        except ValueError:
            value = {"name": raw.strip()}  # promptfoo-style shorthand: just the tool's name
    if not isinstance(value, dict):
        raise Refused(f"tool-call needs an object {{name, arguments, schema}}, not {kind(value)}")
    for key in value:
        if key not in _TOOL_KEYS:
            raise Refused(f"unknown key; use {', '.join(_TOOL_KEYS)}", key=f"value.{key}")
    name = value.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Refused("give the name of the tool the answer must call", key="value.name")
    arguments = value.get("arguments")
    if isinstance(arguments, str):
        try:
            arguments = loads_strict(arguments)
        except ValueError as exc:
            raise Refused(f"not JSON: {json_error(exc)}", key="value.arguments") from None
    if arguments is not None and not isinstance(arguments, dict):
        raise Refused(
            f"give the expected arguments as an object, not {kind(arguments)}",
            key="value.arguments",
        )
    schema = clean_schema(value.get("schema"), key="value.schema")
    return {"name": name.strip(), "arguments": arguments or {}, "schema": schema}


def _call_parts(call: object) -> tuple[str, object]:
    """(name, raw arguments) of one OpenAI-shaped call; tolerant of a missing `function`."""
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict):
        return "", None
    return str(function.get("name") or ""), function.get("arguments")


def _argument_problem(spec: dict[str, Any], arguments: dict[str, Any]) -> str:
    for key, expected in spec["arguments"].items():
        if key not in arguments:
            return f"argument {quote(key, 30)} is missing"
        if not json_equal(expected, arguments[key]):
            return "arguments differ " + json_difference(expected, arguments[key], f"$.{key}")
    if spec["schema"] is not None:
        return schema_problem(spec["schema"], arguments)
    return ""


def _run_tool_call(a: dict[str, Any], o: Observed) -> Check:
    calls = [_call_parts(call) for call in o.tool_calls]
    names = ", ".join(name or "(unnamed)" for name, _ in calls[:5])
    spec = a["value"]
    if spec is None:
        if calls:
            return Check(True, f"the answer called {names}")
        return Check(False, "the answer made no tool call")
    matching = [raw for name, raw in calls if name == spec["name"]]
    if not matching:
        seen = f"the answer called {names} instead" if calls else "the answer made no tool call"
        return Check(False, seen)
    unreadable, problems = "", []
    for raw in matching:
        try:
            arguments = loads_strict(raw) if isinstance(raw, str) else raw
        except ValueError as exc:
            unreadable = f"{spec['name']} arguments are not JSON: {json_error(exc)}"
            continue
        if not isinstance(arguments, dict):
            unreadable = f"{spec['name']} arguments are {kind(arguments)}, not an object"
            continue
        problem = _argument_problem(spec, arguments)
        if not problem:
            return Check(True, f"{spec['name']} was called with matching arguments")
        problems.append(problem)
    if unreadable:
        # One call we cannot read might have been the matching one: neither form can pass.
        return Check(False, unreadable, undecidable=True)
    return Check(False, f"{spec['name']} was called, but {problems[0]}")


def _expect_tool_call(a: dict[str, Any]) -> tuple[str, str]:
    spec = a["value"]
    if spec is None:
        return "a tool call", "no tool call"
    given = ", ".join(f"{k}={shown_json(v, 30)}" for k, v in spec["arguments"].items())
    what = spec["name"] + (f" with {given}" if given else "")
    return f"a call to {what}", f"no call to {what}"


TYPES: dict[str, TypeSpec] = {
    "is-json": TypeSpec(_clean_optional_schema, _expect_is_json, _run_is_json),
    "contains-json": TypeSpec(_clean_optional_schema, _expect_contains_json, _run_contains_json),
    "tool-call": TypeSpec(_clean_tool_call, _expect_tool_call, _run_tool_call),
}
