"""CI must really run on PostgreSQL and Redis: a silent fallback to SQLite fails the run."""

import os

import pytest
from django.conf import settings
from django.db import connection

from rollout_site.celery import app as celery_app

UNDER_CI = os.environ.get("CI") == "true"


@pytest.mark.skipif(not UNDER_CI, reason="CI=true pins PostgreSQL; locally any engine is fine")
def test_ci_runs_on_postgresql(db):
    assert connection.vendor == "postgresql", "CI fell back to SQLite: set DATABASE_URL"


@pytest.mark.skipif(not UNDER_CI, reason="CI=true pins Redis; locally any broker is fine")
def test_ci_runs_on_a_reachable_redis_broker():
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=2)
        assert conn.connected


def test_celery_reads_its_settings_from_django():
    assert celery_app.conf.broker_url == settings.CELERY_BROKER_URL
    assert celery_app.conf.task_serializer == "json"
    assert celery_app.conf.accept_content == ["json"]
    assert celery_app.conf.task_time_limit == settings.CELERY_TASK_TIME_LIMIT
