"""No GET changes the database, with one documented exception: showing a pair in the review
queue reserves it (comparisons/views.py review_queue), a courtesy lock that expires.

Two sweeps: every page of the hand list below as the admin, on rows made the way each page
expects them; and every GET cell of the authorization matrix (tests/authz/matrix.py) for every
actor, which also checks each cell's declared outcome."""

import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.authz.matrix import GET_ROWS
from tests.authz.runner import assert_api_error_shape, describe, outcome, send
from tests.authz.symbols import ACTORS, OK
from tests.authz.world import authz_world  # noqa: F401 - the matrix's world, once per module
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


def _eval_pages(pair, reviewer) -> list[str]:
    """The Evaluations, gate, campaign and golden pages, on real rows of each."""
    from comparisons.models import Label
    from evaluations.services.gates import gate_start
    from registry.models import ModelVersion
    from rollouts.services.campaigns import campaign_create
    from tests.gates import make_suite

    rollout, feature = pair.rollout, pair.rollout.feature
    suite = make_suite(feature, cases=[("refund intent", "format", True)])
    gate = gate_start(feature=feature, candidate=rollout.candidate, actor=None)
    run = gate.runs.get(side="candidate")
    Label.objects.create(pair=pair, reviewer=reviewer, verdict=Label.Verdict.BETTER)
    to_version = ModelVersion.objects.create(
        provider=feature.served_config.model_version.provider, model_id="gpt-4.1-2025-04-14"
    )
    campaign = campaign_create(
        from_version=feature.served_config.model_version,
        to_version=to_version,
        actor=None,
        start_gates=False,
    )
    return [
        "/evaluations/",
        f"/evaluations/suites/{suite.code}/",
        f"/evaluations/suites/{suite.code}/cases.jsonl",
        f"/evaluations/runs/{run.code}/",
        f"/evaluations/runs/{run.code}/export.csv",
        f"/evaluations/runs/{run.code}/export.json",
        f"/rollouts/{rollout.code}/gate-report/",
        "/campaigns/",
        f"/campaigns/{campaign.code}/",
        f"/features/{feature.key}/golden/",
        f"/pairs/{pair.code}/add-to-suite/",
        f"/api/v1/gates/{gate.code}",
    ]


def _written_tables(client, url: str) -> set[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return {m.group(2) for q in captured.captured_queries if (m := WRITE.match(q["sql"]))}


@pytest.mark.django_db
def test_no_get_page_writes_except_the_review_reservation(client_for, make_pair, cast):
    # Two labels wanted: one by a reviewer (the golden page needs a verdict), one left for the
    # admin's review queue to reserve.
    pair = make_pair(candidate="A different answer.", labels_wanted=2)
    eval_pages = _eval_pages(pair, cast["reviewer"])
    invalidate_local()
    client = client_for("admin")  # every role's pages
    client.get("/")  # the session and last_login are written at sign-in, not here
    writes = {url: _written_tables(client, url) for url in _pages(pair) + eval_pages}
    assert writes.pop("/review/") == {"comparisons_reservation"}
    assert {url: tables for url, tables in writes.items() if tables} == {}


@pytest.mark.parametrize("row", GET_ROWS, ids=[row.id for row in GET_ROWS])
def test_no_get_cell_of_the_matrix_writes(authz_world, db, row):  # noqa: F811
    """One test per row, every actor in it, each in a savepoint rolled back after its request
    (the reviewer's reservation must not change what the admin is shown)."""
    wrong = []
    for actor in ACTORS:
        with transaction.atomic():
            response, written = send(authz_world, row, actor)
            transaction.set_rollback(True)
        got = outcome(response)
        # A refused GET writes nothing at all; an allowed one only its documented exception.
        allowed_writes = row.get_writes if got == OK else frozenset()
        if got != row.expect[actor] or not written <= allowed_writes:
            wrong.append((describe(row, actor, response), sorted(written)))
        elif got != OK and row.url.startswith("/api/"):
            assert_api_error_shape(response)
    assert wrong == []
