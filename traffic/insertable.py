"""Make a request-log row fit its columns before it is queued or written.

One bad value must never block the rows behind it in a batch (a NUL byte in a provider's answer,
a token count beyond the column's range, an over-long finish reason), so every row passes through
`make_insertable` first. It walks the model's own fields, so a column added later is bounded too:

- text (CharField, TextField): NUL and lone surrogates, which PostgreSQL cannot store (and a UTF-8
  encoder refuses), become U+FFFD; a CharField is cut to its max_length;
- integers: clamped to the column's range on this database;
- floats: NaN and infinities (neither survives JSON nor a CHECK >= 0) become NULL, negatives 0 —
  every float on a request log is a duration or a count;
- JSON: the same text scrub on every key and string inside, non-finite numbers become null.

A row that had to be altered is marked `scrubbed`, so nobody mistakes it for the verbatim call.
"""

import math
import re
from typing import Any

from django.db import connection, models

from registry.models import RequestLog

# What PostgreSQL text and jsonb cannot hold: NUL, and UTF-16 surrogate code points that are not
# part of a pair (Python strings can carry them, e.g. from a JSON "\ud800" escape).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean_text(value: str) -> str:
    """`value` with NUL and lone surrogates replaced by U+FFFD (the same string if none)."""
    return _UNSTORABLE.sub(REPLACEMENT, value) if _UNSTORABLE.search(value) else value


def clean_json(value: Any) -> Any:
    """A JSON value that PostgreSQL's jsonb accepts: strings and keys cleaned, NaN and
    infinities turned into null. The same object when nothing needed cleaning."""
    return _clean(value)[0]


def _clean(value: Any) -> tuple[Any, bool]:
    if isinstance(value, str):
        cleaned = clean_text(value)
        return cleaned, cleaned is not value
    if value is None or isinstance(value, bool | int):
        return value, False
    if isinstance(value, float):
        return (value, False) if math.isfinite(value) else (None, True)
    if isinstance(value, dict):
        pairs = [(key, _clean(str(key)), _clean(item)) for key, item in value.items()]
        if not any(k[1] or v[1] or not isinstance(key, str) for key, k, v in pairs):
            return value, False
        return {k[0]: v[0] for _key, k, v in pairs}, True
    if isinstance(value, list | tuple):
        items = [_clean(v) for v in value]
        if isinstance(value, list) and not any(changed for _, changed in items):
            return value, False
        return [v for v, _ in items], True
    # Anything else (a Decimal, a datetime) would be stored as its text by the encoder anyway.
    return clean_text(str(value)), True


def _fit(field: "models.Field[Any, Any]", value: Any) -> Any:
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        return clean_json(value)
    if isinstance(field, models.CharField | models.TextField) and isinstance(value, str):
        value = clean_text(value)
        limit = field.max_length if isinstance(field, models.CharField) else None
        return value[:limit] if limit is not None and len(value) > limit else value
    if isinstance(field, models.BooleanField):
        return value
    if isinstance(field, models.IntegerField | models.FloatField):
        number = _number(value)
        if number is None:
            return None if field.null else 0
        if isinstance(field, models.FloatField):
            return max(number, 0.0)
        low, high = connection.ops.integer_field_range(field.get_internal_type())
        whole = int(number) if isinstance(number, float) else number
        return min(
            max(whole, low if low is not None else whole), high if high is not None else whole
        )
    return value


def _number(value: Any) -> int | float | None:
    """An int or a finite float, or None for anything else (NaN, infinity, text, a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def make_insertable(row: RequestLog) -> RequestLog:
    """Bound every column of `row` in place (see the module docstring) and return it."""
    altered = False
    for field in type(row)._meta.concrete_fields:
        # Keys and relations are the builder's to get right; a wrong one is a dead letter.
        if field.primary_key or field.is_relation:
            continue
        before = getattr(row, field.attname)
        after = _fit(field, before)
        if after is not before:
            setattr(row, field.attname, after)
            # 3.0 stored as 3 is the same count; NaN never equals itself, so it counts.
            altered = altered or after != before
    if altered:
        row.scrubbed = True
    return row
