"""Role, group and permission changes are audited, whichever code path makes them.

The house style keeps writes in services and out of signals. Here a signal is the honest tool:
roles are Django's own `User.groups`, `User.user_permissions`, `Group.permissions` and the
`is_superuser` / `is_staff` / `is_active` flags, changed by the admin's forms, `createsuperuser`,
`seed_demo`, a shell or a script: code paths that never pass through a service of ours, and
that a service could not make audit themselves. `m2m_changed`, `pre_save` / `post_save` and
`pre_delete` fire on every one of them.

The event is written in the transaction of the change: Django's related managers run add /
remove / clear, and the delete collector runs `pre_delete`, inside an atomic block of their own
(or the caller's). A `User.save()` is atomic only when its caller is (the admin, seed_demo and
services are); in autocommit (a bare shell `user.save()`) the event follows in a transaction of
its own right after. Not seen, because Django sends no signal: `QuerySet.update()`, bulk
m2m writes through the `through` model, and raw SQL; those need database access, which the
trail's checkpoints and the README's operating notes answer.

Who acted: `acting_as(user)` around the change (the admin wraps its views in it); without it
the event says "system" and, in its reason, that the change came from code.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group, Permission, User
from django.db import models, transaction
from django.db.models.signals import m2m_changed, post_save, pre_delete, pre_save

from registry.services.audit import audit_record

FLAGS = ("is_superuser", "is_staff", "is_active")
_NO_ACTOR_REASON = "no signed-in actor: changed from code (a command, a script or a shell)"

_actor: ContextVar[User | None] = ContextVar("rollout_desk_audit_actor", default=None)


@contextmanager
def acting_as(actor: User | None) -> Iterator[None]:
    """Attribute the role changes made inside the block to `actor`."""
    token = _actor.set(actor if actor is not None and actor.is_authenticated else None)
    try:
        yield
    finally:
        _actor.reset(token)


def _record(
    *, action: str, obj: models.Model, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> None:
    actor = _actor.get()
    # savepoint=False: inside the caller's transaction this adds nothing; in autocommit it is
    # the transaction audit_record insists on.
    with transaction.atomic(savepoint=False):
        audit_record(
            actor=actor,
            action=action,
            obj=obj,
            before=before,
            after=after,
            reason="" if actor is not None else _NO_ACTOR_REASON,
        )


# --- Memberships and permissions (m2m) --------------------------------------------------------


@dataclass(frozen=True)
class _Relation:
    """One many-to-many relation that grants rights: whose set (`owner`) holds what (`item`)."""

    through: type[models.Model]
    owner: type[models.Model]
    owner_fk: str  # the through model's column pointing at the owner
    item: type[models.Model]
    item_fk: str
    name: str  # the key in before/after and the action's suffix: groups, user_permissions, ...

    def labels(self, owner_pk: Any) -> list[str]:
        ids = self.through._default_manager.filter(**{self.owner_fk: owner_pk}).values(self.item_fk)
        if self.item is Group:
            return sorted(Group.objects.filter(pk__in=ids).values_list("name", flat=True))
        rows = Permission.objects.filter(pk__in=ids).values_list(
            "content_type__app_label", "codename"
        )
        return sorted(f"{app}.{codename}" for app, codename in rows)

    def owners(
        self, *, instance: models.Model, reverse: bool, pk_set: set[Any] | None
    ) -> list[Any]:
        if not reverse:
            return [instance.pk]
        if pk_set is not None:
            return sorted(pk_set)
        # A reverse clear (group.user_set.clear()): everyone who holds the item now.
        return list(
            self.through._default_manager.filter(**{self.item_fk: instance.pk}).values_list(
                self.owner_fk, flat=True
            )
        )


_RELATIONS = {
    User.groups.through: _Relation(
        User.groups.through, User, "user_id", Group, "group_id", "groups"
    ),
    User.user_permissions.through: _Relation(
        User.user_permissions.through, User, "user_id", Permission, "permission_id",
        "user_permissions",
    ),
    Group.permissions.through: _Relation(
        Group.permissions.through, Group, "group_id", Permission, "permission_id", "permissions"
    ),
}  # fmt: skip

_PENDING = "_rollout_desk_m2m_before"


def _m2m_changed(
    sender: type[models.Model],
    instance: models.Model,
    action: str,
    reverse: bool,
    pk_set: set[Any] | None,
    **kwargs: Any,
) -> None:
    """1. pre_add / pre_remove / pre_clear: note each affected owner's set as it is.
    2. post_*: read it again and write one event per owner whose set changed (an add of what
       was already there changes nothing and writes nothing)."""
    relation = _RELATIONS[sender]
    phase, _, op = action.partition("_")
    if pk_set is not None and not pk_set:
        return
    pending: dict[Any, tuple[list[Any], dict[Any, list[str]]]] = instance.__dict__.setdefault(
        _PENDING, {}
    )
    if phase == "pre":
        owner_pks = relation.owners(instance=instance, reverse=reverse, pk_set=pk_set)
        pending[sender] = (owner_pks, {pk: relation.labels(pk) for pk in owner_pks})
        return
    owner_pks, before = pending.pop(sender, ([], {}))
    owners = (
        {instance.pk: instance}
        if not reverse
        else relation.owner._default_manager.in_bulk(owner_pks)
    )
    prefix = relation.owner._meta.model_name
    for pk in owner_pks:
        if pk not in before or pk not in owners:
            continue
        after = relation.labels(pk)
        if after != before[pk]:
            _record(
                action=f"{prefix}.{relation.name}_{op}",
                obj=owners[pk],
                before={relation.name: before[pk]},
                after={relation.name: after},
            )


for _through in _RELATIONS:
    m2m_changed.connect(_m2m_changed, sender=_through, dispatch_uid=f"audit-{_through.__name__}")


# --- User flags, groups themselves --------------------------------------------------------------

_BEFORE = "_rollout_desk_saved_before"
_UNWATCHED = object()


def _user_flags(user: User) -> dict[str, bool]:
    return {flag: bool(getattr(user, flag)) for flag in FLAGS}


def _user_pre_save(
    sender: type[User], instance: User, update_fields: Iterable[str] | None = None, **kwargs: Any
) -> None:
    if update_fields is not None and not set(FLAGS) & set(update_fields):
        instance.__dict__[_BEFORE] = _UNWATCHED  # e.g. login's save(update_fields=["last_login"])
        return
    old = None
    if instance.pk is not None and not instance._state.adding:
        old = User.objects.filter(pk=instance.pk).values(*FLAGS).first()
    instance.__dict__[_BEFORE] = old


def _user_post_save(sender: type[User], instance: User, created: bool, **kwargs: Any) -> None:
    before = instance.__dict__.pop(_BEFORE, _UNWATCHED)
    if before is _UNWATCHED:
        return
    after = _user_flags(instance)
    if before is None:
        # A new account matters to the trail when it starts with rights (createsuperuser);
        # plain accounts get their rights through groups, audited above.
        if after["is_superuser"] or after["is_staff"]:
            _record(action="user.create", obj=instance, before=None, after=after)
        return
    if before != after:
        _record(action="user.flags_change", obj=instance, before=before, after=after)


def _user_pre_delete(sender: type[User], instance: User, **kwargs: Any) -> None:
    # The delete collector removes memberships without m2m signals: keep what the user held.
    before = {
        **_user_flags(instance),
        "groups": _RELATIONS[User.groups.through].labels(instance.pk),
        "user_permissions": _RELATIONS[User.user_permissions.through].labels(instance.pk),
    }
    _record(action="user.delete", obj=instance, before=before, after=None)


def _group_pre_save(sender: type[Group], instance: Group, **kwargs: Any) -> None:
    old = None
    if instance.pk is not None and not instance._state.adding:
        old = Group.objects.filter(pk=instance.pk).values_list("name", flat=True).first()
    instance.__dict__[_BEFORE] = old


def _group_post_save(sender: type[Group], instance: Group, created: bool, **kwargs: Any) -> None:
    # Roles are group names, so a rename can hand every member another role.
    old = instance.__dict__.pop(_BEFORE, None)
    if old is None:
        _record(action="group.create", obj=instance, before=None, after={"name": instance.name})
    elif old != instance.name:
        _record(
            action="group.rename", obj=instance, before={"name": old}, after={"name": instance.name}
        )


def _group_pre_delete(sender: type[Group], instance: Group, **kwargs: Any) -> None:
    members = User.objects.filter(groups=instance).order_by("username")
    before = {
        "name": instance.name,
        "members": list(members.values_list("username", flat=True)),
        "permissions": _RELATIONS[Group.permissions.through].labels(instance.pk),
    }
    _record(action="group.delete", obj=instance, before=before, after=None)


pre_save.connect(_user_pre_save, sender=User, dispatch_uid="audit-user-pre-save")
post_save.connect(_user_post_save, sender=User, dispatch_uid="audit-user-post-save")
pre_delete.connect(_user_pre_delete, sender=User, dispatch_uid="audit-user-pre-delete")
pre_save.connect(_group_pre_save, sender=Group, dispatch_uid="audit-group-pre-save")
post_save.connect(_group_post_save, sender=Group, dispatch_uid="audit-group-post-save")
pre_delete.connect(_group_pre_delete, sender=Group, dispatch_uid="audit-group-pre-delete")
