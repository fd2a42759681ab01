"""Reads that join, shared by pages and the API."""

from datetime import date, timedelta

from django.conf import settings
from django.db.models import QuerySet

from registry.models import Feature, ModelVersion


def features_with_configs() -> QuerySet[Feature]:
    return Feature.objects.select_related(
        "served_config__model_version__provider", "previous_config__model_version"
    ).order_by("key")


def versions_nearing_deprecation(*, today: date) -> QuerySet[ModelVersion]:
    """Versions that retire within the warning window (or already did) and still serve."""
    horizon = today + timedelta(days=settings.DEPRECATION_WARNING_DAYS)
    return (
        ModelVersion.objects.filter(deprecates__isnull=False, deprecates__lte=horizon)
        .select_related("provider", "successor")
        .order_by("deprecates")
    )
