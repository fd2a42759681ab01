"""Promotion between stages: note, evidence, override, two-person rule, red panel, pause."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from comparisons.models import Label
from registry.errors import Conflict, DomainError
from registry.models import AuditEvent, RequestLog, Rollout
from rollouts.models import Approval, Stage
from rollouts.services import rollouts
from rollouts.services.promotion import rollout_pause, rollout_promote, rollout_resume
from rollouts.services.stages import active_stage
from tests.gates import pass_gate
from tests.stages import waive_minimums
from traffic.metrics import record_minutes


@pytest.fixture
def rollout(feature, make_config, make_version):
    candidate = make_config("support v2", make_version("gpt-4o-2024-11-20"))
    made = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    pass_gate(made)
    return rollouts.rollout_start_shadow(rollout=made, actor=None)


def _started(rollout, ago: timedelta) -> Stage:
    stage = active_stage(rollout)
    Stage.objects.filter(pk=stage.pk).update(started=timezone.now() - ago)
    stage.refresh_from_db()
    return stage


def _logs(rollout, variant: str, n: int) -> None:
    config = rollout.candidate if variant == "candidate" else rollout.baseline
    rows = [
        RequestLog.objects.create(
            feature=rollout.feature,
            request_id=f"{variant}-{i}-{rollout.candidate_bp}",
            source="ingest",
            config=config,
            variant=variant,
            rollout=rollout,
            messages=[{"role": "user", "content": "hi"}],
            output="ok",
            latency_ms=100,
            started=timezone.now(),
        )
        for i in range(n)
    ]
    record_minutes(rows)


def _to_one_percent(rollout, release):
    waive_minimums(rollout)
    rollout_promote(rollout=rollout, actor=release, note="shadow is fine")
    assert rollout.candidate_percent == 1.0


def test_a_promotion_moves_the_stage_the_split_and_records_the_panel(rollout, release, feature):
    _to_one_percent(rollout, release)
    stages = list(Stage.objects.filter(rollout=rollout))
    assert [s.status for s in stages[:3]] == ["done", "active", "planned"]
    approval = Approval.objects.get()
    assert (approval.approver, approval.note) == (release, "shadow is fine")
    assert {i["key"] for i in approval.evidence["items"]} >= {"gate", "review", "judge"}
    assert approval.evidence["red"] is False
    event = AuditEvent.objects.filter(action="rollout.promote").get()
    assert (event.reason, event.after["candidate_bp"]) == ("shadow is fine", 100)
    split = {(s.config.name, s.basis_points) for s in feature.serving_changes.last().shares.all()}
    assert split == {("support v1", 9900), ("support v2", 100)}


def test_a_promotion_needs_a_note(rollout, release):
    with pytest.raises(ValidationError) as info:
        rollout_promote(rollout=rollout, actor=release, note="  ")
    assert "note" in info.value.message_dict


def test_insufficient_evidence_says_what_is_missing(rollout, release, admin_user):
    _to_one_percent(rollout, release)
    stage = _started(rollout, timedelta(hours=20, minutes=49, seconds=30))  # 3 h 10 min to go
    Stage.objects.filter(pk=stage.pk).update(min_duration=timedelta(hours=24), min_samples=500)
    _logs(rollout, "baseline", 500)
    _logs(rollout, "candidate", 380)
    with pytest.raises(DomainError) as info:
        rollout_promote(rollout=rollout, actor=release, note="now")
    message = str(info.value)
    assert "Insufficient evidence: 3 h 10 min and 120 more candidate requests to go." in message
    assert "An admin may override" in message
    assert rollout.candidate_percent == 1.0
    # A release manager cannot override; an admin can, with a reason that is audited.
    with pytest.raises(DomainError, match="Only an admin"):
        rollout_promote(rollout=rollout, actor=release, note="now", override_reason="urgent")
    rollout_promote(rollout=rollout, actor=admin_user, note="now", override_reason="vendor EOL")
    assert rollout.candidate_percent == 5.0
    override = AuditEvent.objects.get(action="approval.override")
    assert override.reason == "vendor EOL"
    assert "3 h 10 min" in " ".join(override.after["overruled"])
    assert Approval.objects.get(override_reason="vendor EOL").approver == admin_user


def test_met_minimums_promote_without_override(rollout, release):
    _to_one_percent(rollout, release)
    stage = _started(rollout, timedelta(hours=25))
    Stage.objects.filter(pk=stage.pk).update(min_samples=3)
    _logs(rollout, "baseline", 3)
    _logs(rollout, "candidate", 3)
    rollout_promote(rollout=rollout, actor=release, note="a day of canary")
    assert rollout.candidate_percent == 5.0


def test_a_stale_page_is_told_who_promoted(rollout, release, admin_user):
    waive_minimums(rollout)
    stale = Rollout.objects.get(pk=rollout.pk)
    rollout_promote(rollout=rollout, actor=admin_user, note="go")
    with pytest.raises(Conflict, match="Already promoted to 1% by admin"):
        rollout_promote(rollout=stale, actor=release, note="go too")
    fresh = Rollout.objects.get(pk=rollout.pk)
    with pytest.raises(Conflict, match="Already promoted to 1% by admin"):
        rollout_promote(rollout=fresh, actor=release, note="go", expected_position=0)
    assert Rollout.objects.get(pk=rollout.pk).candidate_bp == 100


def test_the_two_person_rule_needs_a_second_release_manager(rollout, feature, release, cast):
    from django.contrib.auth.models import Group, User

    from registry.roles import Role

    feature.two_person_rule = True
    feature.save(update_fields=["two_person_rule"])
    Rollout.objects.filter(pk=rollout.pk).update(created_by=release)
    rollout.refresh_from_db()
    waive_minimums(rollout)
    rollout_promote(rollout=rollout, actor=release, note="I started it")
    assert rollout.candidate_bp == 0  # the starter alone does not promote
    assert Approval.objects.count() == 1
    with pytest.raises(Conflict, match="second release manager"):
        rollout_promote(rollout=rollout, actor=release, note="again")
    second = User.objects.create_user("second")
    second.groups.add(Group.objects.get(name=Role.RELEASE_MANAGER))
    rollout_promote(rollout=rollout, actor=second, note="agreed")
    assert rollout.candidate_percent == 1.0
    assert set(Approval.objects.values_list("approver__username", flat=True)) == {
        "release",
        "second",
    }


def test_a_red_panel_blocks_promotion_until_an_admin_overrides(
    shadow_rollout, release, admin_user, make_pair
):
    rollout = shadow_rollout
    waive_minimums(rollout)
    pair = make_pair()
    Label.objects.create(pair=pair, reviewer=release, verdict="worse", critical=True)
    with pytest.raises(DomainError, match="Red on the decision panel: 1 critical finding"):
        rollout_promote(rollout=rollout, actor=release, note="go")
    assert rollout.candidate_bp == 0
    rollout_promote(rollout=rollout, actor=admin_user, note="go", override_reason="known issue")
    assert rollout.candidate_percent == 1.0
    approval = Approval.objects.get()
    assert approval.evidence["red"] is True
    assert any("critical finding" in b for b in approval.evidence["blockers"])


def test_a_paused_rollout_does_not_promote_and_resume_restarts_the_stage(rollout, release):
    _to_one_percent(rollout, release)
    stage = _started(rollout, timedelta(hours=30))
    with pytest.raises(ValidationError):
        rollout_pause(rollout=rollout, actor=release, reason="")
    rollout_pause(rollout=rollout, actor=release, reason="looking at a ticket")
    with pytest.raises(DomainError, match="paused: resume"):
        rollout_promote(rollout=rollout, actor=release, note="go")
    with pytest.raises(Conflict, match="paused already"):
        rollout_pause(rollout=rollout, actor=release, reason="twice")
    rollout_resume(rollout=rollout, actor=release)
    restarted = Stage.objects.get(pk=stage.pk).started
    assert restarted > stage.started + timedelta(hours=29)
    assert rollout.paused is None
    assert list(
        AuditEvent.objects.filter(action__in=["rollout.pause", "rollout.resume"])
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["rollout.pause", "rollout.resume"]


def test_the_last_stage_is_completed_not_promoted(rollout, release):
    from tests.stages import serve_candidate

    serve_candidate(rollout, 100)
    with pytest.raises(DomainError, match="complete the rollout"):
        rollout_promote(rollout=rollout, actor=release, note="more")
