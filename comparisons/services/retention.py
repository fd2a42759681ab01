from datetime import datetime

from django.db.models import QuerySet

from comparisons.models import ShadowPair


def purgeable_pairs(*, before: datetime) -> QuerySet[ShadowPair]:
    """Pairs older than `before` that carry nothing worth keeping.
    (Labels arrive with the review queue; labelled pairs will be excluded here.)"""
    return ShadowPair.objects.filter(created__lt=before)
