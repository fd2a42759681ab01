"""promptfoo's `is-valid-openai-function-call` / `is-valid-openai-tools-call` as the product's
`tool-call` assertion.

promptfoo passes them when the output is a call to one of the functions in the provider's
`config.functions` / `config.tools` whose arguments validate against that function's
`parameters`. `tool-call` checks one named function against a schema, so the mapping holds only
when the config defines exactly one function: then it is `tool-call {name, schema:
parameters}`, the same check. With several functions (any of them would pass in promptfoo),
none, or a tools file that was not uploaded, the assertion is left out and reported with the
`tool-call` to write instead: a weaker "any call at all" would pass what promptfoo fails.

In promptfoo a function-calling answer's output *is* the call (JSON), so an `is-json` next to
these checks the call; here the call is in the result's tool calls and the text is empty, so
such an `is-json` would fail every good answer: it is left out too, and reported.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from evaluations.assertions import clean_assertions
from evaluations.importers.asserts import LEFT_OUT
from evaluations.importers.files import FileProblem, Uploads, folder, load_structured

FUNCTION_CALL_TYPES = frozenset(
    {
        "is-valid-openai-function-call",
        "is-valid-openai-tools-call",
        "not-is-valid-openai-function-call",
        "not-is-valid-openai-tools-call",
    }
)
_TEXT_JSON = frozenset({"is-json", "contains-json"})


@dataclass
class Tools:
    """The functions the config's providers define: name -> parameters (or None)."""

    functions: dict[str, Any] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)  # refs that could not be read


def _entries(value: Any, ref_base: str, uploads: Uploads, tools: Tools) -> list[Any]:
    if isinstance(value, str) and value.startswith("file://"):
        ref = value.removeprefix("file://")
        name = uploads.find(ref, base=ref_base)
        if name is None:
            tools.unreadable.append(value)
            return []
        try:
            value = load_structured(name, uploads.text(name))
        except FileProblem:
            tools.unreadable.append(value)
            return []
    return value if isinstance(value, list) else []


def provider_tools(raw: Any, *, uploads: Uploads, main: str) -> Tools:
    """Every function defined by the providers' `config.functions` and `config.tools`."""
    tools = Tools()
    for entry in raw if isinstance(raw, list) else [raw]:
        config = entry.get("config") if isinstance(entry, dict) else None
        if not isinstance(config, dict):
            continue
        for key in ("functions", "tools"):
            for item in _entries(config.get(key), folder(main), uploads, tools):
                spec = item.get("function", item) if isinstance(item, dict) else None
                if isinstance(spec, dict) and isinstance(spec.get("name"), str):
                    tools.functions.setdefault(spec["name"], spec.get("parameters"))
    return tools


def _mapped(kind: str, tools: Tools) -> tuple[dict[str, Any] | None, str]:
    """(tool-call entry, note) for one function-call assertion, or (None, why not)."""
    negated = "not-" if kind.startswith("not-") else ""
    if tools.unreadable:
        return None, (
            f"the provider tools in {tools.unreadable[0]} were not uploaded, so the function "
            "to check is unknown; upload it, or write a tool-call assertion with the name"
        )
    if len(tools.functions) != 1:
        names = ", ".join(sorted(tools.functions)) or "none"
        return None, (
            f"the providers define {len(tools.functions)} functions ({names}) and tool-call "
            "checks one; write a tool-call assertion per test naming the expected function"
        )
    name, parameters = next(iter(tools.functions.items()))
    entry: dict[str, Any] = {"type": f"{negated}tool-call", "value": {"name": name}}
    if isinstance(parameters, dict):
        with_schema = {**entry, "value": {"name": name, "schema": parameters}}
        try:
            clean_assertions([with_schema])
            entry = with_schema
        except ValidationError:
            return entry, f"mapped to {negated}tool-call {name} (its parameters schema is not " \
                "one Rollout Desk reads, so the arguments are not checked)"  # fmt: skip
    return entry, f"mapped to {negated}tool-call {name} with its parameters as the schema"


def rewrite(raw: Any, *, where: str, tools: Tools, warn: Callable[[str, str], None]) -> Any:
    """The `assert` list with function-call checks as tool-call (or left out), and `is-json`
    beside them left out (as LEFT_OUT, so later entries keep their index in messages);
    anything else untouched, for asserts.convert."""
    if not isinstance(raw, list):
        return raw
    kinds = [e.get("type") for e in raw if isinstance(e, dict)]
    if not any(k in FUNCTION_CALL_TYPES for k in kinds):
        return raw
    out: list[Any] = []
    for index, entry in enumerate(raw):
        kind = entry.get("type") if isinstance(entry, dict) else None
        if kind in FUNCTION_CALL_TYPES:
            mapped, note = _mapped(str(kind), tools)
            if mapped is None:
                warn(where, f"assert[{index}] ({kind}) was left out: {note}")
                out.append(LEFT_OUT)
                continue
            warn(where, f"assert[{index}] ({kind}): {note}")
            keep = {k: v for k, v in entry.items() if k not in ("type", "value")}
            out.append({**keep, **mapped})
        elif kind in _TEXT_JSON:
            warn(
                where,
                f"assert[{index}] ({kind}) was left out: next to a function-call check it "
                "tests the call, which Rollout Desk checks with tool-call (the text is empty)",
            )
            out.append(LEFT_OUT)
        else:
            out.append(entry)
    return out
