import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError

from registry.models import AuditEvent, Feature, ModelVersion
from registry.roles import Role, has_role
from registry.services.audit import audit_verify, db_now


@pytest.fixture
def seeded(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)


def test_it_seeds_three_features_on_the_simulator_and_one_user_per_role(seeded):
    assert sorted(Feature.objects.values_list("key", flat=True)) == [
        "intent-json",
        "support-reply",
        "ticket-summary",
    ]
    assert {f.served_config.model_version.provider.is_simulator for f in Feature.objects.all()} == {
        True
    }
    soon = ModelVersion.objects.filter(deprecates__isnull=False).get()
    assert 0 < (soon.deprecates - db_now().date()).days <= 60
    for username, role in [
        ("reviewer", Role.REVIEWER),
        ("release", Role.RELEASE_MANAGER),
        ("admin", Role.ADMIN),
    ]:
        user = authenticate(username=username, password=f"{username}-demo-pass")
        assert user is not None and has_role(user, role)
    viewer = authenticate(username="viewer", password="viewer-demo-pass")
    assert viewer is not None and not has_role(viewer, Role.REVIEWER)


def test_a_second_run_changes_nothing(seeded):
    events = AuditEvent.objects.count()
    call_command("seed_demo", verbosity=0)
    assert AuditEvent.objects.count() == events
    assert audit_verify().ok


def test_it_refuses_to_publish_demo_passwords_without_debug(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=true"):
        call_command("seed_demo")
