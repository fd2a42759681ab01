"""Celery tasks of the bottom layer; thin, as everywhere: no logic, call the service."""

import logging

from celery import shared_task
from django.conf import settings

from registry import catalog
from registry.services import audit

logger = logging.getLogger("registry.catalog")


@shared_task(name="registry.tasks.audit_checkpoint")
def audit_checkpoint() -> None:
    """Beat runs this every AUDIT_CHECKPOINT_SECONDS (settings.CELERY_BEAT_SCHEDULE). A missed
    run or a redelivery is harmless: a checkpoint only pins the head as it is now."""
    audit.audit_checkpoint()


@shared_task(name="registry.tasks.import_catalog")
def import_catalog() -> str:
    """Daily (settings.CELERY_BEAT_SCHEDULE): the model catalog at MODEL_CATALOG_SOURCE, when
    one is configured. A catalog that cannot be read is logged and left for tomorrow: a
    permanent problem (a bad URL) is not retried, and a passing outage fixes itself."""
    source = settings.MODEL_CATALOG_SOURCE
    if not source:
        return "idle: MODEL_CATALOG_SOURCE is empty"
    try:
        parsed = catalog.catalog_parse(catalog.catalog_read(source))
    except catalog.CatalogError as exc:
        logger.error("model catalog import from %s failed: %s", source, exc)
        return f"failed: {exc}"
    summary = catalog.catalog_apply(catalog=parsed, actor=None, source=source)
    for problem in summary.problems:
        logger.warning("model catalog entry skipped: %s", problem)
    logger.info("model catalog import from %s: %s", source, summary)
    return str(summary)
