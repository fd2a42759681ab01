"""Audit events as CSV (the audit page's and the feature timeline's export): one row per event,
the sentence beside the raw fields, before/after as JSON text (never Python reprs)."""

import csv
import json
from collections.abc import Iterator
from datetime import UTC
from itertools import islice
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from registry.models import AuditEvent

from .audit_names import load_names
from .audit_text import describe

COLUMNS = [
    "id",
    "created",
    "actor",
    "action",
    "sentence",
    "object_type",
    "object_id",
    "feature_key",
    "reason",
    "before",
    "after",
    "hash",
]
CHUNK = 500


def csv_safe(value: Any) -> str:
    # Spreadsheets run cells that start with = + - @ as formulas; audit text is user-supplied.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def as_json(value: Any) -> str:
    """JSON text for a before/after column ("" when there was none). It starts with { or [,
    never with a formula character, so it is written as is and parses back with json.loads."""
    if value is None:
        return ""
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True)


def _row(event: AuditEvent, sentence: str) -> list[str]:
    return [
        str(event.pk),
        event.created.astimezone(UTC).isoformat(),
        csv_safe(event.actor_label),
        csv_safe(event.action),
        csv_safe(sentence),
        csv_safe(event.object_type),
        csv_safe(event.object_id),
        csv_safe(event.feature_key),
        csv_safe(event.reason),
        as_json(event.before),
        as_json(event.after),
        event.hash,
    ]


class _Echo:
    def write(self, value: str) -> str:
        return value


def rows(events: QuerySet[AuditEvent]) -> Iterator[list[str]]:
    """Rows in chunks, each chunk with its own name cache: memory stays flat on a long trail."""
    iterator = events.iterator(chunk_size=CHUNK)
    while chunk := list(islice(iterator, CHUNK)):
        names = load_names(chunk)
        for event in chunk:
            yield _row(event, describe(event, names).text)


def csv_response(events: QuerySet[AuditEvent], *, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(COLUMNS)
        for row in rows(events):
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
