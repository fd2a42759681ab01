"""Role, group and permission changes are audited (actor, before, after), from the admin and from
any code path that goes through Django's models: they decide who may approve and roll back."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.db import transaction

from registry.models import AuditEvent
from registry.role_audit import acting_as
from registry.roles import Role
from registry.services.audit import audit_verify


def _events(action: str, user: User | Group) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, object_id=str(user.pk)).order_by("id"))


@pytest.fixture
def release_group(db) -> Group:
    return Group.objects.get_or_create(name=Role.RELEASE_MANAGER)[0]


def _user_form(user: User, **overrides) -> dict:
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2025-01-01",
        "date_joined_1": "00:00:00",
        "groups": [],
        "user_permissions": [],
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_granting_a_role_in_the_admin_is_audited_with_who_before_and_after(
    client_for, cast, release_group
):
    viewer = cast["viewer"]
    response = client_for("admin").post(
        f"/admin/auth/user/{viewer.pk}/change/",
        _user_form(viewer, groups=[str(release_group.pk)], is_staff="on"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    (event,) = _events("user.groups_add", viewer)
    assert event.actor_label == "admin"
    assert event.actor == cast["admin"]
    assert event.before == {"groups": []}
    assert event.after == {"groups": ["Release manager"]}
    (flags,) = _events("user.flags_change", viewer)
    assert flags.actor_label == "admin"
    assert flags.before["is_staff"] is False and flags.after["is_staff"] is True
    assert audit_verify().ok


def test_taking_a_role_away_in_the_admin_is_audited(client_for, cast):
    reviewer = cast["reviewer"]
    response = client_for("admin").post(
        f"/admin/auth/user/{reviewer.pk}/change/", _user_form(reviewer, groups=[])
    )
    assert response.status_code == 302
    (event,) = _events("user.groups_remove", reviewer)
    assert (event.before, event.after) == ({"groups": ["Reviewer"]}, {"groups": []})
    assert event.actor_label == "admin"


def test_a_membership_change_in_code_is_audited_in_its_transaction(db, release_group):
    user = User.objects.create_user(username="dana")
    user.groups.add(release_group)
    (event,) = _events("user.groups_add", user)
    assert event.actor_label == "system"
    assert "changed from code" in event.reason
    assert event.after == {"groups": ["Release manager"]}

    with pytest.raises(RuntimeError), transaction.atomic():
        user.groups.remove(release_group)
        raise RuntimeError("the change rolls back")
    assert not _events("user.groups_remove", user)  # rolled back together with the change
    assert user.groups.filter(pk=release_group.pk).exists()


def test_adding_members_from_the_group_side_is_audited_per_user(db, release_group):
    ann, bob = (User.objects.create_user(username=n) for n in ("ann", "bob"))
    with acting_as(ann):
        release_group.user_set.add(ann, bob)
    for user in (ann, bob):
        (event,) = _events("user.groups_add", user)
        assert event.after == {"groups": ["Release manager"]}
        assert event.actor_label == "ann"
    release_group.user_set.clear()
    assert [e.before for e in _events("user.groups_clear", bob)] == [
        {"groups": ["Release manager"]}
    ]


def test_permissions_of_users_and_groups_are_audited(db, release_group):
    user = User.objects.create_user(username="erin")
    permission = Permission.objects.get(
        codename="change_feature", content_type__app_label="rollouts"
    )
    user.user_permissions.add(permission)
    (event,) = _events("user.user_permissions_add", user)
    assert event.after == {"user_permissions": ["rollouts.change_feature"]}
    release_group.permissions.add(permission)
    (group_event,) = _events("group.permissions_add", release_group)
    assert group_event.before == {"permissions": []}


def test_superuser_and_active_flags_are_audited_from_code(db):
    user = User.objects.create_superuser(username="root", password=None)
    (created,) = _events("user.create", user)
    assert created.after == {"is_superuser": True, "is_staff": True, "is_active": True}
    user.is_active = False
    user.save()
    (change,) = _events("user.flags_change", user)
    assert change.before["is_active"] is True and change.after["is_active"] is False


def test_renaming_or_deleting_a_group_is_audited(db, release_group):
    member = User.objects.create_user(username="fay")
    member.groups.add(release_group)
    release_group.name = "Admins"  # renamed to "Admin", it would make every member one
    release_group.save()
    (rename,) = _events("group.rename", release_group)
    assert rename.before == {"name": "Release manager"} and rename.after == {"name": "Admins"}
    pk = release_group.pk
    release_group.delete()  # drops memberships without m2m signals
    deleted = AuditEvent.objects.get(action="group.delete", object_id=str(pk))
    assert deleted.before["members"] == ["fay"]


def test_saving_a_user_without_changing_rights_writes_nothing(db, release_group):
    user = User.objects.create_user(username="gil")
    user.groups.add(release_group)
    before = AuditEvent.objects.count()
    user.first_name = "Gil"
    user.save()
    user.groups.add(release_group)  # already a member
    assert AuditEvent.objects.count() == before


def test_seed_demo_grants_are_audited_once(db, settings):
    settings.DEBUG = True
    settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1", "::1", "localhost"]
    call_command("seed_demo", verbosity=0)
    grants = AuditEvent.objects.filter(action="user.groups_add")
    assert sorted(e.object_repr for e in grants) == ["admin", "release", "reviewer"]
    call_command("seed_demo", verbosity=0)
    assert AuditEvent.objects.filter(action="user.groups_add").count() == 3
