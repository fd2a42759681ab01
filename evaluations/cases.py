"""What a case sends: explicit messages, or the prompt template filled with its variables.

Templates accept both the product's `{var}` and promptfoo's Nunjucks-style `{{ var }}`, so an
imported promptfoo prompt runs unchanged. A variable the case does not give stays visible as
written (`{{ name }}`), the same rule as the config's system prompt (traffic/prompting.py): a
missing variable shows up in the output instead of failing the call.
"""

import re
from collections.abc import Mapping
from typing import Any

# {{ var }} (promptfoo) first, then a single-brace {var} that is not part of a double brace.
_DOUBLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")
_SINGLE = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def render_template(template: str, variables: Mapping[str, Any]) -> str:
    def single(match: re.Match[str]) -> str:
        name = match.group(1)
        return _text(variables[name]) if name in variables else match.group(0)

    # One pass per form over the original pieces, so a value containing braces is never
    # substituted again.
    pieces = _DOUBLE.split(template)
    out: list[str] = []
    for index, piece in enumerate(pieces):
        if index % 2:
            out.append(_text(variables[piece]) if piece in variables else "{{" + piece + "}}")
        else:
            out.append(_SINGLE.sub(single, piece))
    return "".join(out)


def template_variables(template: str) -> list[str]:
    """The variables a template names, in order of first use, in either form."""
    names: list[str] = []
    for match in re.finditer(rf"{_DOUBLE.pattern}|{_SINGLE.pattern}", template):
        name = match.group(1) or match.group(2)
        if name not in names:
            names.append(name)
    return names


def case_messages(
    *, messages: list[dict[str, Any]], variables: Mapping[str, Any], prompt: str, suite_prompt: str
) -> list[dict[str, Any]]:
    """The conversation a case sends (before the config's system prompt is put in front)."""
    if messages:
        return [
            {**m, "content": render_template(m["content"], variables)}
            if isinstance(m.get("content"), str)
            else dict(m)
            for m in messages
        ]
    template = prompt or suite_prompt
    if not template:
        # No template: the variables themselves are the question, one "name: value" per line.
        template = "\n".join(f"{name}: {{{{{name}}}}}" for name in variables)
    return [{"role": "user", "content": render_template(template, variables)}]
