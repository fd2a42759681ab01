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
    assert soon.deprecates is not None
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


def test_each_feature_gets_its_demo_suite_through_the_audited_services(seeded):
    from evaluations.models import Suite
    from rollouts.demo_suites import DEMO_SUITES

    for key, spec in DEMO_SUITES.items():
        suite = Suite.objects.get(feature__key=key)
        assert suite.name == spec["name"] and suite.threshold_pp == spec["threshold_pp"]
        cases = list(suite.cases.order_by("position"))
        assert [c.name for c in cases] == [c["name"] for c in spec["cases"]]
        assert any(c.critical for c in cases) and not any(c.draft for c in cases)
    assert AuditEvent.objects.filter(action="eval_suite.create").count() == 3
    assert AuditEvent.objects.filter(action="eval_case.create").count() == sum(
        len(spec["cases"]) for spec in DEMO_SUITES.values()
    )


def test_without_run_gates_the_upgrades_stay_drafts_and_the_output_says_so(db, settings):
    from io import StringIO

    from registry.models import Rollout

    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    upgrades = {r.feature.key: (r.candidate.name, r.status) for r in Rollout.objects.all()}
    assert upgrades == {
        "support-reply": ("support v2 (Jun)", "draft"),
        "intent-json": ("intent v2 (Oct)", "draft"),
        "ticket-summary": ("summary v2 (Oct)", "draft"),
    }
    assert "not run (pass --run-gates)" in out.getvalue()


def test_run_gates_without_a_simulator_says_how_to_turn_it_on(db, settings):
    from tests.live import free_port

    settings.DEBUG = True
    settings.SIMULATOR_ENABLED = False
    url = f"http://127.0.0.1:{free_port()}/simulator/v1"  # nothing listens there
    with pytest.raises(CommandError, match="SIMULATOR_ENABLED=true"):
        call_command("seed_demo", "--run-gates", "--simulator-url", url, verbosity=0)
