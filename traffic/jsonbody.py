"""Parsing untrusted JSON bodies (the API and the gateway): every problem is a BadBody naming
the field, never an exception that turns into a 500 further down."""

import json
import math
import re

# Documented in the OpenAPI schema and the README.
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 32
# Valid JSON ("\ud800") but not storable text: no database encodes a lone UTF-16 surrogate.
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadBody(ValueError):
    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.field = status, field


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _check(value, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise BadBody(400, f"The body nests deeper than {MAX_DEPTH} levels.", path or None)
    if isinstance(value, str):
        if "\x00" in value:
            raise BadBody(400, "Text may not contain NUL bytes (\\u0000).", path or None)
        if _SURROGATE.search(value):
            raise BadBody(
                400, "Text may not contain lone surrogates (\\ud800-\\udfff).", path or None
            )
    elif isinstance(value, float):
        if not math.isfinite(value):  # 1e400 parses to infinity, which JSON columns refuse
            raise BadBody(400, "Numbers must be finite (this one overflows).", path or None)
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key or _SURROGATE.search(key):
                raise BadBody(
                    400, "Keys may not contain NUL bytes or lone surrogates.", path or None
                )
            _check(item, f"{path}.{key}" if path else key, depth + 1)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _check(item, f"{path}[{n}]", depth + 1)


def check_storable(value) -> None:
    """BadBody naming the first value no column can store (NUL, lone surrogate, a number that
    overflowed, nesting deeper than MAX_DEPTH), for JSON read from a file rather than a body."""
    _check(value, "", 0)


def parse_json(raw: bytes):
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise BadBody(400, f"The body nests deeper than {MAX_DEPTH} levels.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBody(400, f"The body is not valid JSON: {str(exc)[:200]}") from None
    _check(body, "", 0)
    return body
