"""Thin Celery tasks for the judge on shadow pairs (rollouts/judging.py holds the logic).

Not a `tasks.py`, so Celery's autodiscovery does not find it by itself: rollouts/tasks.py
imports it, which registers both tasks in every worker.
"""

from celery import shared_task

from registry.models import Rollout
from rollouts.judging import judge_rollout_pairs, pending_pairs


# acks_late: the unique (pair, judge) row makes a redelivery harmless, and a worker lost
# mid-batch leaves its pairs pending for the next run.
@shared_task(name="rollouts.judge_tasks.judge_pairs", acks_late=True, reject_on_worker_lost=True)
def judge_pairs(rollout_id: int) -> int:
    rollout = (
        Rollout.objects.select_related("judge_config__model_version__provider")
        .filter(pk=rollout_id)
        .first()
    )
    if rollout is None:
        return 0
    return judge_rollout_pairs(rollout=rollout)


@shared_task(name="rollouts.judge_tasks.judge_pending_pairs")
def judge_pending_pairs() -> int:
    """One judge_pairs message per reviewing rollout with a judge and unjudged pairs."""
    sent = 0
    rollouts = Rollout.objects.filter(
        status__in=Rollout.REVIEWING, judge_config__isnull=False
    ).only("id", "judge_config_id")
    for rollout in rollouts:
        if pending_pairs(rollout).exists():
            judge_pairs.apply_async((rollout.pk,))
            sent += 1
    return sent
