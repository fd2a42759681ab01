"""Two release managers promoting at once on PostgreSQL: exactly one promotion."""

import threading

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection

from registry.errors import Conflict
from registry.models import AuditEvent, Rollout
from registry.roles import Role
from rollouts.models import Approval
from rollouts.services import rollouts
from rollouts.services.promotion import rollout_promote
from tests.gates import pass_gate
from tests.stages import waive_minimums


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_release_managers_promoting_at_once_make_one_promotion(feature, make_config):
    rollout = rollouts.rollout_create(feature=feature, candidate=make_config("v2"), actor=None)
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    waive_minimums(rollout)
    group, _ = Group.objects.get_or_create(name=Role.RELEASE_MANAGER)
    managers = []
    for name in ("ada", "bob"):
        user = User.objects.create_user(name)
        user.groups.add(group)
        managers.append(user)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def promote(user: User) -> None:
        seen = Rollout.objects.get(pk=rollout.pk)  # both read the shadow stage first
        try:
            barrier.wait()
            rollout_promote(rollout=seen, actor=user, note=f"{user.username} says go")
            outcomes.append("ok")
        except Conflict as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=promote, args=(u,)) for u in managers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[-1] == "ok" and outcomes.count("ok") == 1, outcomes
    loser = next(o for o in outcomes if o != "ok")
    assert loser.startswith("Already promoted to 1% by ")
    assert Rollout.objects.get(pk=rollout.pk).candidate_bp == 100
    assert Approval.objects.count() == 1
    assert AuditEvent.objects.filter(action="rollout.promote").count() == 1
