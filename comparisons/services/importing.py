"""Importing pairs produced elsewhere: parsing and validation (pure), and one write service.

A record is one flat object, the same in JSONL (one JSON object a line), CSV (one column per
field, `messages` and `metadata` as JSON text) and the API (`{"records": [...]}`):

| field | required | meaning |
| --- | --- | --- |
| `input` or `messages` | one of them | the user's text, or chat messages `[{role, content}]` |
| `baseline_output`, `candidate_output` | yes | the two answers (text, may be empty) |
| `baseline_model`, `candidate_model` | yes | the provider model id that wrote each answer |
| `request_id` | no | the producer's id (unique per rollout); generated when absent |
| `baseline_latency_ms`, `candidate_latency_ms` | no | number >= 0 |
| `baseline_tokens`, `candidate_tokens` | no | integer >= 0 |
| `baseline_error`, `candidate_error` | no | text, at most 300 characters |
| `baseline_finish_reason`, `candidate_finish_reason` | no | `stop`, `length` (truncated), ... |
| `metadata` | no | a JSON object, kept with the pair |

Refused (every problem named by line or `records[i]` and field, all or nothing): a record that
breaks the schema, text with NUL or lone surrogates (no database stores them), a request id
repeated in the file or already paired in the rollout, more than MAX_RECORDS records, a file
that is not UTF-8. Accepted and marked: a model id the pinning rule calls floating ("unpinned,
imported as is": history cannot be re-pinned). Text is stored as given, after the feature's
redaction (like every stored text).
"""

import csv
import io
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from comparisons.batches import STAGED_IMPORT_HOURS, ImportBatch, ImportedPair
from comparisons.models import ShadowPair
from comparisons.services.scoring import score_rollout_pair
from registry.errors import DomainError
from registry.models import ModelConfig, Rollout
from registry.pinning import FloatingAliasError, PinningContext, check_pinned
from registry.services.audit import audit_record, snapshot
from traffic.jsonbody import MAX_DEPTH, BadBody, check_storable
from traffic.pairformat import MAX_API_RECORDS, PAIR_RECORD
from traffic.redaction import feature_redactor

# Documented in the README and the upload page (the API's limits: traffic/pairformat.py).
MAX_RECORDS = 5000  # per file
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ERRORS = 50  # reported per import; the count says how many more
CSV_COLUMNS = tuple(PAIR_RECORD["properties"])
_NUMBERS = {"baseline_latency_ms": float, "candidate_latency_ms": float}
_INTEGERS = ("baseline_tokens", "candidate_tokens")
_JSON_COLUMNS = ("messages", "metadata")
_validator = Draft202012Validator(PAIR_RECORD)


@dataclass(frozen=True, slots=True)
class RecordError:
    where: str  # "line 4" or "records[3]"
    field: str  # "baseline_model", "messages[0].role", "(record)"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.message}"

    @property
    def path(self) -> str:
        """The API's form: records[3].baseline_model."""
        return self.where if self.field == "(record)" else f"{self.where}.{self.field}"


@dataclass(frozen=True, slots=True)
class PairRecord:
    line: int  # file line, or API index
    where: str  # "line 4" or "records[3]", for errors
    data: dict[str, Any]


@dataclass(slots=True)
class Parsed:
    records: list[PairRecord] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    error_count: int = 0

    def fail(self, error: RecordError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(error)

    @property
    def ok(self) -> bool:
        return not self.error_count and bool(self.records)


class ImportRefused(DomainError):
    """Nothing was imported; `errors` names every line and field to fix."""

    def __init__(self, message: str, errors: Iterable[RecordError] = (), count: int = 0):
        super().__init__(message)
        self.errors = list(errors)
        self.count = count or len(self.errors)


# --- parsing (pure) ------------------------------------------------------------------------


def _schema_errors(obj: Any, where: str) -> list[RecordError]:
    out = []
    for err in sorted(_validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
        out.append(RecordError(where, _field_of(err), _say(err)))
    return out


def _field_of(err: SchemaError) -> str:
    if err.validator == "oneOf" and not err.absolute_path:
        return "input"
    path = ""
    for part in err.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if err.validator == "required" and isinstance(err.instance, dict):
        # One error per missing name, each saying which ("'x' is a required property").
        missing = [n for n in err.validator_value if n not in err.instance]
        named = next((n for n in missing if err.message.startswith(repr(n))), None)
        if named or missing:
            name = named or missing[0]
            return f"{path}.{name}" if path else name
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        if extra:
            return f"{path}.{extra[0]}" if path else extra[0]
    return path or "(record)"


def _say(err: SchemaError) -> str:
    if err.validator == "oneOf" and not err.absolute_path:
        return "give either 'input' (text) or 'messages' (a list), exactly one of them"
    if err.validator == "required":
        return "is required"
    if err.validator == "additionalProperties":
        return f"is not a known field; the fields are {', '.join(CSV_COLUMNS)}"
    if err.validator == "pattern":
        return "use 1-100 characters of letters, digits and . _ : -"
    return str(err.message)[:300]


def _text_problem(obj: Any, path: str = "") -> tuple[str, str] | None:
    """(field, message) for the first NUL or lone surrogate: refused, never altered."""
    try:
        check_storable(obj)
    except BadBody as exc:
        return (exc.field or path or "(record)", str(exc))
    return None


def validate_record(obj: Any, *, where: str, line: int) -> PairRecord | list[RecordError]:
    errors = _schema_errors(obj, where)
    if errors:
        return errors
    problem = _text_problem(obj)
    if problem:
        return [RecordError(where, problem[0], problem[1])]
    return PairRecord(line=line, where=where, data=obj)


def _add(parsed: Parsed, result: PairRecord | list[RecordError]) -> None:
    if isinstance(result, PairRecord):
        parsed.records.append(result)
    else:
        for error in result:
            parsed.fail(error)


def _decode(data: bytes, parsed: Parsed) -> str | None:
    if len(data) > MAX_FILE_BYTES:
        parsed.fail(
            RecordError("file", "(file)", f"is larger than {MAX_FILE_BYTES} bytes; split it")
        )
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        parsed.fail(RecordError(f"line {line}", "(file)", "is not UTF-8 text; save as UTF-8"))
        return None


def _loads(text: str) -> Any:
    """json.loads, with nesting too deep for the parser's recursion a ValueError like any other
    malformed text (validate_record refuses anything deeper than MAX_DEPTH anyway)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"it nests too deeply (at most {MAX_DEPTH} levels)") from None


def parse_jsonl(data: bytes) -> Parsed:
    """One JSON object a line; blank lines are skipped."""
    parsed = Parsed()
    text = _decode(data, parsed)
    if text is None:
        return parsed
    for n, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        where = f"line {n}"
        try:
            obj = _loads(raw)
        except ValueError as exc:
            parsed.fail(RecordError(where, "(record)", f"is not valid JSON: {str(exc)[:200]}"))
            continue
        _add(parsed, validate_record(obj, where=where, line=n))
    _check_count_and_ids(parsed)
    return parsed


def _csv_row(row: dict[str, str], where: str) -> tuple[dict[str, Any], list[RecordError]]:
    record: dict[str, Any] = {}
    errors = []
    for name, value in row.items():
        if value is None or value == "":
            continue  # an empty cell is an absent field
        if name in _NUMBERS or name in _INTEGERS:
            try:
                number = float(value) if name in _NUMBERS else int(value)
            except ValueError:
                kind = "a number" if name in _NUMBERS else "a whole number"
                errors.append(RecordError(where, name, f"{value[:40]!r} is not {kind}"))
                continue
            record[name] = number
        elif name in _JSON_COLUMNS:
            try:
                record[name] = _loads(value)
            except ValueError:
                errors.append(RecordError(where, name, "is not valid JSON text"))
        else:
            record[name] = value
    return record, errors


def parse_csv(data: bytes) -> Parsed:
    """A header row naming the columns (CSV_COLUMNS, any order, unknown ones refused), then one
    record a row. Cells may span lines (quoted); errors name the line where the row starts."""
    parsed = Parsed()
    text = _decode(data, parsed)
    if text is None:
        return parsed
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        parsed.fail(RecordError("line 1", "(header)", "give a header row naming the columns"))
        return parsed
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        parsed.fail(
            RecordError(
                "line 1", unknown[0], f"is not a known column; use {', '.join(CSV_COLUMNS)}"
            )
        )
        return parsed
    start = reader.line_num + 1
    rows: Iterator[list[str]] = iter(reader)
    while True:
        where = f"line {start}"
        try:
            cells = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            parsed.fail(RecordError(where, "(row)", f"is not valid CSV: {exc}"))
            break
        if not any(cells):
            start = reader.line_num + 1
            continue
        if len(cells) != len(header):
            parsed.fail(
                RecordError(where, "(row)", f"has {len(cells)} cells; the header has {len(header)}")
            )
        else:
            record, errors = _csv_row(dict(zip(header, cells, strict=True)), where)
            if errors:
                for error in errors:
                    parsed.fail(error)
            else:
                _add(parsed, validate_record(record, where=where, line=start))
        start = reader.line_num + 1
    _check_count_and_ids(parsed)
    return parsed


def parse_file(data: bytes, *, file_name: str) -> Parsed:
    """CSV when the name ends in .csv, JSONL otherwise (.jsonl, .ndjson, .json)."""
    return parse_csv(data) if file_name.lower().endswith(".csv") else parse_jsonl(data)


def parse_api_records(body: Any) -> Parsed:
    """The API body {"records": [...]}; errors say records[i].field."""
    parsed = Parsed()
    records = body.get("records") if isinstance(body, dict) else None
    if not isinstance(records, list) or not records:
        parsed.fail(RecordError("records", "(record)", 'send {"records": [...]}, 1 or more'))
        return parsed
    if len(records) > MAX_API_RECORDS:
        parsed.fail(
            RecordError("records", "(record)", f"at most {MAX_API_RECORDS} records per call")
        )
        return parsed
    extra = sorted(set(body) - {"records"})
    if extra:
        parsed.fail(RecordError(extra[0], "(record)", "is not a known field; send only records"))
        return parsed
    for n, obj in enumerate(records):
        _add(parsed, validate_record(obj, where=f"records[{n}]", line=n))
    _check_count_and_ids(parsed)
    return parsed


def _check_count_and_ids(parsed: Parsed) -> None:
    if len(parsed.records) > MAX_RECORDS:
        parsed.fail(
            RecordError("file", "(file)", f"holds more than {MAX_RECORDS} records; split it")
        )
    if not parsed.records and not parsed.error_count:
        parsed.fail(RecordError("file", "(file)", "holds no records"))
    seen: dict[str, str] = {}
    for record in parsed.records:
        rid = record.data.get("request_id")
        if rid is None:
            continue
        if rid in seen:
            parsed.fail(
                RecordError(
                    record.where, "request_id", f"{rid!r} repeats the record at {seen[rid]}"
                )
            )
        else:
            seen[rid] = record.where


# --- pinning (pure) ------------------------------------------------------------------------


def pinning_note(model_id: str, config: ModelConfig) -> str:
    """ "" when the model id is pinned by the rule of the config's provider, else why not."""
    version = config.model_version
    provider = version.provider
    ctx = PinningContext(
        api_style=provider.api_style,
        self_hosted=provider.self_hosted,
        # The config's own revision vouches only for the config's own model id.
        weights_revision=version.weights_revision if model_id == version.model_id else "",
        base_url=provider.base_url,
    )
    try:
        check_pinned(model_id, ctx)
    except FloatingAliasError as exc:
        return str(exc)
    return ""


# --- writing -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Preview:
    records: int
    unpinned: int
    flagged: int
    queued: int
    errors: list[RecordError]
    error_count: int


def _importable(rollout: Rollout) -> None:
    if rollout.status not in Rollout.REVIEWING:
        raise DomainError(
            f"This rollout is {rollout.get_status_display().lower()}: its pairs are no longer "
            "reviewed. Import into an active rollout or an offline comparison."
        )


def _conflicts(rollout: Rollout, records: list[PairRecord]) -> list[RecordError]:
    given = {r.data["request_id"]: r for r in records if "request_id" in r.data}
    taken = ShadowPair.objects.filter(rollout=rollout, request_key__in=list(given)).values_list(
        "request_key", flat=True
    )
    return [
        RecordError(
            given[key].where,
            "request_id",
            f"this rollout already has a pair for request {key!r}",
        )
        for key in sorted(taken)
    ]


def _build(rollout: Rollout, record: PairRecord) -> tuple[ShadowPair, ImportedPair, bool]:
    data = record.data
    redact = feature_redactor(rollout.feature)
    if "messages" in data:
        messages = [{"role": m["role"], "content": m["content"]} for m in data["messages"]]
    else:
        messages = [{"role": "user", "content": data["input"]}]
    redacted_messages = redact.messages(messages)
    base_out = redact.text(data["baseline_output"])
    cand_out = redact.text(data["candidate_output"])
    changed = (redacted_messages, base_out, cand_out) != (
        messages,
        data["baseline_output"],
        data["candidate_output"],
    )
    pair = ShadowPair(
        rollout=rollout,
        request=None,
        request_key=data.get("request_id") or f"import:{uuid.uuid4().hex}",
        messages=redacted_messages,
        # The objects, not ids: scoring reads both configs (JSON expectations), no query each.
        baseline_config=rollout.baseline,
        candidate_config=rollout.candidate,
        # Imports hold the production answer as the baseline, by the format's definition.
        served_variant="baseline",
        baseline_output=base_out,
        candidate_output=cand_out,
        baseline_error=redact.text(data.get("baseline_error", "")),
        candidate_error=redact.text(data.get("candidate_error", "")),
        baseline_latency_ms=data.get("baseline_latency_ms"),
        candidate_latency_ms=data.get("candidate_latency_ms"),
        baseline_tokens=data.get("baseline_tokens"),
        candidate_tokens=data.get("candidate_tokens"),
        baseline_finish_reason=data.get("baseline_finish_reason", ""),
        candidate_finish_reason=data.get("candidate_finish_reason", ""),
    )
    score_rollout_pair(pair)
    notes = [
        f"{side}: {note}"
        for side, model_id, config in (
            ("baseline", data["baseline_model"], rollout.baseline),
            ("candidate", data["candidate_model"], rollout.candidate),
        )
        if (note := pinning_note(model_id, config))
    ]
    item = ImportedPair(
        line=record.line,
        baseline_model=data["baseline_model"],
        candidate_model=data["candidate_model"],
        unpinned=bool(notes),
        unpinned_note=" ".join(notes)[:500],
        metadata=redact.value(data.get("metadata", {})),
    )
    return pair, item, changed


def _load(rollout: Rollout) -> Rollout:
    return Rollout.objects.select_related(
        "feature",
        "baseline__model_version__provider",
        "candidate__model_version__provider",
    ).get(pk=rollout.pk)


def import_preview(*, rollout: Rollout, parsed: Parsed) -> Preview:
    """What an import would create (nothing is written): counts, and the first errors."""
    rollout = _load(rollout)
    errors = list(parsed.errors)
    count = parsed.error_count
    if not count:
        conflicts = _conflicts(rollout, parsed.records)
        errors, count = conflicts[:MAX_ERRORS], len(conflicts)
    built = [_build(rollout, r) for r in parsed.records] if not count else []
    return Preview(
        records=len(parsed.records),
        unpinned=sum(item.unpinned for _, item, _ in built),
        flagged=sum(pair.flagged for pair, _, _ in built),
        queued=sum(pair.queued for pair, _, _ in built),
        errors=errors,
        error_count=count,
    )


def _actor_fields(actor: Any) -> dict[str, Any]:
    if getattr(actor, "pk", None):
        return {"created_by": actor, "actor_label": actor.get_username()}
    return {"created_by": None, "actor_label": str(actor or "system")[:150]}


@transaction.atomic
def pairs_import(
    *,
    rollout: Rollout,
    parsed: Parsed,
    actor: Any,
    source: str,
    file_name: str = "",
) -> ImportBatch:
    """1. Refuse (ImportRefused, nothing written) if any record has an error or a request id
       already paired in the rollout.
    2. Build every pair, score it (metrics, flags, queue) like a shadow pair, mark unpinned
       model ids.
    3. Write the batch, the pairs and their import rows and one audit event, in this one
       transaction: a failure anywhere leaves nothing behind.
    """
    rollout = _load(rollout)
    _importable(rollout)
    if parsed.error_count:
        raise ImportRefused(
            f"Nothing imported: {parsed.error_count} problem(s); fix them and import again.",
            parsed.errors,
            parsed.error_count,
        )
    conflicts = _conflicts(rollout, parsed.records)
    if conflicts:
        raise ImportRefused(
            f"Nothing imported: {len(conflicts)} request id(s) already paired in this rollout.",
            conflicts[:MAX_ERRORS],
            len(conflicts),
        )
    built = [_build(rollout, r) for r in parsed.records]
    batch = ImportBatch.objects.create(
        rollout=rollout,
        source=source,
        file_name=file_name[:200],
        records=len(built),
        **_actor_fields(actor),
    )
    return _write(batch, built)


def _write(batch: ImportBatch, built: list[tuple[ShadowPair, ImportedPair, bool]]) -> ImportBatch:
    try:
        with transaction.atomic():
            pairs = ShadowPair.objects.bulk_create([pair for pair, _, _ in built], batch_size=500)
    except IntegrityError:
        # A concurrent import (or a live shadow pair) took a request id since the check above.
        raise ImportRefused(
            "Nothing imported: a request id was paired in this rollout meanwhile; import again "
            "to see which."
        ) from None
    items = []
    for pair, (_, item, _) in zip(pairs, built, strict=True):
        item.pair, item.batch = pair, batch
        items.append(item)
    ImportedPair.objects.bulk_create(items, batch_size=500)
    before = snapshot(batch, exclude=("staged",))
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.IMPORTED,
        staged=None,
        pairs=len(pairs),
        unpinned=sum(i.unpinned for i in items),
        flagged=sum(p.flagged for p in pairs),
        queued=sum(p.queued for p in pairs),
        redacted=sum(changed for _, _, changed in built),
    )
    batch.refresh_from_db()
    audit_record(
        actor=batch.created_by or batch.actor_label,
        action="pairs.import",
        obj=batch,
        before=before if before["status"] == ImportBatch.Status.PENDING else None,
        after=snapshot(batch, exclude=("staged",)),
        reason=batch.file_name,
        feature_key=batch.rollout.feature.key,
    )
    return batch


# --- the page's two steps: stage (preview), then confirm -------------------------------------


@transaction.atomic
def import_stage(
    *, rollout: Rollout, parsed: Parsed, actor: Any, file_name: str
) -> tuple[ImportBatch | None, Preview]:
    """Step 1 of the page: validate and preview. With no error, keep the validated records in a
    pending batch whose code is the confirm token; with errors, keep nothing."""
    rollout = _load(rollout)
    _importable(rollout)
    preview = import_preview(rollout=rollout, parsed=parsed)
    if preview.error_count:
        return None, preview
    batch = ImportBatch.objects.create(
        rollout=rollout,
        source=ImportBatch.Source.PAGE,
        status=ImportBatch.Status.PENDING,
        file_name=file_name[:200],
        records=len(parsed.records),
        staged=[{"line": r.line, "where": r.where, "data": r.data} for r in parsed.records],
        **_actor_fields(actor),
    )
    return batch, preview


@transaction.atomic
def import_confirm(*, batch_code: Any, actor: Any) -> ImportBatch:
    """Step 2: create the staged pairs. Only the user who uploaded may confirm, once."""
    batch = (
        ImportBatch.objects.select_for_update()
        .filter(code=batch_code, created_by=actor, status=ImportBatch.Status.PENDING)
        .first()
    )
    if batch is None:
        raise DomainError(
            "This preview was imported already, expired (previews are kept "
            f"{STAGED_IMPORT_HOURS} hours) or is not yours; upload the file again."
        )
    rollout = _load(batch.rollout)
    _importable(rollout)
    parsed = Parsed(
        records=[
            PairRecord(line=r["line"], where=r["where"], data=r["data"]) for r in batch.staged or []
        ]
    )
    conflicts = _conflicts(rollout, parsed.records)
    if conflicts:
        raise ImportRefused(
            "Nothing imported: request ids were paired in this rollout since the preview.",
            conflicts[:MAX_ERRORS],
            len(conflicts),
        )
    return _write(batch, [_build(rollout, r) for r in parsed.records])
