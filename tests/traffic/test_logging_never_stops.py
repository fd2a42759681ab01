"""Logging never silently stops (issue 7, section 3): one bad value is bounded or refused at the
edge, a row the database still refuses is dead-lettered while the rows around it are stored,
flush() waits for the batch in flight, and a reused request id with another body is a 409.

Real PostgreSQL and real HTTP throughout; only the provider is scripted (tests/stub_provider.py).
"""

import logging
import threading
import time

import httpx
import psycopg
import pytest
from django.db import connection

from registry.models import DeadLetter, ModelConfig, ModelVersion, Provider, RequestLog
from registry.services import registry
from tests.live import database_url, wait_for
from tests.stub_provider import StubProvider, completion
from traffic.gateway.recorder import REUSED, GatewayRecord, Recorder, recorder
from traffic.insertable import make_insertable
from traffic.providers import CallResult, ErrorKind
from traffic.requestids import body_digest
from traffic.routing import current_table, invalidate_local
from traffic.tokens import token_create

NUL_ANSWER = "Your refund\x00 is on its way \ud800today."


@pytest.fixture
def answers():
    """answers[n] = the text of the provider's n-th answer (1-based); "ok <n>" otherwise."""
    return {}


@pytest.fixture
def stub(answers):
    def respond(body: dict, n: int) -> list:
        return [completion(answers.get(n, f"ok {n}"))]

    with StubProvider(respond) as server:
        yield server


def _feature(base_url: str):
    provider = registry.provider_save(
        provider=Provider(
            name="Stub", api_style="openai_chat", base_url=base_url, api_key_env="", timeout=5
        ),
        actor=None,
    )
    version = registry.model_version_save(
        version=ModelVersion(provider=provider, model_id="gpt-4o-2024-08-06"), actor=None
    )
    config = registry.config_create(
        config=ModelConfig(name="stub", model_version=version, system_prompt="Be brief."),
        actor=None,
    )
    feature = registry.feature_create(
        key="support-reply", name="Support", served_config=config, actor=None
    )
    invalidate_local()
    return feature


@pytest.fixture
def feature(transactional_db, settings):
    """A committed feature (the recorder's thread has its own connection); never called."""
    settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    return _feature("http://127.0.0.1:9/v1")


@pytest.fixture
def gateway(live, stub, settings):
    settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    feature = _feature(stub.url)
    _, token = token_create(name="app", features=[feature], actor=None)
    invalidate_local()
    return {"url": f"{live.url}/v1/chat/completions", "token": token, "stub": stub}


def _post(gateway, *, content: str = "Where is my refund?", request_id: str | bytes | None = None):
    headers: dict[str, str | bytes] = {"Authorization": f"Bearer {gateway['token']}"}
    if request_id is not None:
        headers["X-Request-Id"] = request_id
    body = {"model": "support-reply", "messages": [{"role": "user", "content": content}]}
    return httpx.post(gateway["url"], json=body, headers=headers, timeout=10)


def _logged_within(count: int, seconds: float) -> float:
    """Seconds until `count` gateway logs are stored; fails after `seconds`."""
    t0 = time.monotonic()
    stored = wait_for(lambda: RequestLog.objects.count() >= count, timeout=seconds, interval=0.02)
    elapsed = time.monotonic() - t0
    assert stored, f"{RequestLog.objects.count()} of {count} logs stored after {seconds} s"
    return elapsed


# --- the edge: the gateway ----------------------------------------------------------------------


def test_a_provider_answer_with_nul_is_logged_scrubbed_and_blocks_nothing(gateway, answers):
    answers[11] = NUL_ANSWER
    statuses = [_post(gateway, content=f"question {n}").status_code for n in range(1, 22)]
    assert statuses == [200] * 21
    elapsed = _logged_within(21, 1.0)
    scrubbed = RequestLog.objects.get(scrubbed=True)
    assert scrubbed.output == "Your refund\ufffd is on its way \ufffdtoday."
    assert RequestLog.objects.filter(scrubbed=False).count() == 20
    assert not DeadLetter.objects.exists()
    print(f"NUL answer among 20: 21 answered, 21 logged {elapsed:.2f} s after the last answer")


def test_an_over_long_request_id_is_a_400_and_the_other_calls_are_logged(gateway):
    responses = [
        _post(gateway, request_id="r" * 150 if n == 11 else f"call-{n}") for n in range(1, 22)
    ]
    refused = responses.pop(10)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["param"] == "X-Request-Id" and "100" in error["message"]
    assert refused.headers["X-Request-Id"] != "r" * 150  # never echoed back
    assert [r.status_code for r in responses] == [200] * 20
    elapsed = _logged_within(20, 1.0)
    assert RequestLog.objects.count() == 20
    assert len(gateway["stub"].requests) == 20  # the refused call cost no provider call
    print(f"150-char id among 20: 400, and 20 logged {elapsed:.2f} s after the last answer")


@pytest.mark.parametrize("request_id", ["a b", "a/b", "ünïcode".encode(), ""])
def test_a_request_id_outside_the_alphabet_is_a_400_naming_the_header(gateway, request_id):
    response = _post(gateway, request_id=request_id)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "X-Request-Id"


def test_a_reused_request_id_with_another_body_is_a_409(gateway):
    first = _post(gateway, request_id="call-1", content="Where is my refund?")
    again = _post(gateway, request_id="call-1", content="Where is my refund?")
    other = _post(gateway, request_id="call-1", content="Cancel my order")
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.headers["X-Request-Id"] == again.headers["X-Request-Id"] == "call-1"
    assert other.status_code == 409
    assert other.json()["error"]["param"] == "X-Request-Id"
    assert "call-1" in other.json()["error"]["message"]
    recorder.flush()
    # Once stored (the check then reads the database), still a 409, and still one row.
    assert _post(gateway, request_id="call-1", content="Cancel it now").status_code == 409
    assert _post(gateway, request_id="call-1", content="Where is my refund?").status_code == 200
    recorder.flush()
    log = RequestLog.objects.get(request_id="call-1")
    assert log.messages == [{"role": "user", "content": "Where is my refund?"}]
    assert len(gateway["stub"].requests) == 3  # a 409 costs no provider call


# --- the recorder ---------------------------------------------------------------------------------


def _result(output: str = "It ships Monday.") -> CallResult:
    return CallResult(
        output=output,
        finish_reason="stop",
        prompt_tokens=7,
        completion_tokens=4,
        latency_ms=120.0,
        error_kind=ErrorKind.NONE,
        error="",
        status_code=200,
        attempts=1,
        tool_calls=[],
        body=None,
    )


def _record(request_id: str, *, result: CallResult | None = None, digest: str = "", **changes):
    route = current_table().routes["support-reply"]
    fields = dict(
        route=route,
        variant="baseline",
        config_id=route.baseline.id,
        request_id=request_id,
        unit_key="u",
        messages=[{"role": "user", "content": "Where is my parcel?"}],
        variables={},
        params={},
        result=result or _result(),
        started=time.time(),
        body_digest=digest,
    )
    return GatewayRecord(**(fields | changes))


def test_a_row_the_database_refuses_is_dead_lettered_and_the_others_stored(feature, caplog):
    """A config deleted under a running gateway stands for any row the database refuses that
    no bound can fix (a foreign key, a constraint)."""
    writer = Recorder()
    secret_text = "confidential answer text"
    for n in range(21):
        changes = {"config_id": 987_654_321} if n == 10 else {}
        writer.add(_record(f"call-{n}", result=_result(secret_text), **changes))
    with caplog.at_level(logging.WARNING, logger="traffic.gateway"):
        elapsed = _logged_within(20, 1.0)
        assert wait_for(DeadLetter.objects.exists, timeout=1.0, interval=0.02)

        # The writer thread logs right after it stores the dead letter: on a loaded machine
        # the line can come a moment after the row.
        def warned() -> bool:
            return any("dead-letter" in r.getMessage() for r in caplog.records)

        assert wait_for(warned, timeout=2.0, interval=0.02)
    letter = DeadLetter.objects.get()
    assert (letter.source, letter.request_id) == ("gateway", "call-10")
    assert letter.error.startswith("IntegrityError")
    assert "DETAIL" not in letter.error
    assert letter.payload["output"] == secret_text  # redacted columns, for finding out why
    assert "raw_messages" not in letter.payload and "params" not in letter.payload
    assert not RequestLog.objects.filter(request_id="call-10").exists()
    stats = writer.stats()
    assert (stats["written"], stats["dead_lettered"], stats["buffered"]) == (20, 1, 0)
    warnings = [r.getMessage() for r in caplog.records if "dead-letter" in r.getMessage()]
    assert warnings and warnings[0].startswith("1 gateway request logs")
    assert all(secret_text not in r.getMessage() for r in caplog.records)
    print(f"poisoned batch: 20 stored + 1 dead letter in {elapsed:.2f} s")


@pytest.mark.postgres  # a real row lock held from a second connection
def test_flush_waits_for_the_batch_the_background_thread_is_writing(feature):
    writer = Recorder()
    # Another session holds a lock that blocks inserts, so the thread's batch stays in flight.
    blocker = psycopg.connect(database_url(), autocommit=False)
    blocker.execute("LOCK TABLE rollouts_requestlog IN SHARE MODE")
    try:
        writer.add(_record("in-flight"))
        waiting = wait_for(
            lambda: blocker.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[
                0
            ],
            timeout=5,
            interval=0.02,
        )
        assert waiting  # the thread's insert waits for the lock: it holds the batch
        threading.Timer(0.3, blocker.commit).start()
        writer.flush()
        assert RequestLog.objects.filter(request_id="in-flight").exists()
    finally:
        blocker.close()


def test_a_pending_request_id_is_known_until_it_is_stored(feature):
    writer = Recorder()
    writer._start = lambda: None  # no background thread: this test decides when to write
    digest = body_digest({"model": "support-reply", "messages": []})
    writer.add(_record("mine", digest=digest))
    assert writer.pending_digest(feature.pk, "mine") == digest
    writer.flush()
    assert writer.pending_digest(feature.pk, "mine") is None
    assert RequestLog.objects.get(request_id="mine").body_digest == digest


def test_two_calls_in_flight_with_one_id_and_different_bodies_keep_the_first(feature):
    """Neither was recorded when the other was checked: the writer keeps the first row and
    dead-letters the second, so the reuse is counted, not silently dropped."""
    writer = Recorder()
    writer._start = lambda: None
    writer.add(_record("twice", digest="a" * 64))
    writer.add(_record("twice", digest="b" * 64, result=_result("another answer")))
    writer.add(_record("twice", digest="a" * 64))  # a retry of the first: a plain duplicate
    writer.flush()
    assert RequestLog.objects.get(request_id="twice").output == "It ships Monday."
    letter = DeadLetter.objects.get()
    assert (letter.request_id, letter.error) == ("twice", REUSED)
    assert (writer.duplicates, writer.dead_lettered) == (1, 1)


def test_the_health_endpoint_counts_dead_letters_and_the_backlog(feature, client):
    DeadLetter.objects.create(source="gateway", request_id="x", payload={}, error="DataError: x")
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"]) == ("ok", "ok")
    assert body["dead_letters"]["total"] == 1
    for key in ("buffered", "dropped", "dead_lettered", "last_write_age_seconds", "written"):
        assert key in body["recorder"]
    assert "last_error" not in body["recorder"]  # anonymous callers do not see the driver's text


@pytest.mark.postgres  # a real row lock held from a second connection
def test_the_health_endpoint_is_503_while_a_batch_is_stuck(feature, client):
    blocker = psycopg.connect(database_url(), autocommit=False)
    blocker.execute("LOCK TABLE rollouts_requestlog IN SHARE MODE")
    try:
        recorder.add(_record("stuck", started=time.time() - 120))
        assert wait_for(
            lambda: blocker.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[
                0
            ],
            timeout=5,
            interval=0.02,
        )
        response = client.get("/api/v1/health")
        assert response.status_code == 503 and response["Retry-After"]
        body = response.json()
        assert (body["status"], body["database"]) == ("degraded", "ok")
        assert body["recorder"]["in_flight"] == 1
        assert body["recorder"]["oldest_buffered_age_seconds"] >= 120
    finally:
        blocker.commit()
        blocker.close()
    recorder.flush()
    assert client.get("/api/v1/health").status_code == 200


# --- make_insertable ------------------------------------------------------------------------------


def test_make_insertable_bounds_every_column_and_marks_the_row(db):
    row = RequestLog(
        request_id="r",
        output="a\x00b\udc80",
        finish_reason="x" * 40,
        prompt_tokens=10**20,  # beyond any backend's integer
        completion_tokens=3,
        latency_ms=float("nan"),
        messages=[{"role": "user", "content": "hi\x00", "n": float("inf")}],
        tool_calls=[{"name\x00": "lookup"}],
    )
    make_insertable(row)
    assert row.output == "a\ufffdb\ufffd"
    assert row.finish_reason == "x" * 32
    field = RequestLog._meta.get_field("prompt_tokens")
    _, top = connection.ops.integer_field_range(field.get_internal_type())
    assert row.prompt_tokens == top  # 2,147,483,647 on PostgreSQL
    assert row.completion_tokens == 3 and row.latency_ms is None
    assert row.messages == [{"role": "user", "content": "hi\ufffd", "n": None}]
    assert row.tool_calls == [{"name\ufffd": "lookup"}]
    assert row.scrubbed is True


def test_make_insertable_leaves_a_clean_row_as_it_is(db):
    messages = [{"role": "user", "content": "Ünïcode, emoji \U0001f600 and \\x00 as text"}]
    row = RequestLog(request_id="r", output="fine", messages=messages, prompt_tokens=3)
    make_insertable(row)
    assert row.messages is messages and row.output == "fine" and row.scrubbed is False
