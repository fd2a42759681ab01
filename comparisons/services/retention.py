from datetime import datetime

from django.db.models import QuerySet

from comparisons.models import ShadowPair
from traffic.retention import purge_request_logs, retention_cutoff


def purgeable_pairs(*, before: datetime) -> QuerySet[ShadowPair]:
    """Pairs older than `before` that carry no label: labelled pairs are the review's evidence
    and are kept (their input was redacted before it was stored)."""
    return ShadowPair.objects.filter(created__lt=before, label_count=0)


def purge_expired(*, batch: int = 5000) -> dict:
    """Delete the pairs nobody needs any more, then the expired request logs behind them.
    Pairs first: a pair outlives its log only when it is labelled."""
    cutoff = retention_cutoff()
    pairs = 0
    while ids := list(purgeable_pairs(before=cutoff).values_list("pk", flat=True)[:batch]):
        pairs += purgeable_pairs(before=cutoff).filter(pk__in=ids).delete()[0]
    logs = purge_request_logs(before=cutoff, batch=batch)
    return {"request_logs": logs, "pairs": pairs}
