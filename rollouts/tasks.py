from celery import shared_task

from rollouts.services.retention import purge_expired


@shared_task
def purge_request_logs() -> dict:
    return purge_expired()
