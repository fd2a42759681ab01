"""A release manager gives a rollout a judge config (rollouts/services/rollouts.py, the judge
card of the rollout page)."""

import pytest
from django.core.exceptions import ValidationError

from registry.models import AuditEvent
from rollouts.services import rollouts


@pytest.fixture
def judge(make_config, make_version):
    return make_config("judge v1", make_version("gpt-4o-mini-2024-07-18"))


@pytest.fixture
def rollout(feature, candidate):
    return rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)


def test_a_rollout_created_with_a_judge_keeps_it_and_locks_it(feature, candidate, judge):
    rollout = rollouts.rollout_create(
        feature=feature, candidate=candidate, actor=None, judge_config=judge
    )
    judge.refresh_from_db()
    assert rollout.judge_config == judge
    assert judge.locked  # what judged the pairs stays what it was


def test_the_baseline_or_candidate_cannot_judge_itself(feature, candidate, rollout):
    with pytest.raises(ValidationError) as raised:
        rollouts.rollout_set_judge(rollout=rollout, judge_config=candidate, actor=None)
    assert "judge_config" in raised.value.message_dict
    with pytest.raises(ValidationError):
        rollouts.rollout_set_judge(rollout=rollout, judge_config=rollout.baseline, actor=None)


def test_setting_and_removing_the_judge_is_audited(rollout, judge, release):
    rollouts.rollout_set_judge(rollout=rollout, judge_config=judge, actor=release, reason="κ")
    rollout.refresh_from_db()
    assert rollout.judge_config == judge
    event = AuditEvent.objects.filter(action="rollout.set_judge").latest("id")
    assert (event.before["judge_config"], event.after["judge_config"]) == (None, judge.pk)
    rollouts.rollout_set_judge(rollout=rollout, judge_config=None, actor=release)
    rollout.refresh_from_db()
    assert rollout.judge_config is None


def test_the_rollout_page_sets_the_judge_for_release_managers_only(client_for, rollout, judge):
    url = f"/rollouts/{rollout.code}/judge/"
    page = client_for("release").get(f"/rollouts/{rollout.code}/")
    assert b"Set judge" in page.content and str(judge.code).encode() in page.content
    assert b"Set judge" not in client_for("viewer").get(f"/rollouts/{rollout.code}/").content
    assert client_for("viewer").post(url, {"judge_config": str(judge.code)}).status_code == 403
    rollout.refresh_from_db()
    assert rollout.judge_config is None
    response = client_for("release").post(url, {"judge_config": str(judge.code)})
    assert response.status_code == 302
    rollout.refresh_from_db()
    assert rollout.judge_config == judge
    page = client_for("release").get(f"/rollouts/{rollout.code}/")
    assert b"Judge config <strong>judge v1</strong>" in page.content
