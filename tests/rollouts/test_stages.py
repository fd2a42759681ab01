"""The rollout state machine (rollouts/services/plan.py) and the stage plan (stages.py)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from registry.models import Rollout
from rollouts.models import Stage
from rollouts.services import rollouts
from rollouts.services.plan import ACTIONS, action_refusal, allowed_actions
from rollouts.services.stages import (
    PlannedStage,
    active_stage,
    duration_text,
    stage_evidence_window,
    stage_plan_update,
)
from tests.gates import pass_gate
from tests.stages import serve_candidate

S = Rollout.Status

# status -> the actions a release manager may take there (everything else is refused).
TABLE = {
    S.DRAFT: {"gate", "candidate", "judge", "abort"},
    S.GATE: {"candidate", "judge", "shadow", "abort"},  # gate passed: no re-run, no ack
    S.SHADOW: {"judge", "plan", "promote", "pause", "rollback", "abort"},
    S.CANARY: {"judge", "plan", "promote", "pause", "rollback"},
    S.COMPLETED: set(),  # revert needs the feature still on the candidate and pinned
    S.ROLLED_BACK: set(),
    S.ABORTED: set(),
}


@pytest.fixture
def rollout(feature, make_config, make_version):
    candidate = make_config("support v2", make_version("gpt-4o-2024-11-20"))
    return rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)


def _put(rollout: Rollout, status: str) -> Rollout:
    if status == S.DRAFT:
        return rollout
    pass_gate(rollout)
    if status == S.GATE:
        return rollout
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    if status == S.CANARY:
        serve_candidate(rollout, 5)
    elif status in (S.ROLLED_BACK, S.ABORTED) or status == S.COMPLETED:
        Rollout.objects.filter(pk=rollout.pk).update(status=status)
    rollout.refresh_from_db()
    return rollout


@pytest.mark.parametrize("status", list(TABLE))
def test_the_state_machine_allows_exactly_its_table(rollout, release, status):
    rollout = _put(rollout, status)
    assert set(allowed_actions(rollout, release)) == TABLE[status]
    for action in ACTIONS:
        refusal = action_refusal(rollout, release, action)
        if action in TABLE[status]:
            assert refusal is None
        else:  # every refusal says why in words
            assert refusal and len(refusal) > 15, (action, refusal)


@pytest.mark.parametrize("who", ["viewer", "reviewer"])
def test_readers_may_take_no_action_anywhere(rollout, cast, who):
    _put(rollout, S.CANARY)
    assert allowed_actions(rollout, cast[who]) == []
    assert (
        action_refusal(rollout, cast[who], "promote") == "Only a release manager acts on rollouts."
    )


def test_no_rollback_on_a_draft_and_abort_needs_a_reason(rollout, release):
    assert action_refusal(rollout, release, "rollback") == (
        "Nothing runs on production traffic yet: abort instead."
    )
    with pytest.raises(ValidationError) as info:
        rollouts.rollout_abort(rollout=rollout, actor=release, reason=" ")
    assert "reason" in info.value.message_dict
    assert action_refusal(_put(rollout, S.CANARY), release, "abort") == (
        "The candidate serves users already: roll back instead."
    )


def test_a_paused_rollout_offers_resume_not_promote(rollout, release):
    _put(rollout, S.SHADOW)
    Rollout.objects.filter(pk=rollout.pk).update(paused=rollout.created)
    rollout.refresh_from_db()
    assert "resume" in allowed_actions(rollout, release)
    assert action_refusal(rollout, release, "promote") == (
        "The rollout is paused: resume it before promoting."
    )


def test_shadow_writes_the_default_plan_and_starts_its_first_stage(rollout):
    _put(rollout, S.SHADOW)
    stages = list(Stage.objects.filter(rollout=rollout))
    assert [s.percent for s in stages] == [0, 1, 5, 10, 25, 50, 100]
    assert stages[1].min_duration == timedelta(hours=24)  # the first canary stage
    assert [s.status for s in stages[:2]] == ["active", "planned"]
    start, end = stage_evidence_window(rollout)
    assert start == stages[0].started and end is None


def test_the_plan_is_edited_until_a_stage_starts(rollout, release):
    _put(rollout, S.SHADOW)
    rows = [PlannedStage(10, timedelta(hours=2), 50), PlannedStage(100, timedelta(0), 10)]
    stage_plan_update(rollout=rollout, rows=rows, actor=release, reason="faster")
    stages = list(Stage.objects.filter(rollout=rollout))
    assert [(s.percent, s.status) for s in stages] == [
        (0, "active"),
        (10, "planned"),
        (100, "planned"),
    ]
    assert stages[1].min_samples == 50 and stages[1].min_duration == timedelta(hours=2)


@pytest.mark.parametrize(
    ("rows", "field", "words"),
    [
        ([(5, 1, 1), (5, 1, 1), (100, 1, 1)], "stages[2].percent", "does not grow"),
        ([(5, 1, 1), (50, 1, 1)], "stages[2].percent", "ends at 100|serves 100%"),
        ([(150, 1, 1)], "stages[1].percent", "at most 100"),
        ([(5, -1, 1), (100, 1, 1)], "stages[1].min_duration", "0 hours or more"),
        ([(5, 1, -3), (100, 1, 1)], "stages[1].min_samples", "0 requests or more"),
        ([], "stages", "100% stage"),
    ],
)
def test_a_bad_plan_names_the_field(rollout, release, rows, field, words):
    _put(rollout, S.SHADOW)
    planned = [PlannedStage(p, timedelta(hours=h), n) for p, h, n in rows]
    with pytest.raises(ValidationError) as info:
        stage_plan_update(rollout=rollout, rows=planned, actor=release)
    assert field in info.value.message_dict
    import re

    assert re.search(words, " ".join(info.value.message_dict[field]))
    assert Stage.objects.filter(rollout=rollout).count() == 7  # nothing changed


def test_the_plan_form_on_the_rollout_page_names_the_bad_field(client_for, rollout):
    _put(rollout, S.SHADOW)
    client = client_for("release")
    page = client.post(
        f"/rollouts/{rollout.code}/plan/",
        {"percent_1": "5", "hours_1": "1", "percent_2": "3", "hours_2": "1"},
        follow=True,
    )
    assert "stages[2].percent" in page.content.decode()
    ok = client.post(
        f"/rollouts/{rollout.code}/plan/",
        {"percent_1": "20", "hours_1": "0.5", "samples_1": "10", "percent_2": "100"},
        follow=True,
    )
    assert "Stage plan saved." in ok.content.decode()
    assert [s.percent for s in Stage.objects.filter(rollout=rollout)] == [0, 20, 100]
    assert Stage.objects.get(rollout=rollout, position=1).min_duration == timedelta(minutes=30)


def test_the_rollout_ending_skips_the_stages_that_never_ran(rollout):
    _put(rollout, S.CANARY)
    rollouts.rollout_rollback(rollout=rollout, actor=None, reason="errors")
    statuses = [s.status for s in Stage.objects.filter(rollout=rollout)]
    assert statuses[:3] == ["done", "done", "done"] and set(statuses[3:]) == {"skipped"}
    assert active_stage(rollout) is None


def test_durations_read_as_plain_words():
    assert duration_text(timedelta(hours=3, minutes=10)) == "3 h 10 min"
    assert duration_text(timedelta(days=1, hours=2)) == "1 d 2 h"
    assert duration_text(timedelta(minutes=45)) == "45 min"
    assert duration_text(timedelta(seconds=30)) == "30 s"
