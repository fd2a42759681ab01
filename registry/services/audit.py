"""Writing and verifying the hash-chained audit trail."""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

from registry.models import AuditEvent

GENESIS = "0" * 64
# pg_advisory_xact_lock key that serialises appends, so the chain never forks under concurrency.
_AUDIT_LOCK_KEY = 0x524F4C4C41554454  # "ROLLAUDT"


def db_now() -> datetime:
    """The database's clock, so every process agrees on the order of events."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT clock_timestamp()")
            return cursor.fetchone()[0]
        cursor.execute("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")
        return datetime.fromisoformat(cursor.fetchone()[0]).replace(tzinfo=UTC)


def snapshot(obj: models.Model, exclude: tuple[str, ...] = ()) -> dict:
    """A JSON-ready picture of one row's fields (foreign keys as ids), for before/after."""
    data = {}
    for field in obj._meta.concrete_fields:
        if field.name in exclude:
            continue
        data[field.name] = getattr(obj, field.attname)
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def actor_label(actor) -> str:
    if actor is None:
        return "system"
    return getattr(actor, "username", None) or str(actor)


def _digest(prev_hash: str, fields: dict) -> str:
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def _hashed_fields(event: AuditEvent) -> dict:
    return {
        "created": event.created.astimezone(UTC).isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "feature_key": event.feature_key,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
    }


def audit_record(
    *,
    actor,
    action: str,
    obj: models.Model,
    before: dict | None,
    after: dict | None,
    reason: str = "",
    feature_key: str = "",
) -> AuditEvent:
    """Append one event in the caller's transaction: if the change rolls back, so does this."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction that makes the change")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_AUDIT_LOCK_KEY])
    # On SQLite the IMMEDIATE transaction already holds the database's single write lock.
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    event = AuditEvent(
        created=db_now(),
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=actor_label(actor),
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(getattr(obj, "code", None) or obj.pk),
        object_repr=str(obj)[:300],
        feature_key=feature_key,
        before=before,
        after=after,
        reason=reason,
        prev_hash=last or GENESIS,
    )
    # Hash what the database will hand back: round-trip the JSON and the timestamp precision.
    event.before = json.loads(json.dumps(before, cls=DjangoJSONEncoder))
    event.after = json.loads(json.dumps(after, cls=DjangoJSONEncoder))
    event.hash = _digest(event.prev_hash, _hashed_fields(event))
    event.save(force_insert=True)
    return event


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_id: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def audit_verify(*, batch_size: int = 2000) -> ChainReport:
    """Walk the chain oldest first and report the first event whose link or content is wrong."""
    expected_prev = GENESIS
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=batch_size):
        if event.prev_hash != expected_prev:
            return ChainReport(
                checked, event.pk, "its prev_hash does not match the previous event's hash"
            )
        if _digest(event.prev_hash, _hashed_fields(event)) != event.hash:
            return ChainReport(checked, event.pk, "its content does not match its hash")
        expected_prev = event.hash
        checked += 1
    return ChainReport(checked)
