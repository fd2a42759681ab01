"""Retention: request logs (raw production inputs and outputs) live REQUEST_LOG_RETENTION_DAYS."""

from datetime import datetime, timedelta

from django.conf import settings

from registry.models import RequestLog
from registry.services.audit import db_now


def retention_cutoff() -> datetime:
    return db_now() - timedelta(days=settings.REQUEST_LOG_RETENTION_DAYS)


def purge_request_logs(*, before: datetime, batch: int = 5000) -> int:
    """Delete request logs older than `before` (their feedback and shadow jobs go with them).
    Batched, so a large purge never holds long locks."""
    logs = 0
    while ids := list(
        RequestLog.objects.filter(created__lt=before).values_list("pk", flat=True)[:batch]
    ):
        logs += RequestLog.objects.filter(pk__in=ids).delete()[1].get("rollouts.RequestLog", 0)
    return logs
