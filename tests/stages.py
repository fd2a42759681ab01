"""Test helpers for rollouts that must promote through their stage plan (issue 10).

`serve_candidate(rollout, percent)` promotes a rollout in shadow or canary stage by stage, as a
release manager would, until the candidate serves `percent`: the stage minimums are waived
(0 h, 0 samples) and `percent` is added to the plan if it is not a stage. Tests of routing, the
gateway or ingest are not about the stage plan (tests/rollouts/test_promotion*.py are)."""

from datetime import timedelta

from django.contrib.auth.models import Group, User

from registry.models import Rollout
from registry.roles import Role
from rollouts.models import Stage
from rollouts.services.promotion import rollout_promote
from rollouts.services.stages import PlannedStage, active_stage, stage_plan_update


def promoter() -> User:
    user, _ = User.objects.get_or_create(username="promoter")
    user.groups.add(Group.objects.get_or_create(name=Role.RELEASE_MANAGER)[0])
    return user


def waive_minimums(rollout: Rollout) -> None:
    Stage.objects.filter(rollout=rollout).exclude(status=Stage.Status.DONE).update(
        min_duration=timedelta(0), min_samples=0
    )


def serve_candidate(rollout: Rollout, percent: float, *, approver: User | None = None) -> Rollout:
    """Promote `rollout` until the candidate serves `percent`; returns it refreshed."""
    approver = approver or promoter()
    current = active_stage(rollout)
    assert current is not None, "serve_candidate needs a rollout in shadow or canary"
    planned = Stage.objects.filter(rollout=rollout, status=Stage.Status.PLANNED)
    percents = sorted({s.percent for s in planned} | {float(percent), 100.0})
    rows = [PlannedStage(p, timedelta(0), 0) for p in percents if p > current.percent]
    stage_plan_update(rollout=rollout, rows=rows, actor=None)
    waive_minimums(rollout)
    while rollout.candidate_percent < percent:
        rollout_promote(rollout=rollout, actor=approver, note="test promotion")
    return rollout
