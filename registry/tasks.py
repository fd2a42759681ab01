"""Celery tasks of the bottom layer; thin, as everywhere: no logic, call the service."""

from celery import shared_task

from registry.services import audit


@shared_task(name="registry.tasks.audit_checkpoint")
def audit_checkpoint() -> None:
    """Beat runs this every AUDIT_CHECKPOINT_SECONDS (settings.CELERY_BEAT_SCHEDULE). A missed
    run or a redelivery is harmless: a checkpoint only pins the head as it is now."""
    audit.audit_checkpoint()
