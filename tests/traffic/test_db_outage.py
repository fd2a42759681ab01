"""A database outage, in process: the test's own connection goes through a TCP proxy that the test
cuts and restores (tests/faults.py), so every fault here is a real refused or dropped connection.

The end-to-end version (a gateway server under traffic while the database disappears) is
tests/traffic/test_outage_live.py.
"""

import logging
import time

import pytest
from django.db import connection
from django.test import Client

from registry.models import RequestLog
from tests.faults import TcpProxy
from tests.live import wait_for
from traffic import routing
from traffic.gateway import recorder as recorder_module
from traffic.gateway.recorder import GatewayRecord, Recorder
from traffic.providers import CallResult, ErrorKind
from traffic.tokens import token_create

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the outage is a TCP proxy cut in front of PostgreSQL",
    ),
]


@pytest.fixture
def proxy(transactional_db, settings):
    """Every new connection of this process goes through the proxy until the test ends.

    Django's per-thread connections share one settings dict, so new threads (a recorder's) use
    the proxy too; the test thread's connection is reopened through it."""
    settings.ROUTING_REFRESH_SECONDS = 0  # every call checks the database
    db = connection.settings_dict
    saved = db["HOST"], db["PORT"]
    with TcpProxy(target=(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))) as tcp:
        connection.close()
        db["HOST"], db["PORT"] = "127.0.0.1", str(tcp.port)
        try:
            yield tcp
        finally:
            # Before the proxy closes: the test database is flushed through a direct connection.
            connection.close()
            db["HOST"], db["PORT"] = saved
            routing.invalidate_local()


@pytest.fixture
def world(transactional_db, feature):
    _token, plaintext = token_create(name="app", features=[feature], actor=None)
    routing.invalidate_local()
    return {"feature": feature, "token": plaintext}


def _record(route, n: int) -> GatewayRecord:
    return GatewayRecord(
        route=route,
        variant="baseline",
        config_id=route.baseline.id,
        request_id=f"outage-{n}",
        unit_key=f"user-{n}",
        messages=[{"role": "user", "content": f"question {n}"}],
        variables={},
        params={},
        result=CallResult(
            output=f"answer {n}",
            finish_reason="stop",
            prompt_tokens=3,
            completion_tokens=2,
            latency_ms=12.0,
            error_kind=ErrorKind.NONE,
            error="",
            status_code=200,
            attempts=1,
            tool_calls=[],
            body=None,
        ),
        started=time.time(),
    )


def test_routing_serves_the_last_table_while_the_database_is_cut(proxy, world, caplog):
    table = routing.current_table()
    assert routing.routing_age() is None

    proxy.cut()
    with caplog.at_level(logging.WARNING, logger="traffic.routing"):
        for _ in range(5):
            assert routing.current_table() is table
        time.sleep(1.1)
        assert routing.current_table() is table
        age = routing.routing_age()
        assert age is not None and age >= 1.0

        proxy.restore()
        routing.invalidate_local()  # a change made meanwhile: the reload must happen
        assert routing.current_table() is not table
    assert routing.routing_age() is None
    outage_lines = [r.getMessage() for r in caplog.records if r.name == "traffic.routing"]
    # Once when the outage began, once when it ended; not once per check.
    assert len(outage_lines) == 2, outage_lines
    assert "database unreachable" in outage_lines[0]
    assert "reachable again" in outage_lines[1]


def test_the_api_answers_503_json_with_retry_after_and_assignment_keeps_answering(
    proxy, world, release, caplog
):
    api = Client(headers={"Authorization": f"Bearer {world['token']}"})
    page = Client()
    page.force_login(release)
    assignment = "/api/v1/features/support-reply/assignment?unit=user-1"
    before = api.get(assignment)
    assert before.status_code == 200

    proxy.cut()
    caplog.set_level(logging.WARNING)
    during = api.get(assignment)
    assert during.status_code == 200
    assert during.json()["config"] == before.json()["config"]

    ingest = api.post(
        "/api/v1/ingest",
        {
            "feature": "support-reply",
            "request_id": "r-1",
            "unit": "user-1",
            "messages": [{"role": "user", "content": "hi"}],
            "output": "hello",
        },
        content_type="application/json",
    )
    assert ingest.status_code == 503
    assert ingest["Content-Type"] == "application/json"
    assert ingest["Retry-After"] == "5"
    body = ingest.json()
    assert body["code"] == "unavailable" and "database" in body["message"]

    served = api.get("/api/v1/features/support-reply/served")
    assert served.status_code == 503 and served.json()["code"] == "unavailable"

    home = page.get("/")
    assert home.status_code == 503
    assert home["Content-Type"].startswith("text/html")
    assert home["Retry-After"] == "5"
    html = home.content.decode()
    assert "Temporarily unavailable" in html and "app.css" in html
    # One line for the outage (at most one a minute), not one per refused request.
    assert not [r for r in caplog.records if r.name == "django.request"]
    assert len([r for r in caplog.records if r.name == "rollout_site.errors"]) <= 1

    proxy.restore()
    assert api.post(
        "/api/v1/ingest",
        {
            "feature": "support-reply",
            "request_id": "r-1",
            "unit": "user-1",
            "messages": [{"role": "user", "content": "hi"}],
            "output": "hello",
        },
        content_type="application/json",
    ).status_code in (200, 201)
    assert page.get("/").status_code == 200


def test_the_recorder_holds_logs_through_a_cut_and_writes_them_when_the_database_is_back(
    proxy, world
):
    route = routing.current_table().routes["support-reply"]
    rec = Recorder()
    rec.add(_record(route, 0))  # the thread connects and writes before the outage
    assert wait_for(lambda: RequestLog.objects.filter(request_id="outage-0").exists(), 10)

    proxy.cut()
    for n in range(1, 21):
        rec.add(_record(route, n))
    assert wait_for(lambda: rec.stats()["failing_since"] is not None, 10)
    assert rec.stats()["buffered"] >= 20
    assert "Error" in str(rec.stats()["last_error"])

    proxy.restore()
    connection.close()
    assert wait_for(
        lambda: RequestLog.objects.filter(request_id__startswith="outage-").count() == 21, 10
    )
    stats = rec.stats()
    assert stats["buffered"] == 0 and stats["dropped"] == 0 and stats["failing_since"] is None


def test_a_full_buffer_drops_the_oldest_and_counts_them(proxy, world, monkeypatch, caplog):
    monkeypatch.setattr(recorder_module, "MAX_BUFFERED", 3)
    route = routing.current_table().routes["support-reply"]
    rec = Recorder()
    proxy.cut()
    with caplog.at_level(logging.WARNING, logger="traffic.gateway"):
        for n in range(1, 6):
            rec.add(_record(route, n))
        assert rec.stats()["dropped"] == 2
        assert rec.stats()["buffered"] == 3
        full = [r for r in caplog.records if "buffer full" in r.getMessage()]
        assert len(full) == 1  # once, not per dropped record

        proxy.restore()
        connection.close()
        assert wait_for(
            lambda: RequestLog.objects.filter(request_id__startswith="outage-").count() == 3, 10
        )
        assert wait_for(
            lambda: any(
                "2 gateway request logs were dropped" in r.getMessage() for r in caplog.records
            ),
            5,
        )
    kept = set(RequestLog.objects.values_list("request_id", flat=True))
    assert kept == {"outage-3", "outage-4", "outage-5"}  # the newest are kept
    assert rec.stats()["dropped"] == 2
