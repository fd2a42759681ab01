"""Retention: request logs (raw production inputs and outputs) live REQUEST_LOG_RETENTION_DAYS."""

from datetime import timedelta

from django.conf import settings

from comparisons.services.retention import purgeable_pairs
from rollouts.models import RequestLog

from .audit import db_now


def purge_expired(*, batch: int = 5000) -> dict:
    """Delete expired request logs (their feedback and shadow jobs go with them) and the pairs
    that nobody needs any more. Batched, so a large purge never holds long locks."""
    cutoff = db_now() - timedelta(days=settings.REQUEST_LOG_RETENTION_DAYS)
    pairs = logs = 0
    while ids := list(purgeable_pairs(before=cutoff).values_list("pk", flat=True)[:batch]):
        pairs += purgeable_pairs(before=cutoff).filter(pk__in=ids).delete()[0]
    while ids := list(
        RequestLog.objects.filter(created__lt=cutoff).values_list("pk", flat=True)[:batch]
    ):
        logs += RequestLog.objects.filter(pk__in=ids).delete()[1].get("rollouts.RequestLog", 0)
    return {"request_logs": logs, "pairs": pairs}
