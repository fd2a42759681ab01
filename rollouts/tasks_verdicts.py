"""Celery task of the verdict minutes; thin: it calls the service."""

from celery import shared_task

from rollouts.verdict_rollup import verdict_minutes_catch_up


@shared_task(name="rollouts.tasks_verdicts.roll_up_verdicts")
def roll_up_verdicts() -> int:
    """Every minute (settings.CELERY_BEAT_SCHEDULE): recount the verdict minutes whose labels,
    adjudications or judgements changed since the last run. Idempotent (absolute recounts
    under one locked mark), so a redelivery or an overlap is harmless. Returns how many
    rollouts were refreshed."""
    return verdict_minutes_catch_up()
