"""Rollout transitions (services) and the rollout pages with their permission matrix."""

import pytest
from django.core.exceptions import ValidationError

from registry.errors import Conflict, DomainError
from registry.models import AuditEvent, Rollout
from registry.services import registry
from registry.services.serving import served_at
from rollouts.services import rollouts
from rollouts.services.promotion import rollout_promote
from tests.gates import pass_gate
from tests.stages import serve_candidate, waive_minimums
from traffic.routing import current_table, invalidate_local


@pytest.fixture
def candidate(make_config, make_version):
    return make_config("support v2", make_version("gpt-4o-2024-11-20"))


@pytest.fixture
def rollout(feature, candidate):
    return rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)


def test_a_rollout_moves_through_shadow_and_canary_with_an_event_per_step(rollout, release):
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=release)
    waive_minimums(rollout)
    for _ in range(3):  # shadow -> 1% -> 5% -> 10%, the default plan
        rollout_promote(rollout=rollout, actor=release, note="looks fine")
    assert rollout.status == "canary" and rollout.candidate_bp == 1000
    actions = list(
        AuditEvent.objects.filter(feature_key="support-reply")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[-5:] == [
        "rollout.create",
        "rollout.start_shadow",
        "rollout.promote",
        "rollout.promote",
        "rollout.promote",
    ]


def test_the_ledger_records_the_canary_split_and_the_rollback(rollout, feature, candidate):
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    serve_candidate(rollout, 25)
    split_at = feature.serving_changes.order_by("-id").first().effective
    rollouts.rollout_rollback(rollout=rollout, actor=None, reason="tone regression")
    back_at = feature.serving_changes.order_by("-id").first().effective
    split = {(s.config.name, s.percent) for s in served_at(feature=feature, when=split_at).shares}
    assert split == {("support v1", 75.0), ("support v2", 25.0)}
    after = [(s.config.name, s.percent) for s in served_at(feature=feature, when=back_at).shares]
    assert after == [("support v1", 100.0)]


def test_rollback_routes_every_unit_to_the_baseline_at_once(rollout, settings):
    settings.ROUTING_REFRESH_SECONDS = 60
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    serve_candidate(rollout, 100)
    invalidate_local()
    route = current_table().routes["support-reply"]
    assert {route.choose(f"u{n}")[0] for n in range(50)} == {"candidate"}
    rollouts.rollout_rollback(rollout=rollout, actor=None, reason="errors")
    invalidate_local()  # what the on-commit hook does in this process
    route = current_table().routes["support-reply"]
    assert {route.choose(f"u{n}")[0] for n in range(50)} == {"baseline"}
    assert route.other("baseline") is None  # no more shadow work either


def test_a_draft_cannot_serve_and_a_finished_rollout_cannot_move(rollout, release):
    with pytest.raises(Conflict, match="draft"):
        rollout_promote(rollout=rollout, actor=release, note="now")
    rollouts.rollout_abort(rollout=rollout, actor=None, reason="wrong candidate")
    with pytest.raises(Conflict, match="aborted"):
        rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    with pytest.raises(Conflict, match="aborted"):
        rollouts.rollout_rollback(rollout=rollout, actor=None, reason="x")


def test_the_loser_of_a_race_is_told_the_state(rollout):
    stale = Rollout.objects.get(pk=rollout.pk)
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    with pytest.raises(Conflict, match="shadow now"):
        rollouts.rollout_start_shadow(rollout=stale, actor=None)


def test_one_active_rollout_per_feature(rollout, feature, make_config):
    with pytest.raises(DomainError, match="already has an active rollout"):
        rollouts.rollout_create(feature=feature, candidate=make_config("v3"), actor=None)
    with pytest.raises(DomainError, match="active rollout"):
        registry.feature_switch_config(
            feature=feature, config=make_config("v4"), actor=None, reason="by hand"
        )


def test_a_rollback_needs_a_reason(rollout):
    with pytest.raises(ValidationError) as info:
        rollouts.rollout_rollback(rollout=rollout, actor=None, reason="")
    assert "reason" in info.value.message_dict


# --- pages -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["viewer", "reviewer", "release", "admin"])
def test_everyone_signed_in_reads_rollouts(client_for, rollout, who):
    client = client_for(who)
    assert client.get("/rollouts/").status_code == 200
    page = client.get(f"/rollouts/{rollout.code}/")
    assert page.status_code == 200
    can_act = who in ("release", "admin")
    # A draft serves nothing: abort (with a reason and a confirmation), never roll back.
    assert ("I want to abort this rollout" in page.content.decode()) is can_act
    assert "Roll back now" not in page.content.decode()


@pytest.mark.parametrize("who", [None, "viewer", "reviewer"])
@pytest.mark.parametrize("action", ["shadow", "promote", "rollback", "abort"])
def test_only_release_managers_act_on_rollouts(client_for, rollout, who, action):
    response = client_for(who).post(
        f"/rollouts/{rollout.code}/{action}/", {"note": "x", "reason": "x", "confirm": "yes"}
    )
    assert response.status_code in (302, 403)
    if who is None:
        assert response["Location"].startswith("/login/")
    else:
        assert response.status_code == 403
    rollout.refresh_from_db()
    assert rollout.status == "draft"


@pytest.mark.parametrize("who", [None, "viewer", "reviewer"])
def test_only_release_managers_start_upgrades(client_for, feature, candidate, who):
    response = client_for(who).post(
        "/rollouts/new/", {"feature": "support-reply", "candidate": candidate.code}
    )
    assert response.status_code in (302, 403)
    assert not Rollout.objects.exists()


def test_a_release_manager_runs_a_rollout_from_the_pages(client_for, feature, candidate):
    client = client_for("release")
    created = client.post(
        "/rollouts/new/",
        {
            "feature": "support-reply",
            "candidate": candidate.code,
            "shadow_sample_percent": "50",
            "shadow_daily_cap": "100",
            "review_sample_percent": "5",
            "double_review_percent": "20",
            "note": "try Nov snapshot",
        },
    )
    rollout = Rollout.objects.get()
    assert created["Location"] == f"/rollouts/{rollout.code}/"
    assert rollout.shadow_sample_bp == 5000
    assert (rollout.review_sample_bp, rollout.double_review_bp) == (500, 2000)
    assert rollout.blinded is False  # an unticked box
    pass_gate(rollout)
    client.post(f"/rollouts/{rollout.code}/shadow/")
    waive_minimums(rollout)
    client.post(f"/rollouts/{rollout.code}/promote/", {"note": "shadow looks fine", "stage": "0"})
    rollout.refresh_from_db()
    assert (rollout.status, rollout.candidate_percent) == ("canary", 1.0)
    refused = client.post(f"/rollouts/{rollout.code}/rollback/", {"reason": ""}, follow=True)
    assert "reason" in refused.content.decode()
    rollout.refresh_from_db()
    assert rollout.status == "canary"
    client.post(f"/rollouts/{rollout.code}/rollback/", {"reason": "bad tone"})
    rollout.refresh_from_db()
    assert rollout.status == "rolled_back"


def test_the_new_rollout_form_names_what_is_wrong(client_for, feature):
    page = client_for("release").post(
        "/rollouts/new/",
        {
            "feature": "support-reply",
            "candidate": feature.served_config.code,
            "shadow_sample_percent": "100",
            "shadow_daily_cap": "10",
            "review_sample_percent": "10",
            "double_review_percent": "10",
        },
    )
    assert page.status_code == 200
    assert "already serves" in page.content.decode()
    assert not Rollout.objects.exists()


def test_the_api_rolls_back_for_a_signed_in_release_manager_only(client_for, rollout):
    url = f"/api/v1/rollouts/{rollout.code}/rollback"
    viewer = client_for("viewer").post(url, {"reason": "x"}, content_type="application/json")
    assert viewer.status_code == 403
    missing = client_for("release").post(url, {}, content_type="application/json")
    assert missing.status_code == 400 and missing.json()["field"] == "reason"
    draft = client_for("release").post(url, {"reason": "x"}, content_type="application/json")
    assert draft.status_code == 409 and "abort it instead" in draft.json()["error"]
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    done = client_for("release").post(url, {"reason": "errors"}, content_type="application/json")
    assert done.status_code == 200 and done.json()["status"] == "rolled_back"
    again = client_for("release").post(url, {"reason": "errors"}, content_type="application/json")
    assert again.status_code == 409
