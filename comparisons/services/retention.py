from datetime import datetime, timedelta

from django.db.models import QuerySet

from comparisons.batches import STAGED_IMPORT_HOURS, ImportBatch
from comparisons.models import ShadowPair
from registry.services.audit import db_now
from traffic.retention import purge_request_logs, retention_cutoff


def purgeable_pairs(*, before: datetime) -> QuerySet[ShadowPair]:
    """Pairs older than `before` that carry no label: labelled pairs are the review's evidence
    and are kept (their input was redacted before it was stored)."""
    return ShadowPair.objects.filter(created__lt=before, label_count=0)


def purge_expired(*, batch: int = 5000) -> dict[str, int]:
    """Delete the pairs nobody needs any more, then the expired request logs behind them, and
    previews of imports nobody confirmed. Pairs first: a pair outlives its log only when it is
    labelled."""
    cutoff = retention_cutoff()
    pairs = 0
    while ids := list(purgeable_pairs(before=cutoff).values_list("pk", flat=True)[:batch]):
        pairs += purgeable_pairs(before=cutoff).filter(pk__in=ids).delete()[0]
    logs = purge_request_logs(before=cutoff, batch=batch)
    staged = ImportBatch.objects.filter(
        status=ImportBatch.Status.PENDING,
        created__lt=db_now() - timedelta(hours=STAGED_IMPORT_HOURS),
    ).delete()[0]
    return {"request_logs": logs, "pairs": pairs, "staged_imports": staged}
