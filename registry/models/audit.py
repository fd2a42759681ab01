"""The audit trail: one append-only, hash-chained event per change."""

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """Never updated or deleted (a database trigger refuses both on PostgreSQL; on SQLite a
    trigger refuses UPDATE). Each event's `hash` covers its content and the previous event's
    hash, so `manage.py audit_verify` finds any row changed behind the database's back."""

    # Written from the database clock inside the lock that orders the chain (see services.audit).
    created = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Who acted, frozen at the time: a username, "token:<name>" or "system".
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=300)
    # The feature the change concerns, when there is one: the feature timeline's filter.
    feature_key = models.CharField(max_length=64, blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The feature timeline: events of one feature, newest first.
            models.Index(fields=["feature_key", "-id"], name="rollouts_audit_feature_idx"),
            # The audit page filtered by object: "history of config X".
            models.Index(fields=["object_type", "object_id"], name="rollouts_audit_object_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.object_repr}"


class AuditCheckpoint(models.Model):
    """The chain's head (how many events, and the last one's hash) as verified at one moment, so
    that cutting events off the end is noticed: `audit_verify` needs at least `event_count`
    events whose hash at that position is `head_hash`.

    Append-only like the events (triggers refuse UPDATE, DELETE and TRUNCATE on PostgreSQL), and
    each row carries an HMAC over its content and the previous checkpoint's, made with the key
    from the environment, so a table owner without the key can neither forge nor edit one.
    `last_event_id` is deliberately not a foreign key: `TRUNCATE rollouts_auditevent CASCADE`
    must not be able to reach this table. The same head also goes to the log, which lives
    outside the database."""

    created = models.DateTimeField()
    event_count = models.PositiveBigIntegerField()
    last_event_id = models.BigIntegerField(null=True, blank=True)
    head_hash = models.CharField(max_length=64)
    prev_mac = models.CharField(max_length=64)
    mac = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"checkpoint #{self.pk}: {self.event_count} events"
