"""Writes to the registry. Each validates, saves and audits in one transaction."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from registry.errors import Conflict, DomainError
from registry.models import Feature, ModelConfig, ModelVersion, Provider, Rollout
from registry.models.serving import FULL, ServingShare
from registry.routing_state import routing_changed

from .audit import audit_record, db_now, snapshot
from .serving import serving_record


def _audited_save(obj, *, actor, noun: str, reason: str, feature_key: str = ""):
    obj.full_clean()
    creating = obj.pk is None
    before = None if creating else snapshot(type(obj).objects.get(pk=obj.pk))
    obj.save()
    after = snapshot(obj)
    if before == after:
        return obj
    audit_record(
        actor=actor,
        action=f"{noun}.{'create' if creating else 'update'}",
        obj=obj,
        before=before,
        after=after,
        reason=reason,
        feature_key=feature_key,
    )
    return obj


@transaction.atomic
def provider_save(*, provider: Provider, actor, reason: str = "") -> Provider:
    saved = _audited_save(provider, actor=actor, noun="provider", reason=reason)
    # The routing table carries the provider's URL, style, key variable and timeout: without
    # this a base URL edit would wait for some unrelated routing change to be seen.
    routing_changed()
    return saved


@transaction.atomic
def model_version_save(*, version: ModelVersion, actor, reason: str = "") -> ModelVersion:
    saved = _audited_save(version, actor=actor, noun="model_version", reason=reason)
    routing_changed()  # the table carries the version's model id and provider
    return saved


@transaction.atomic
def config_create(*, config: ModelConfig, actor, reason: str = "") -> ModelConfig:
    if config.pk is not None:
        raise ValueError("config_create takes a new, unsaved config")
    return _audited_save(config, actor=actor, noun="config", reason=reason)


@transaction.atomic
def config_revise(*, config: ModelConfig, actor, reason: str = "") -> ModelConfig:
    """Save edits to `config`. A config that anything references is immutable, so its edits
    become a new config (a revision of it) and the original row stays exactly as it ran."""
    current = ModelConfig.objects.select_for_update().get(pk=config.pk)
    if not current.locked:
        return _audited_save(config, actor=actor, noun="config", reason=reason)
    revision = ModelConfig(
        name=config.name if config.name != current.name else f"{current.name} (rev)",
        revision_of=current,
        **{f: getattr(config, f) for f in ModelConfig.CONTENT_FIELDS},
    )
    config.refresh_from_db()  # the caller's instance goes back to what is stored
    return _audited_save(revision, actor=actor, noun="config", reason=reason)


def lock_config(config: ModelConfig) -> None:
    if config.archived:
        raise DomainError(f"Config '{config}' is archived; pick or create an active config.")
    if not config.locked:
        ModelConfig.objects.filter(pk=config.pk).update(locked=True)
        config.locked = True


@transaction.atomic
def config_archive(*, config: ModelConfig, actor, reason: str = "") -> ModelConfig:
    now = db_now()
    serving = Feature.objects.filter(served_config=config).first()
    if serving:
        raise DomainError(f"Config '{config}' serves feature '{serving}'; switch it first.")
    pinned = Feature.objects.filter(previous_config=config, pinned_until__gt=now).first()
    if pinned:
        raise DomainError(
            f"Config '{config}' is the rollback target of '{pinned}' until "
            f"{pinned.pinned_until:%Y-%m-%d %H:%M} UTC; it can be archived after that."
        )
    if not ModelConfig.objects.filter(pk=config.pk, archived=False).update(archived=True):
        raise Conflict(f"Config '{config}' is already archived.")
    audit_record(
        actor=actor,
        action="config.archive",
        obj=config,
        before={"archived": False},
        after={"archived": True},
        reason=reason,
    )
    config.archived = True
    return config


@transaction.atomic
def feature_create(
    *,
    key: str,
    name: str,
    served_config: ModelConfig,
    actor,
    description: str = "",
    owner: str = "",
    reason: str = "",
) -> Feature:
    feature = Feature(
        key=key, name=name, description=description, owner=owner, served_config=served_config
    )
    feature.full_clean()
    lock_config(served_config)
    feature.save()
    event = audit_record(
        actor=actor,
        action="feature.create",
        obj=feature,
        before=None,
        after=snapshot(feature, exclude=("salt",)),
        reason=reason,
        feature_key=feature.key,
    )
    serving_record(
        feature=feature, shares=[(served_config, ServingShare.Variant.BASELINE, FULL)], event=event
    )
    routing_changed()
    return feature


@transaction.atomic
def feature_update_details(*, feature: Feature, actor, reason: str = "") -> Feature:
    """Name, description and owner only; the served config changes through feature_switch_config."""
    stored = Feature.objects.get(pk=feature.pk)
    if feature.served_config_id != stored.served_config_id or feature.key != stored.key:
        raise DomainError("Change the served config with a switch (or a rollout); keys are fixed.")
    saved = _audited_save(
        feature, actor=actor, noun="feature", reason=reason, feature_key=feature.key
    )
    routing_changed()  # redaction settings travel with the routing table
    return saved


@transaction.atomic
def feature_switch_config(*, feature: Feature, config: ModelConfig, actor, reason: str) -> Feature:
    """Serve `config` for all of the feature's traffic at once. The config it replaces becomes
    the rollback target, pinned for ROLLBACK_PIN_DAYS."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why the served config changes; the audit keeps it."})
    old = feature.served_config
    active = feature.rollouts.filter(status__in=Rollout.ACTIVE).first()
    if active:
        raise DomainError(
            f"'{feature}' has an active rollout to '{active.candidate}'; finish, roll back or "
            "abort it before switching the served config by hand."
        )
    if config.pk == old.pk:
        raise DomainError(f"'{config}' already serves '{feature}'.")
    lock_config(config)
    now = db_now()
    pinned_until = now + timedelta(days=settings.ROLLBACK_PIN_DAYS)
    before = snapshot(feature, exclude=("salt",))
    # Compare-and-set: a concurrent switch makes this match nothing, and the loser is told.
    changed = Feature.objects.filter(pk=feature.pk, served_config=old).update(
        served_config=config, previous_config=old, pinned_until=pinned_until
    )
    if not changed:
        raise Conflict(f"'{feature}' changed while you were editing; reload and try again.")
    feature.refresh_from_db()
    event = audit_record(
        actor=actor,
        action="feature.switch_config",
        obj=feature,
        before=before,
        after=snapshot(feature, exclude=("salt",)),
        reason=reason,
        feature_key=feature.key,
    )
    serving_record(
        feature=feature, shares=[(config, ServingShare.Variant.BASELINE, FULL)], event=event
    )
    routing_changed()
    return feature
