"""Text a database cannot store although JSON allows it: a NUL byte, a lone UTF-16 surrogate,
NaN or infinity. Checked at save time so the error names the field, rather than a 500."""

import math
import re
from collections.abc import Mapping
from typing import Any

# Valid JSON ("\\u0000", "\\ud800") but unstorable: PostgreSQL refuses a NUL byte in text and
# jsonb, and no database encodes a lone UTF-16 surrogate; refused here, naming the field,
# rather than a 500 from the database.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text(value: object, path: str) -> str | None:
    """The path of the first string (or key) in `value` holding a NUL or a lone surrogate, or
    of a NaN / infinite number (Python's JSON reads `NaN`; a JSON column refuses it)."""
    if isinstance(value, str):
        return path if _UNSTORABLE.search(value) else None
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if isinstance(key, str) else path
            if isinstance(key, str) and _UNSTORABLE.search(key):
                return path
            found = unstorable_text(item, where)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_text(item, f"{path}[{index}]")
            if found:
                return found
    return None


def refuse_unstorable(fields: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name in names:
        where = unstorable_text(fields.get(name), name)
        if where:
            # The key is the field itself, so a form puts it there; the path says which entry.
            errors[name] = [
                f"{where}: text may not contain NUL bytes (\\u0000) or lone surrogates "
                "(\\ud800-\\udfff), nor numbers NaN or Infinity; remove them."
            ]
    return errors
