"""No GET changes the database, with one documented exception: showing a pair in the review
queue reserves it (comparisons/views.py review_queue), a courtesy lock that expires."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from traffic.routing import invalidate_local

WRITE = re.compile(r'^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


def _pages(pair) -> list[str]:
    rollout, feature = pair.rollout, pair.rollout.feature
    return [
        "/",
        "/features/",
        f"/features/{feature.key}/",
        "/rollouts/",
        "/rollouts/new/",
        f"/rollouts/{rollout.code}/",
        "/review/",
        "/review/progress/",
        "/pairs/",
        f"/pairs/{pair.code}/",
        "/audit/",
        "/audit/?format=csv",
        f"/audit/served/?feature={feature.key}&at=2026-01-01T00:00:00Z",
        "/admin/",
        "/admin/rollouts/provider/",
        "/admin/rollouts/apitoken/",
        "/admin/rollouts/auditevent/",
        f"/api/v1/features/{feature.key}/assignment?unit=u1",
        f"/api/v1/features/{feature.key}/served",
        f"/api/v1/rollouts/{rollout.code}",
        "/api/v1/openapi.json",
    ]


def _written_tables(client, url: str) -> set[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return {m.group(2) for q in captured.captured_queries if (m := WRITE.match(q["sql"]))}


@pytest.mark.django_db
def test_no_get_page_writes_except_the_review_reservation(client_for, make_pair):
    pair = make_pair(candidate="A different answer.")
    invalidate_local()
    client = client_for("admin")  # every role's pages
    client.get("/")  # the session and last_login are written at sign-in, not here
    writes = {url: _written_tables(client, url) for url in _pages(pair)}
    assert writes.pop("/review/") == {"comparisons_reservation"}
    assert {url: tables for url, tables in writes.items() if tables} == {}
