"""Celery tasks of the guardrails; thin: they load ids and call the service."""

import logging

from celery import shared_task
from django.db import DatabaseError

from registry.models import Rollout
from rollouts.guardrails.evaluate import canary_rollouts, guardrails_evaluate

logger = logging.getLogger("rollouts.guardrails")


@shared_task(name="rollouts.tasks_guardrails.guardrails_evaluate_all")
def guardrails_evaluate_all() -> int:
    """Every minute (settings.CELERY_BEAT_SCHEDULE): one evaluation per canary (paused ones
    included: they still serve the candidate), each in its own transaction, so one rollout's
    fault never holds up the others. Idempotent (an ended rollout is left alone), so a
    redelivery or an overlap is harmless. Returns how many rollouts were evaluated."""
    evaluated = 0
    for rollout_id in canary_rollouts():
        try:
            rollout = Rollout.objects.get(pk=rollout_id)
            guardrails_evaluate(rollout)
        except (DatabaseError, Rollout.DoesNotExist):
            logger.exception("guardrails: rollout %s could not be evaluated", rollout_id)
            continue
        evaluated += 1
    return evaluated
