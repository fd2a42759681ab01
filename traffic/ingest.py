"""Ingest: the application reports production calls it made itself. A 2xx means stored."""

import uuid
from dataclasses import dataclass

import fastjsonschema
from django.db import IntegrityError, connection, transaction
from django.db.models import JSONField
from jsonschema import Draft202012Validator
from psycopg.types.json import Jsonb

from registry.models import ModelConfig, RequestLog, Rollout, ServingShare
from registry.services.audit import db_now
from registry.timeparse import BadInstant, parse_instant
from traffic.assignment import CANDIDATE
from traffic.outbox import plan_shadow_jobs
from traffic.routing import RoutingTable, TokenView

MAX_BATCH = 500
_TEXT = {"type": "string", "maxLength": 200_000}
MESSAGE = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"enum": ["system", "user", "assistant", "tool", "developer"]},
        "content": _TEXT,
        "name": {"type": "string", "maxLength": 200},
    },
}
RECORD = {
    "type": "object",
    "additionalProperties": False,
    "required": ["feature", "request_id", "messages"],
    "properties": {
        "feature": {"type": "string", "minLength": 1, "maxLength": 64},
        "request_id": {"type": "string", "minLength": 1, "maxLength": 100},
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
        "finish_reason": {"type": "string", "maxLength": 32},
        "prompt_tokens": {"type": "integer", "minimum": 0, "maximum": 10_000_000},
        "completion_tokens": {"type": "integer", "minimum": 0, "maximum": 10_000_000},
        "started_at": {"type": "string", "maxLength": 40},
    },
}
BATCH = {
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


class IngestError(ValueError):
    def __init__(self, status: int, errors: list[dict]):
        super().__init__(errors[0]["message"] if errors else "invalid")
        self.status = status
        self.errors = errors


def _path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def schema_errors(validator: Draft202012Validator, body, fast=None) -> list[dict]:
    if fast is not None:
        try:
            fast(body)
            return []
        except fastjsonschema.JsonSchemaException as exc:
            first = {"field": "(body)", "message": str(exc)[:300]}
    else:
        first = None
    errors = []
    for error in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.path)))[:20]:
        errors.append({"field": _path(error.path), "message": error.message[:300]})
    return errors or ([first] if first else [])


@dataclass
class Outcome:
    request_id: str
    feature: str
    id: int
    duplicate: bool

    def as_json(self) -> dict:
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


def _code_known(code: str, known, older) -> bool:
    return older is not None or any(c.code == code for c in known)


def _older_configs(codes: set[str]) -> dict[str, tuple[int, set[int], str]]:
    """code -> (config id, features it has served, its model id), for configs named by records."""
    found: dict[str, tuple[int, set[int], str]] = {}
    configs = ModelConfig.objects.filter(code__in=codes).select_related("model_version")
    for config in configs:
        features = set(
            ServingShare.objects.filter(config=config).values_list("change__feature_id", flat=True)
        ) | set(Rollout.objects.filter(candidate=config).values_list("feature_id", flat=True))
        found[str(config.code)] = (config.pk, features, config.model_version.model_id)
    return found


def _resolve(record: dict, index: str, table: RoutingTable, token: TokenView | None, configs):
    """Check one record against the registry: feature, token scope, the config that served.

    Returns (route, variant, served config view or None for an older config, shadow config
    view or None, start time or None).
    """
    route = table.routes.get(record["feature"])
    if route is None:
        raise _fail(404, f"{index}feature", f"No feature with key '{record['feature']}'.")
    if token is not None and route.feature_id not in token.feature_ids:
        raise _fail(
            403, f"{index}feature", f"This token is not scoped to feature '{route.feature_key}'."
        )
    variant, served = route.choose(record.get("unit", ""))
    code, model = _canonical(record.get("config")), record.get("model_version")
    if code or model:
        known = [c for c in (route.baseline, route.candidate) if c is not None]
        match = [c for c in known if code in (None, c.code) and model in (None, c.model_id)]
        older = configs.get(code)
        if match:
            served = match[0]
        elif older is not None and route.feature_id in older[1] and model in (None, older[2]):
            served = None  # an older config of this feature (a stale client): never shadowed
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
    shadow = route.other(variant) if served is not None else None
    return route, variant, served, shadow, started


def ingest(body, *, table: RoutingTable, token: TokenView | None) -> list[Outcome]:
    """Validate every record first, then store all of them in one transaction (or none)."""
    batch = isinstance(body, dict) and "records" in body
    errors = (
        schema_errors(_batch_validator, body, _fast_batch)
        if batch
        else schema_errors(_record_validator, body, _fast_record)
    )
    if errors:
        raise IngestError(400, errors)
    records = body["records"] if batch else [body]
    configs = _older_configs({_canonical(r["config"]) for r in records if "config" in r})
    now = db_now()
    rows: list[RequestLog] = []
    feature_keys: dict[int, str] = {}
    seen: dict[tuple[int, str], int] = {}
    for n, record in enumerate(records):
        index = f"records[{n}]." if batch else ""
        route, variant, served, shadow, started = _resolve(record, index, table, token, configs)
        redact = route.redactor
        feature_keys[route.feature_id] = route.feature_key
        config_id = served.id if served is not None else configs[_canonical(record["config"])][0]
        row = RequestLog(
            feature_id=route.feature_id,
            request_id=record["request_id"],
            unit_key=record.get("unit", ""),
            source=RequestLog.Source.INGEST,
            config_id=config_id,
            variant=variant,
            rollout_id=route.rollout_id if served is not None else None,
            messages=redact.messages(record["messages"]),
            variables=record.get("variables", {}),
            output=redact.text(record.get("output", "")),
            finish_reason=record.get("finish_reason", ""),
            error=redact.text(record.get("error", "")),
            error_kind="app_error" if record.get("error") else "",
            latency_ms=record.get("latency_ms"),
            prompt_tokens=record.get("prompt_tokens"),
            completion_tokens=record.get("completion_tokens"),
            started=started or now,
        )
        row.shadow_config_id = shadow.id if shadow is not None else None
        seen.setdefault((route.feature_id, row.request_id), n)
        rows.append(row)
    return _store(rows, seen, feature_keys, now=now)


def _insert(rows: list[RequestLog], *, now) -> None:
    """Insert rows and set their ids. On PostgreSQL with COPY: ingest batches are its hot path,
    and COPY is several times faster than a multi-row INSERT built by the ORM."""
    if connection.vendor != "postgresql" or len(rows) < 20:
        RequestLog.objects.bulk_create(rows)
        return
    fields = [f for f in RequestLog._meta.concrete_fields]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('rollouts_requestlog', 'id')) "
            "FROM generate_series(1, %s)",
            [len(rows)],
        )
        for row, (pk,) in zip(rows, cursor.fetchall(), strict=True):
            row.pk = pk
            row.created = now
        columns = ", ".join(f.column for f in fields)
        with cursor.cursor.copy(f"COPY rollouts_requestlog ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [
                        Jsonb(getattr(row, f.attname))
                        if isinstance(f, JSONField)
                        else getattr(row, f.attname)
                        for f in fields
                    ]
                )


def _store(rows: list[RequestLog], first: dict, feature_keys: dict, *, now) -> list[Outcome]:
    for _attempt in range(2):
        try:
            with transaction.atomic():
                existing = _existing(rows)
                fresh = [
                    r
                    for n, r in enumerate(rows)
                    if (r.feature_id, r.request_id) not in existing
                    and first[(r.feature_id, r.request_id)] == n
                ]
                _insert(fresh, now=now)
                plan_shadow_jobs(fresh, today=now.date())
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


def _existing(rows: list[RequestLog]) -> dict[tuple[int, str], int]:
    found: dict[tuple[int, str], int] = {}
    by_feature: dict[int, set[str]] = {}
    for r in rows:
        by_feature.setdefault(r.feature_id, set()).add(r.request_id)
    for feature_id, ids in by_feature.items():
        for pk, request_id in RequestLog.objects.filter(
            feature_id=feature_id, request_id__in=ids
        ).values_list("pk", "request_id"):
            found[(feature_id, request_id)] = pk
    return found
