"""Celery tasks of rollout control; thin: they call the service."""

from celery import shared_task

# Registers the judge's, the guardrails' and the verdict minutes' tasks with Celery.
from rollouts import judge_tasks, tasks_guardrails, tasks_verdicts  # noqa: F401
from rollouts.services.deprecations import deprecation_warnings_record


@shared_task(name="rollouts.tasks.deprecation_warnings")
def deprecation_warnings() -> int:
    """Daily (settings.CELERY_BEAT_SCHEDULE). Idempotent within a UTC day, so a redelivery or a
    beat restart that runs it twice writes nothing more."""
    return deprecation_warnings_record()
