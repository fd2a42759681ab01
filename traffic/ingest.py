"""Ingest: the application reports production calls it made itself. A 2xx means stored."""

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import fastjsonschema
from django.db import IntegrityError, connection, transaction
from django.db.models import JSONField
from jsonschema import Draft202012Validator
from psycopg.types.json import Jsonb

from registry import observability
from registry.models import ModelConfig, RequestLog, Rollout, ServingShare
from registry.services.audit import db_now
from registry.timeparse import BadInstant, parse_instant
from traffic.assignment import CANDIDATE, ConfigView, Route
from traffic.insertable import make_insertable
from traffic.metrics import record_minutes
from traffic.outbox import plan_shadow_jobs
from traffic.providers import ErrorKind
from traffic.requestids import PATTERN as REQUEST_ID_PATTERN
from traffic.requestids import RULE as REQUEST_ID_RULE
from traffic.requestids import body_digest, request_id_valid
from traffic.requestlog import APP_ERROR, LoggedCall, request_log_build
from traffic.routing import RoutingTable, TokenView

MAX_BATCH = 500
_TEXT = {"type": "string", "maxLength": 200_000}
MESSAGE: dict[str, Any] = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"enum": ["system", "user", "assistant", "tool", "developer"]},
        "content": _TEXT,
        "name": {"type": "string", "maxLength": 200},
    },
}
_NUMBER = {"type": "number"}
# The pass-through parameters the application sent with the call, by name (the gateway forwards
# the same ones: traffic/passthrough.py REPLAYED); the shadow run replays them on the other
# config. Shapes only, not every provider's limits: the provider accepted them once already.
PARAM_SHAPES: dict[str, dict[str, Any]] = {
    "tools": {"type": "array", "maxItems": 128, "items": {"type": "object"}},
    "tool_choice": {"type": ["string", "object"]},
    "stop": {
        "type": ["string", "array"],
        "maxItems": 16,
        "items": {"type": "string", "maxLength": 1000},
        "maxLength": 1000,
    },
    "n": {"type": "integer", "minimum": 1, "maximum": 128},
    "seed": {"type": "integer"},
    "top_p": _NUMBER,
    "presence_penalty": _NUMBER,
    "frequency_penalty": _NUMBER,
    "logit_bias": {"type": "object", "additionalProperties": _NUMBER},
    "parallel_tool_calls": {"type": "boolean"},
    # Used where the other config leaves the format open; a config that pins one wins.
    "response_format": {"type": "object"},
}
PARAMS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": PARAM_SHAPES,
}
# How the call failed, in the gateway's vocabulary; an `error` without it is an "app_error".
# It decides whether a failed call is shadowed, by the gateway's rule (traffic/requestlog.py).
ERROR_KINDS = sorted({kind.value for kind in ErrorKind if kind.value} | {APP_ERROR})
RECORD: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["feature", "request_id", "messages"],
    "properties": {
        "feature": {"type": "string", "minLength": 1, "maxLength": 64},
        # The gateway's X-Request-Id rule (traffic/requestids.py).
        "request_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            "pattern": REQUEST_ID_PATTERN,
        },
        "unit": {"type": "string", "maxLength": 200},
        "messages": {"type": "array", "minItems": 1, "maxItems": 500, "items": MESSAGE},
        "variables": {
            "type": "object",
            "maxProperties": 100,
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
        "output": _TEXT,
        "config": {"type": "string", "format": "uuid", "maxLength": 36},
        "model_version": {"type": "string", "maxLength": 200},
        "latency_ms": {"type": "number", "minimum": 0, "maximum": 86_400_000},
        "error": {"type": "string", "maxLength": 5000},
        "error_kind": {"enum": ERROR_KINDS},
        "params": PARAMS,
        "finish_reason": {"type": "string", "maxLength": 32},
        "prompt_tokens": {"type": "integer", "minimum": 0, "maximum": 10_000_000},
        "completion_tokens": {"type": "integer", "minimum": 0, "maximum": 10_000_000},
        "started_at": {"type": "string", "maxLength": 40},
    },
}
BATCH: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["records"],
    "properties": {
        "records": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": RECORD}
    },
}
# The format checker makes "format": "uuid" binding: a malformed config code is a 400, not a
# ValidationError from the UUID lookup (a 500).
_UUID = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
# The fast path: the same schemas compiled to Python code. Valid bodies (nearly all) pass here;
# only a body that fails is walked again by jsonschema to name every problem.
_fast_record = fastjsonschema.compile(RECORD, formats={"uuid": _UUID})
_fast_batch = fastjsonschema.compile(BATCH, formats={"uuid": _UUID})
_record_validator = Draft202012Validator(RECORD, format_checker=Draft202012Validator.FORMAT_CHECKER)
_batch_validator = Draft202012Validator(BATCH, format_checker=Draft202012Validator.FORMAT_CHECKER)


Problem = dict[str, str]  # {"field": ..., "message": ...}
Validate = Callable[[Any], Any]


class IngestError(ValueError):
    """A refused ingest: the API answers `{code, message, field, errors}` (every problem found,
    the first one also as `message` and `field`)."""

    def __init__(self, status: int, errors: list[Problem], *, code: str | None = None):
        super().__init__(errors[0]["message"] if errors else "invalid")
        self.status = status
        self.errors = errors
        self.code = code  # None: the status's own code

    @property
    def field(self) -> str | None:
        return self.errors[0]["field"] if self.errors else None


def _path(parts: Iterable[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def _problems(error: Any) -> list[Problem]:
    """One jsonschema error as problems; an unknown name in `params` is named as its own
    field, with the names that are accepted."""
    path = list(error.path)
    if error.validator == "additionalProperties" and path[-1:] == ["params"]:
        unknown = sorted(set(error.instance) - set(PARAM_SHAPES))
        accepted = ", ".join(sorted(PARAM_SHAPES))
        return [
            {
                "field": _path([*path, name]),
                "message": f"'{name}' is not a pass-through parameter; params accepts {accepted}.",
            }
            for name in unknown
        ]
    return [{"field": _path(path), "message": error.message[:300]}]


def schema_errors(
    validator: Draft202012Validator, body: Any, fast: Validate | None = None
) -> list[Problem]:
    first: Problem | None = None
    if fast is not None:
        try:
            fast(body)
            return []
        except fastjsonschema.JsonSchemaException as exc:
            first = {"field": "(body)", "message": str(exc)[:300]}
    errors: list[Problem] = []
    for error in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.path)))[:20]:
        errors.extend(_problems(error))
    return errors or ([first] if first else [])


@dataclass
class Outcome:
    request_id: str
    feature: str
    id: int
    duplicate: bool

    def as_json(self) -> dict[str, str | int]:
        return {
            "feature": self.feature,
            "request_id": self.request_id,
            "id": self.id,
            "status": "duplicate" if self.duplicate else "stored",
        }


def _fail(status: int, field: str, message: str) -> IngestError:
    return IngestError(status, [{"field": field, "message": message}])


def _canonical(code: str | None) -> str | None:
    return str(uuid.UUID(code)) if code else None


# code -> (config id, features it has served, its model id)
OlderConfigs = dict[str, tuple[int, set[int], str]]


def _code_known(code: str, known: list[ConfigView], older: object) -> bool:
    return older is not None or any(c.code == code for c in known)


def _older_configs(codes: set[str]) -> OlderConfigs:
    """code -> (config id, features it has served, its model id), for configs named by records."""
    found: OlderConfigs = {}
    configs = ModelConfig.objects.filter(code__in=codes).select_related("model_version")
    for config in configs:
        features = set(
            ServingShare.objects.filter(config=config).values_list("change__feature_id", flat=True)
        ) | set(Rollout.objects.filter(candidate=config).values_list("feature_id", flat=True))
        found[str(config.code)] = (config.pk, features, config.model_version.model_id)
    return found


@dataclass(frozen=True, slots=True)
class _Resolved:
    route: Route
    variant: str
    config_id: int
    current: bool  # the route's baseline or candidate (False: an older config of the feature)
    started: datetime | None


def _resolve(
    record: dict[str, Any],
    index: str,
    table: RoutingTable,
    token: TokenView | None,
    configs: OlderConfigs,
) -> _Resolved:
    """Check one record against the registry: feature, token scope, the config that served."""
    route = table.routes.get(record["feature"])
    if route is None:
        raise _fail(404, f"{index}feature", f"No feature with key '{record['feature']}'.")
    if token is not None and route.feature_id not in token.feature_ids:
        raise _fail(
            403, f"{index}feature", f"This token is not scoped to feature '{route.feature_key}'."
        )
    variant, chosen = route.choose(record.get("unit", ""))
    served: ConfigView | None = chosen
    config_id = chosen.id
    code, model = _canonical(record.get("config")), record.get("model_version")
    if code or model:
        known = [c for c in (route.baseline, route.candidate) if c is not None]
        match = [c for c in known if code in (None, c.code) and model in (None, c.model_id)]
        older = configs.get(code) if code else None
        if match:
            served = match[0]
            config_id = served.id
        elif older is not None and route.feature_id in older[1] and model in (None, older[2]):
            served = None  # an older config of this feature (a stale client): never shadowed
            config_id = older[0]
        else:
            # Blame the model version when the config itself is fine (or absent).
            blame_model = model and (not code or _code_known(code, known, older))
            raise _fail(
                422,
                f"{index}{'model_version' if blame_model else 'config'}",
                "The config and model version must be the feature's baseline or candidate (or "
                "a config it served before), and agree with each other; send the config code "
                "from the assignment.",
            )
        variant = CANDIDATE if served is not None and served is route.candidate else "baseline"
    started = None
    if "started_at" in record:
        try:
            started = parse_instant(record["started_at"], field=f"{index}started_at")
        except BadInstant as exc:
            raise _fail(400, f"{index}started_at", str(exc)) from None
    return _Resolved(route, variant, config_id, served is not None, started)


def _error_kind(record: dict[str, Any]) -> str:
    if "error_kind" in record:
        return str(record["error_kind"])
    return APP_ERROR if record.get("error") else ""


def ingest(body: Any, *, table: RoutingTable, token: TokenView | None) -> list[Outcome]:
    """Validate every record first, then store all of them in one transaction (or none)."""
    batch = isinstance(body, dict) and "records" in body
    errors = (
        schema_errors(_batch_validator, body, _fast_batch)
        if batch
        else schema_errors(_record_validator, body, _fast_record)
    )
    if errors:
        raise IngestError(400, errors)
    records: list[dict[str, Any]] = body["records"] if batch else [body]
    codes = {_canonical(r.get("config")) for r in records}
    configs = _older_configs({code for code in codes if code})
    now = db_now()
    rows: list[RequestLog] = []
    feature_keys: dict[int, str] = {}
    seen: dict[tuple[int, str], int] = {}
    for n, record in enumerate(records):
        index = f"records[{n}]." if batch else ""
        resolved = _resolve(record, index, table, token, configs)
        feature_keys[resolved.route.feature_id] = resolved.route.feature_key
        row = request_log_build(
            call=LoggedCall(
                route=resolved.route,
                source=RequestLog.Source.INGEST,
                variant=resolved.variant,
                config_id=resolved.config_id,
                current=resolved.current,
                request_id=record["request_id"],
                unit_key=record.get("unit", ""),
                messages=record["messages"],
                variables=record.get("variables", {}),
                params=record.get("params", {}),
                output=record.get("output", ""),
                finish_reason=record.get("finish_reason", ""),
                tool_calls=[],
                error_kind=_error_kind(record),
                error=record.get("error", ""),
                latency_ms=record.get("latency_ms"),
                prompt_tokens=record.get("prompt_tokens"),
                completion_tokens=record.get("completion_tokens"),
                started=resolved.started or now,
            )
        )
        row.body_digest = _idempotency_digest(record, index)
        seen.setdefault((resolved.route.feature_id, row.request_id), n)
        rows.append(row)
    return _store(rows, seen, feature_keys, now=now, batch=batch)


def _copy_value(row: RequestLog, field: Any) -> Any:
    value = getattr(row, field.attname)
    # SQL NULL for a nullable JSON column left empty (raw input of an unshadowed call), not the
    # JSON value null, so `IS NULL` finds it.
    if isinstance(field, JSONField) and value is not None:
        return Jsonb(value)
    return value


def _insert(rows: list[RequestLog], *, now: datetime) -> None:
    """Insert rows and set their ids. On PostgreSQL with COPY: ingest batches are its hot path,
    and COPY is several times faster than a multi-row INSERT built by the ORM."""
    if connection.vendor != "postgresql" or len(rows) < 20:
        RequestLog.objects.bulk_create(rows)
        return
    fields = list(RequestLog._meta.concrete_fields)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('rollouts_requestlog', 'id')) "
            "FROM generate_series(1, %s)",
            [len(rows)],
        )
        for row, (pk,) in zip(rows, cursor.fetchall(), strict=True):
            row.pk = pk
            row.created = now
        columns = ", ".join(str(f.column) for f in fields)
        raw = cursor.cursor  # psycopg's own cursor, for COPY
        with raw.copy(f"COPY rollouts_requestlog ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_copy_value(row, f) for f in fields])


def _store(
    rows: list[RequestLog],
    first: dict[tuple[int, str], int],
    feature_keys: dict[int, str],
    *,
    now: datetime,
    batch: bool = False,
) -> list[Outcome]:
    """Store the rows not stored before, in one transaction. A request id seen again with the
    same record is a duplicate (the stored id is answered); with a different record it is a 409
    and nothing is stored."""
    fresh: list[RequestLog] = []
    stored: dict[tuple[int, str], int] = {}
    for _attempt in range(2):
        try:
            with transaction.atomic():
                found = _existing(rows)
                _refuse_reuse(rows, first, found, batch=batch)
                existing = {key: pk for key, (pk, _digest) in found.items()}
                fresh = [
                    r
                    for n, r in enumerate(rows)
                    if (r.feature_id, r.request_id) not in existing
                    and first[(r.feature_id, r.request_id)] == n
                ]
                for row in fresh:
                    make_insertable(row)  # the schema bounds most columns; this bounds the rest
                _insert(fresh, now=now)
                plan_shadow_jobs(fresh, today=now.date())
                record_minutes(fresh)  # same transaction: a retried attempt counts once
                calls = [(feature_keys[r.feature_id], r.variant, r.error_kind) for r in fresh]
                transaction.on_commit(partial(observability.ingest_counted, calls))
                stored = {(r.feature_id, r.request_id): r.pk for r in fresh} | existing
                break
        except IntegrityError:
            # A concurrent ingest stored one of these request ids first: retry, which now sees
            # it as a duplicate. Nothing of this attempt was written.
            continue
    else:
        raise _fail(409, "request_id", "Concurrent duplicates; retry, the call is idempotent.")
    fresh_keys = {(r.feature_id, r.request_id) for r in fresh}
    keys = [(r.feature_id, r.request_id) for r in rows]
    return [
        Outcome(
            request_id=k[1],
            feature=feature_keys[k[0]],
            id=stored[k],
            duplicate=k not in fresh_keys or first[k] != n,
        )
        for n, k in enumerate(keys)
    ]


def _existing(rows: list[RequestLog]) -> dict[tuple[int, str], tuple[int, str]]:
    """(feature id, request id) -> (pk, body digest) of the rows already stored."""
    found: dict[tuple[int, str], tuple[int, str]] = {}
    by_feature: dict[int, set[str]] = {}
    for r in rows:
        by_feature.setdefault(r.feature_id, set()).add(r.request_id)
    for feature_id, ids in by_feature.items():
        for pk, request_id, digest in RequestLog.objects.filter(
            feature_id=feature_id, request_id__in=ids
        ).values_list("pk", "request_id", "body_digest"):
            found[(feature_id, request_id)] = (pk, digest)
    return found


def _idempotency_digest(record: dict[str, Any], index: str) -> str:
    """The digest that tells a retried record from a reused request id; refuses an id the
    schema's pattern lets through (Python's `$` also matches before a final newline)."""
    if not request_id_valid(record["request_id"]):
        raise _fail(400, f"{index}request_id", f"'request_id' must be {REQUEST_ID_RULE}.")
    return body_digest(record)


def _refuse_reuse(
    rows: list[RequestLog],
    first: dict[tuple[int, str], int],
    found: dict[tuple[int, str], tuple[int, str]],
    *,
    batch: bool,
) -> None:
    """409 for a request id sent again with a different record, earlier in this batch or
    stored before. Rows stored before digests were kept (digest "") count as the same."""
    for n, row in enumerate(rows):
        key = (row.feature_id, row.request_id)
        field = f"records[{n}].request_id" if batch else "request_id"
        earlier = first[key]
        if earlier != n and rows[earlier].body_digest != row.body_digest:
            raise _fail(
                409,
                field,
                f"request_id '{row.request_id}' appears twice in this batch with different "
                f"records (records[{earlier}] and records[{n}]); each call needs its own id.",
            )
        stored = found.get(key)
        if stored is not None and stored[1] and stored[1] != row.body_digest:
            raise _fail(
                409,
                field,
                f"request_id '{row.request_id}' was already stored (id {stored[0]}) with a "
                "different record; a new call needs a new request_id, a retry must send the "
                "same record.",
            )
