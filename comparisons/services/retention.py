from datetime import datetime

from django.db.models import QuerySet

from comparisons.models import ShadowPair


def purgeable_pairs(*, before: datetime) -> QuerySet[ShadowPair]:
    """Pairs older than `before` that carry no label: labelled pairs are the review's evidence
    and are kept (their input was redacted before it was stored)."""
    return ShadowPair.objects.filter(created__lt=before, label_count=0)
