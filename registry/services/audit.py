"""Writing, checkpointing and verifying the keyed, hash-chained audit trail.

Each event's `hash` is an HMAC-SHA256, keyed with `settings.AUDIT_HMAC_KEY` (from the environment,
never the database), over its content and the previous event's hash. Installs that had events
before the chain was keyed keep those events' plain SHA-256 hashes as they were: the upgrade
appended one keyed `audit.chain_keyed` event whose `prev_hash` is the old head, so the old part
verifies by the old rule and cannot be rewritten without breaking that keyed event.

Checkpoints (`AuditCheckpoint`, and the log line written with each) pin the head, so events cut
off the end are noticed too; see `audit_checkpoint` and `audit_verify`.
"""

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction

from registry.models import AuditCheckpoint, AuditEvent

logger = logging.getLogger("registry.audit")

GENESIS = "0" * 64
# The action of the one keyed event that follows the unkeyed events of an upgraded install.
CHAIN_KEYED = "audit.chain_keyed"
# pg_advisory_xact_lock key that serialises appends and checkpoints, so the chain never forks
# and a checkpoint never sees half an append.
_AUDIT_LOCK_KEY = 0x524F4C4C41554454  # "ROLLAUDT"


def db_now() -> datetime:
    """The database's clock, so every process agrees on the order of events."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT clock_timestamp()")
            now: datetime = cursor.fetchone()[0]
            return now
        cursor.execute("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")
        return datetime.fromisoformat(cursor.fetchone()[0]).replace(tzinfo=UTC)


def snapshot(obj: models.Model, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON-ready picture of one row's fields (foreign keys as ids), for before/after."""
    data: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name in exclude:
            continue
        data[field.name] = getattr(obj, field.attname)
    plain: dict[str, Any] = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    return plain


def actor_label(actor: Any) -> str:
    if actor is None:
        return "system"
    return getattr(actor, "username", None) or str(actor)


def _body(fields: dict[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)


def _key() -> bytes:
    return settings.AUDIT_HMAC_KEY.encode()


def legacy_digest(prev_hash: str, fields: dict[str, Any]) -> str:
    """The unkeyed rule of events written before the chain was keyed (anyone can recompute it)."""
    return hashlib.sha256(f"{prev_hash}\n{_body(fields)}".encode()).hexdigest()


def keyed_digest(prev_hash: str, fields: dict[str, Any]) -> str:
    """The rule of every event since: only a holder of AUDIT_HMAC_KEY can compute it."""
    message = f"{prev_hash}\n{_body(fields)}".encode()
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()


def hashed_fields(event: AuditEvent) -> dict[str, Any]:
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


def chain_lock() -> None:
    """Serialise appends and checkpoints (PostgreSQL advisory lock, held to the transaction end)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_AUDIT_LOCK_KEY])
    # On SQLite the IMMEDIATE transaction already holds the database's single write lock.


def audit_record(
    *,
    actor: Any,
    action: str,
    obj: models.Model,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str = "",
    feature_key: str = "",
) -> AuditEvent:
    """Append one event in the caller's transaction: if the change rolls back, so does this."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction that makes the change")
    chain_lock()
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
    event.hash = keyed_digest(event.prev_hash, hashed_fields(event))
    event.save(force_insert=True)
    return event


# --- Checkpoints ------------------------------------------------------------------------------


def _checkpoint_mac(
    *, prev_mac: str, created: datetime, event_count: int, last_event_id: int | None, head: str
) -> str:
    body = _body(
        {
            "created": created.astimezone(UTC).isoformat(),
            "event_count": event_count,
            "last_event_id": last_event_id,
            "head_hash": head,
        }
    )
    # The "checkpoint" prefix keeps an event hash from ever passing as a checkpoint's MAC.
    message = f"checkpoint\n{prev_mac}\n{body}".encode()
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()


def _checkpoint_problem(checkpoint: AuditCheckpoint, prev_mac: str) -> str:
    if checkpoint.prev_mac != prev_mac:
        return (
            f"checkpoint #{checkpoint.pk} does not follow the checkpoint before it "
            "(a checkpoint was deleted or inserted)"
        )
    expected = _checkpoint_mac(
        prev_mac=checkpoint.prev_mac,
        created=checkpoint.created,
        event_count=checkpoint.event_count,
        last_event_id=checkpoint.last_event_id,
        head=checkpoint.head_hash,
    )
    if not hmac.compare_digest(expected, checkpoint.mac):
        return (
            f"checkpoint #{checkpoint.pk} was not written with this AUDIT_HMAC_KEY "
            "(forged or altered, or the key differs from the one that wrote it)"
        )
    return ""


def _describe(checkpoint: AuditCheckpoint) -> str:
    return (
        f"checkpoint #{checkpoint.pk} ({checkpoint.created.astimezone(UTC):%Y-%m-%d %H:%M:%S} "
        f"UTC) recorded {checkpoint.event_count} events ending with event "
        f"#{checkpoint.last_event_id} (hash {checkpoint.head_hash[:12]}…)"
    )


@dataclass(frozen=True)
class Head:
    """A position in the chain: after `count` events, the last one's hash is `hash`."""

    count: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> "Head":
        count, sep, digest = text.strip().partition(":")
        if not sep or not count.isdigit() or len(digest) != 64:
            raise ValueError(
                f"{text!r} is not a head; give COUNT:HASH as an audit.checkpoint log line "
                "prints it (e.g. 42:3f9a…, 64 hex characters)"
            )
        return cls(int(count), digest.lower())


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_id: int | None = None
    problem: str = ""
    head: Head = Head(0, GENESIS)
    last_event_id: int | None = None
    # How many events are plain SHA-256 from before the chain was keyed (upgraded installs).
    legacy: int = 0
    checkpoint: AuditCheckpoint | None = None

    @property
    def ok(self) -> bool:
        return not self.problem


def _anchor_id() -> int | None:
    """The first keyed event of an upgraded install; events before it follow the old rule."""
    return (
        AuditEvent.objects.filter(action=CHAIN_KEYED)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )


def _walk(
    events: Iterable[AuditEvent],
    *,
    start: Head,
    anchor_id: int | None,
    expected: dict[int, list[tuple[str, str]]],
) -> ChainReport:
    """Follow the chain from `start`; `expected` maps positions to (hash, whose) to meet there."""
    prev, position, legacy, last_id = start.hash, start.count, 0, None
    for event in events:
        if event.prev_hash != prev:
            return ChainReport(
                position, event.pk, "its prev_hash does not match the previous event's hash"
            )
        fields = hashed_fields(event)
        if anchor_id is not None and event.pk < anchor_id:
            digest, legacy = legacy_digest(event.prev_hash, fields), legacy + 1
        else:
            digest = keyed_digest(event.prev_hash, fields)
        if not hmac.compare_digest(digest, event.hash):
            if hmac.compare_digest(legacy_digest(event.prev_hash, fields), event.hash):
                problem = (
                    "its hash is plain SHA-256, not keyed with AUDIT_HMAC_KEY: the chain was "
                    "recomputed without the key from here on (or the audit.chain_keyed event "
                    "that closes the pre-upgrade events was removed)"
                )
            else:
                problem = "its content does not match its hash"
            return ChainReport(position, event.pk, problem)
        prev, position, last_id = event.hash, position + 1, event.pk
        for head_hash, whose in expected.get(position, ()):
            if head_hash != prev:
                return ChainReport(
                    position,
                    event.pk,
                    f"{whose} recorded a different event at position {position}: the chain "
                    "was rewritten from there on",
                )
    return ChainReport(position, head=Head(position, prev), last_event_id=last_id, legacy=legacy)


def audit_verify(*, batch_size: int = 2000, expect: Head | None = None) -> ChainReport:
    """Verify the whole trail and report the first fault.

    1. Every checkpoint carries a valid MAC and links to the one before it.
    2. Every event links to the previous event's hash, and its hash matches its content (plain
       SHA-256 before an upgraded install's `audit.chain_keyed` event, HMAC from it on).
    3. The chain passes through each checkpoint's head (and `expect`, a head copied from the
       log) at its position, and is at least as long as each: fewer events means the end was
       cut, and the report names what is missing.
    """
    checkpoints = list(AuditCheckpoint.objects.order_by("id"))
    prev_mac = GENESIS
    expected: dict[int, list[tuple[str, str]]] = {}
    for checkpoint in checkpoints:
        if problem := _checkpoint_problem(checkpoint, prev_mac):
            return ChainReport(0, problem=problem)
        prev_mac = checkpoint.mac
        expected.setdefault(checkpoint.event_count, []).append(
            (checkpoint.head_hash, f"checkpoint #{checkpoint.pk}")
        )
    if expect is not None:
        expected.setdefault(expect.count, []).append((expect.hash, "the head given by --expect"))
    for head_hash, whose in expected.pop(0, []):
        if head_hash != GENESIS:
            return ChainReport(0, problem=f"{whose} does not describe an empty chain")

    events = AuditEvent.objects.order_by("id").iterator(chunk_size=batch_size)
    report = _walk(events, start=Head(0, GENESIS), anchor_id=_anchor_id(), expected=expected)
    latest = checkpoints[-1] if checkpoints else None
    if not report.ok:
        return report
    if latest is not None and report.checked < latest.event_count:
        missing = latest.event_count - report.checked
        return ChainReport(
            report.checked,
            problem=(
                f"{missing} events are missing from the end: {_describe(latest)}, but only "
                f"{report.checked} remain (deleted or truncated after event "
                f"#{report.last_event_id or 0})"
            ),
        )
    if expect is not None and report.checked < expect.count:
        return ChainReport(
            report.checked,
            problem=(
                f"{expect.count - report.checked} events are missing from the end: the head "
                f"given by --expect is at {expect.count} events, but only {report.checked} remain"
            ),
        )
    return ChainReport(
        report.checked,
        head=report.head,
        last_event_id=report.last_event_id,
        legacy=report.legacy,
        checkpoint=latest,
    )


@dataclass(frozen=True)
class CheckpointResult:
    checkpoint: AuditCheckpoint | None
    written: bool
    problem: str = ""


def _verify_since(latest: AuditCheckpoint | None) -> ChainReport:
    """The cheap check each checkpoint makes before vouching for the head: the rows up to the
    previous checkpoint are still all there and end where it said, and every event since links
    on and carries a valid hash."""
    if latest is None:
        events = AuditEvent.objects.order_by("id").iterator(chunk_size=2000)
        return _walk(events, start=Head(0, GENESIS), anchor_id=_anchor_id(), expected={})
    if problem := _checkpoint_problem(latest, latest.prev_mac):
        return ChainReport(0, problem=problem)
    last_id = latest.last_event_id or 0
    if latest.event_count:
        up_to = AuditEvent.objects.filter(id__lte=last_id)
        head_hash = up_to.filter(id=last_id).values_list("hash", flat=True).first()
        remaining = up_to.count()
        if head_hash is None:
            found = f"event #{latest.last_event_id} is gone and {remaining} remain"
        elif head_hash != latest.head_hash:
            found = f"event #{latest.last_event_id} now has another hash"
        elif remaining != latest.event_count:
            found = f"only {remaining} of them remain"
        else:
            found = ""
        if found:
            return ChainReport(remaining, problem=f"{_describe(latest)}, but {found}")
    events = AuditEvent.objects.filter(id__gt=last_id).order_by("id").iterator(chunk_size=2000)
    report = _walk(
        events,
        start=Head(latest.event_count, latest.head_hash),
        anchor_id=_anchor_id(),
        expected={},
    )
    if report.ok and report.last_event_id is None:
        return ChainReport(report.checked, head=report.head, last_event_id=latest.last_event_id)
    return report


def audit_checkpoint() -> CheckpointResult:
    """Pin the chain's head: verify what was appended since the last checkpoint, then write a
    keyed checkpoint row and a log line with the same head (the log leaves the database, so it
    still tells the truth if someone with the key rewrites both tables). Nothing changed since
    the last one: no row, only the log line. A broken chain: no checkpoint, an ERROR line."""
    with transaction.atomic():
        chain_lock()
        latest = AuditCheckpoint.objects.order_by("-id").first()
        report = _verify_since(latest)
        if not report.ok:
            where = f" at event #{report.broken_id}" if report.broken_id else ""
            logger.error(
                "audit.checkpoint refused: chain broken%s: %s; run manage.py audit_verify",
                where,
                report.problem,
            )
            return CheckpointResult(None, written=False, problem=report.problem)
        head = report.head
        if latest is not None and (latest.event_count, latest.head_hash) == (head.count, head.hash):
            _log_head(latest, written=False)
            return CheckpointResult(latest, written=False)
        if latest is None and head.count == 0:
            logger.info("audit.checkpoint events=0 (nothing to pin yet)")
            return CheckpointResult(None, written=False)
        created = db_now()
        prev_mac = latest.mac if latest else GENESIS
        checkpoint = AuditCheckpoint.objects.create(
            created=created,
            event_count=head.count,
            last_event_id=report.last_event_id,
            head_hash=head.hash,
            prev_mac=prev_mac,
            mac=_checkpoint_mac(
                prev_mac=prev_mac,
                created=created,
                event_count=head.count,
                last_event_id=report.last_event_id,
                head=head.hash,
            ),
        )
    _log_head(checkpoint, written=True)
    return CheckpointResult(checkpoint, written=True)


def _log_head(checkpoint: AuditCheckpoint, *, written: bool) -> None:
    # key=value, one line, so a log pipeline can index it; the head is what an operator pastes
    # into `manage.py audit_verify --expect` to check the database against the log.
    logger.info(
        "audit.checkpoint id=%s %s events=%d last_event_id=%s head=%s expect=%d:%s",
        checkpoint.pk,
        "written" if written else "unchanged",
        checkpoint.event_count,
        checkpoint.last_event_id,
        checkpoint.head_hash,
        checkpoint.event_count,
        checkpoint.head_hash,
    )
