"""POST /api/v1/ingest: production calls reported by the application. A 2xx means stored; any
refusal is a 4xx JSON naming the problem, and then nothing at all was stored."""

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from registry.models import RequestLog, ShadowDay, ShadowJob
from registry.services import registry
from rollouts.services.rollouts import rollout_create, rollout_start_shadow
from tests.gates import pass_gate
from tests.stages import serve_candidate
from traffic.routing import invalidate_local

from .conftest import bearer

URL = "/api/v1/ingest"


def record(request_id: str = "req-1", **fields) -> dict:
    body = {
        "feature": "support-reply",
        "request_id": request_id,
        "messages": [
            {"role": "system", "content": "You help Ann."},
            {"role": "user", "content": "Where is my parcel?"},
        ],
        "output": "It is on its way.",
    }
    body.update(fields)
    return body


@pytest.fixture
def post(client, feature, token_for):
    """post(body) -> response; a dict/list is sent as JSON, bytes as they are."""
    headers = bearer(token_for(feature))

    def send(body, content_type: str = "application/json"):
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return client.post(URL, data, content_type=content_type, headers=headers)

    return send


# --- storing ---------------------------------------------------------------------------------


def test_one_record_is_stored(post, feature):
    response = post(
        record(
            unit="user-7",
            variables={"customer": "Ann", "vip": True, "tier": 2},
            latency_ms=812.5,
            prompt_tokens=120,
            completion_tokens=30,
            finish_reason="stop",
            model_version="gpt-4o-2024-05-13",
            started_at="2026-03-01T10:15:00+01:00",
        )
    )
    assert response.status_code == 201, response.content
    body = response.json()
    log = RequestLog.objects.get()
    assert body == {
        "feature": "support-reply",
        "request_id": "req-1",
        "id": log.pk,
        "status": "stored",
    }
    assert log.feature == feature
    assert log.source == RequestLog.Source.INGEST
    assert log.config == feature.served_config
    assert log.variant == "baseline"
    assert log.rollout is None
    assert log.unit_key == "user-7"
    assert log.variables == {"customer": "Ann", "vip": True, "tier": 2}
    assert log.output == "It is on its way."
    assert log.latency_ms == 812.5
    assert (log.prompt_tokens, log.completion_tokens) == (120, 30)
    assert log.finish_reason == "stop"
    assert log.started == datetime(2026, 3, 1, 9, 15, tzinfo=UTC)
    assert log.messages[1] == {"role": "user", "content": "Where is my parcel?"}


def test_an_app_error_is_stored_with_its_kind(post):
    assert post(record(error="upstream timeout", output="")).status_code == 201
    log = RequestLog.objects.get()
    assert (log.error_kind, log.error) == ("app_error", "upstream timeout")


SECRETS = {
    "jane.doe@example.com": "[email]",
    "4111 1111 1111 1111": "[card]",
    "5500-0000-0000-0004": "[card]",
    "+1 (415) 555-0132": "[phone]",
    "020 7946 0958": "[phone]",
}


def test_messages_output_and_error_are_redacted_before_storing(post, feature, settings):
    settings.REDACT_PHONE_REGION = ["US", "GB"]  # 020 7946 0958 is a national UK number
    feature.redact_custom = [r"ACME-\d{6}"]
    registry.feature_update_details(feature=feature, actor=None)
    invalidate_local()
    said = "Mail jane.doe@example.com, card 4111 1111 1111 1111 or 5500-0000-0000-0004, "
    said += "call +1 (415) 555-0132 or 020 7946 0958 about order ACME-123456."
    response = post(
        record(
            messages=[{"role": "user", "content": said, "name": "ann"}],
            output=f"Noted: {said}",
            error=f"failed for {said}",
        )
    )
    assert response.status_code == 201, response.content
    log = RequestLog.objects.get()
    stored = json.dumps([log.messages, log.output, log.error])
    for secret in [*SECRETS, "ACME-123456", "4111", "555-0132"]:
        assert secret not in stored, secret
    content = log.messages[0]["content"]
    assert content == (
        "Mail [email], card [card] or [card], call [phone] or [phone] about order [redacted]."
    )
    assert log.messages[0]["role"] == "user" and log.messages[0]["name"] == "ann"
    assert log.output == f"Noted: {content}"
    assert log.error == f"failed for {content}"


def test_redaction_follows_the_feature_settings(post, feature):
    feature.redact_phones = False
    registry.feature_update_details(feature=feature, actor=None)
    invalidate_local()
    text = "jane.doe@example.com +1 (415) 555-0132"
    assert post(record(output=text)).status_code == 201
    assert RequestLog.objects.get().output == "[email] +1 (415) 555-0132"


def test_a_batch_is_stored_with_one_result_per_record(post):
    response = post({"records": [record("a"), record("b", unit="u2"), record("c")]})
    assert response.status_code == 201, response.content
    results = response.json()["results"]
    assert [(r["request_id"], r["status"]) for r in results] == [
        ("a", "stored"),
        ("b", "stored"),
        ("c", "stored"),
    ]
    ids = {log.request_id: log.pk for log in RequestLog.objects.all()}
    assert [r["id"] for r in results] == [ids["a"], ids["b"], ids["c"]]


def test_a_batch_of_500_records_is_accepted(post):
    response = post({"records": [record(f"r{n}") for n in range(500)]})
    assert response.status_code == 201
    assert RequestLog.objects.count() == 500


def test_the_config_code_of_the_assignment_is_accepted(post, feature):
    code = str(feature.served_config.code)
    assert post(record(config=code)).status_code == 201
    assert RequestLog.objects.get().config == feature.served_config


def test_an_older_config_of_a_stale_client_is_stored_as_baseline(post, feature, make_config):
    old = feature.served_config
    registry.feature_switch_config(
        feature=feature, config=make_config("support v1.1"), actor=None, reason="prompt fix"
    )
    invalidate_local()
    assert post(record(config=str(old.code))).status_code == 201
    log = RequestLog.objects.get()
    assert (log.config, log.variant) == (old, "baseline")


# --- idempotency -----------------------------------------------------------------------------


def test_the_same_request_id_twice_is_stored_once(post):
    first = post(record("dup"))
    # A retry: the same record, its keys in another order.
    second = post(dict(reversed(list(record("dup").items()))))
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["status"] == "duplicate"
    assert RequestLog.objects.count() == 1


def test_a_request_id_reused_with_a_different_record_is_a_409(post):
    first = post(record("dup"))
    second = post(record("dup", output="a different answer"))
    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["errors"][0]["field"] == "request_id"
    assert "different record" in second.json()["error"]
    assert RequestLog.objects.count() == 1
    assert RequestLog.objects.get().output == "It is on its way."  # the first write wins
    # Inside a batch, the reused id is named by its index, and nothing of the batch is stored.
    batch = post({"records": [record("fresh"), record("dup", output="again")]})
    assert batch.status_code == 409
    assert batch.json()["errors"][0]["field"] == "records[1].request_id"
    assert not RequestLog.objects.filter(request_id="fresh").exists()


def test_a_request_id_twice_in_one_batch_with_different_records_is_a_409(post):
    response = post({"records": [record("x"), record("y"), record("x", output="again")]})
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "records[2].request_id"
    assert RequestLog.objects.count() == 0


def test_duplicates_inside_one_batch_are_stored_once(post):
    response = post({"records": [record("x"), record("y"), record("x")]})
    assert response.status_code == 201
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["stored", "stored", "duplicate"]
    assert results[0]["id"] == results[2]["id"]
    assert RequestLog.objects.filter(request_id="x").count() == 1
    assert RequestLog.objects.count() == 2


def test_a_batch_of_only_known_records_answers_200(post):
    post({"records": [record("p"), record("q")]})
    again = post({"records": [record("p"), record("q")]})
    assert again.status_code == 200
    assert {r["status"] for r in again.json()["results"]} == {"duplicate"}
    mixed = post({"records": [record("p"), record("new")]})
    assert mixed.status_code == 201
    assert [r["status"] for r in mixed.json()["results"]] == ["duplicate", "stored"]
    assert RequestLog.objects.count() == 3


def test_request_ids_are_idempotency_keys_per_feature(client, feature, other_feature, token_for):
    headers = bearer(token_for(feature, other_feature))
    for key in (feature.key, other_feature.key):
        response = client.post(
            URL,
            json.dumps(record("same", feature=key)),
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 201
    assert RequestLog.objects.count() == 2


# --- refusals: 4xx JSON naming the problem, nothing written ----------------------------------


def deep(levels: int):
    value: object = "x"
    for _ in range(levels):
        value = [value]
    return value


JSON = "application/json"
INF = json.dumps(record()).replace('"req-1"', '"r", "latency_ms": Infinity').encode()
NEG_INF = INF.replace(b"Infinity", b"-Infinity")


def bad(name: str, body, status: int = 400, field: str | None = None, content_type: str = JSON):
    return pytest.param(body, content_type, status, field, id=name)


BAD = [
    bad("malformed JSON", b'{"feature": "support-reply", '),
    bad("blank body", b"  "),
    bad("text/plain", json.dumps(record()), 415, content_type="text/plain"),
    bad("form", "feature=support-reply", 415, content_type="application/x-www-form-urlencoded"),
    bad("messages not a list", record(messages="hi"), field="messages"),
    bad("no messages", record(messages=[]), field="messages"),
    bad("bad role", record(messages=[{"role": "robot", "content": "x"}]), field="messages[0].role"),
    bad(
        "content not text",
        record(messages=[{"role": "user", "content": 3}]),
        field="messages[0].content",
    ),
    bad("latency_ms a string", record(latency_ms="812"), field="latency_ms"),
    bad("latency_ms negative", record(latency_ms=-1), field="latency_ms"),
    bad("prompt_tokens negative", record(prompt_tokens=-5), field="prompt_tokens"),
    bad("prompt_tokens a float", record(prompt_tokens=1.5), field="prompt_tokens"),
    bad("variables nested", record(variables={"a": {"b": 1}}), field="variables.a"),
    bad("request_id too long", record("r" * 101), field="request_id"),
    bad("request_id with a space", record("req 1"), field="request_id"),
    bad("request_id with a slash", record("a/b"), field="request_id"),
    bad("request_id with a final newline", record("req-1\n"), field="request_id"),
    bad("unit too long", record(unit="u" * 201), field="unit"),
    bad("body a list", [record()], field="(body)"),
    bad("body a string", b'"just text"', field="(body)"),
    bad("body null", None, field="(body)"),
    bad(
        "NUL in content",
        record(messages=[{"role": "user", "content": "a\x00b"}]),
        field="messages[0].content",
    ),
    bad("NUL in a key", {**record(), "x\x00": 1}),
    bad("nested 33 deep", record(variables={"a": deep(33)})),
    bad("nested 100000 deep", b"[" * 100_000 + b"]" * 100_000),
    bad("NaN", b'{"feature": "support-reply", "latency_ms": NaN}'),
    bad("Infinity", INF),
    bad("-Infinity", NEG_INF),
    bad("started_at not ISO", record(started_at="yesterday"), field="started_at"),
    bad("started_at a number", record(started_at=1700000000), field="started_at"),
    bad("empty batch", {"records": []}, field="records"),
    bad("batch of 501", {"records": [record(f"r{n}") for n in range(501)]}, field="records"),
    bad("batch not a list", {"records": record()}, field="records"),
    bad("batch with extra key", {"records": [record()], "dry_run": True}, field="(body)"),
]


def _fields(body: dict) -> list[str]:
    return [body["field"]] if "field" in body else [e["field"] for e in body.get("errors", [])]


@pytest.mark.parametrize(("body", "content_type", "status", "field"), BAD)
def test_bad_input_is_refused_and_nothing_is_written(post, body, content_type, status, field):
    before = RequestLog.objects.count()
    response = post(body, content_type)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    answer = response.json()
    assert answer["error"]
    if field is not None:
        assert field in _fields(answer), answer
    assert RequestLog.objects.count() == before


@pytest.mark.parametrize(
    ("missing", "mentioned"),
    [("feature", "feature"), ("request_id", "request_id"), ("messages", "messages")],
)
def test_a_missing_required_field_is_named(post, missing, mentioned):
    body = record()
    del body[missing]
    response = post(body)
    assert response.status_code == 400
    assert f"'{mentioned}' is a required property" in json.dumps(response.json())
    assert RequestLog.objects.count() == 0


def test_an_unknown_field_is_named(post):
    response = post(record(temperature=0.2))
    assert response.status_code == 400
    assert "'temperature'" in response.json()["errors"][0]["message"]
    assert RequestLog.objects.count() == 0


def test_an_unknown_feature_is_a_404(post):
    response = post(record(feature="no-such-feature"))
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "feature"
    assert RequestLog.objects.count() == 0


def test_a_body_over_5_mb_is_a_413(post):
    big = record(output="x" * (5 * 1024 * 1024))
    response = post(big)
    assert response.status_code == 413
    assert "larger" in response.json()["error"]
    assert RequestLog.objects.count() == 0


def test_a_body_just_under_the_limit_is_not_refused_for_its_size(post):
    text = "x" * (5 * 1024 * 1024 - 300)
    response = post(record(messages=[{"role": "user", "content": "hi"}], output=text))
    # The record schema caps one text at 200,000 characters: refused, but for that, not size.
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "output"


def test_one_bad_record_refuses_the_whole_batch(post):
    records = [record("a"), record("b", latency_ms="slow"), record("c")]
    response = post({"records": records})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "records[1].latency_ms"
    assert RequestLog.objects.count() == 0


def test_one_unknown_feature_in_a_batch_refuses_the_whole_batch(post):
    records = [record("a"), record("b"), record("c", feature="nope")]
    response = post({"records": records})
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "records[2].feature"
    assert RequestLog.objects.count() == 0


def test_a_bad_started_at_in_a_batch_names_the_record(post):
    response = post({"records": [record("a"), record("b", started_at="2026-13-45")]})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "records[1].started_at"
    assert RequestLog.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"config": "0b7a2c52-4c3e-4a3c-9d55-8f0e6c1c2a11"}, "config"),
        ({"model_version": "gpt-4o-2024-08-06"}, "model_version"),
    ],
)
def test_a_config_that_does_not_match_is_a_422(post, fields, named):
    response = post(record(**fields))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == named
    assert RequestLog.objects.count() == 0


@pytest.mark.parametrize(
    "code", ["not-a-uuid", "", "0b7a2c52", "{0b7a2c52-4c3e-4a3c-9d55-8f0e6c1c2a11}"]
)
def test_a_config_that_is_not_a_uuid_is_a_400_naming_config(post, code):
    response = post(record(config=code))
    assert response.status_code == 400, response.content
    assert "config" in _fields(response.json())
    assert RequestLog.objects.count() == 0


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ("content", "messages[1].content"),
        ("output", "output"),
        ("request_id", "request_id"),
        ("key", "variables"),
    ],
)
def test_a_lone_surrogate_is_a_400_not_a_500(post, where, field):
    """Valid JSON ("\\ud800"), but text no database can store."""
    body = record(variables={})
    if where == "content":
        body["messages"][1]["content"] = "SURROGATE"
    elif where == "key":
        body["variables"] = {"SURROGATE": "x"}
    else:
        body[where] = "SURROGATE"
    response = post(json.dumps(body).replace("SURROGATE", "\\ud800").encode())
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert RequestLog.objects.count() == 0


@pytest.mark.parametrize("number", ["1e400", "-1e400"])
def test_a_number_too_large_for_a_double_is_a_400(post, number):
    """1e400 parses to infinity: refused like the Infinity constant, not stored or a 500."""
    body = json.dumps(record(variables={"n": 0})).replace('"n": 0', f'"n": {number}')
    response = post(body.encode())
    assert response.status_code == 400, response.content
    assert response.json()["field"] == "variables.n"
    assert RequestLog.objects.count() == 0


def test_get_is_not_allowed(client, feature, token_for):
    assert client.get(URL, headers=bearer(token_for(feature))).status_code == 405


# --- no input is a 500 -----------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
record_keys = st.sampled_from(
    [
        "feature",
        "request_id",
        "unit",
        "messages",
        "variables",
        "output",
        "config",
        "model_version",
        "latency_ms",
        "error",
        "finish_reason",
        "prompt_tokens",
        "completion_tokens",
        "started_at",
        "records",
    ]
)
# A valid record with some fields replaced by random values: reaches past the schema check.
mutated_records = st.builds(
    lambda changes: {**record(), **changes},
    st.dictionaries(record_keys, json_values | st.text(max_size=40), max_size=3),
)
bodies = st.one_of(
    json_values.map(json.dumps),
    mutated_records.map(json.dumps),
    st.lists(mutated_records, min_size=1, max_size=3).map(lambda rs: json.dumps({"records": rs})),
    st.binary(max_size=200),
    st.text(max_size=200),
)


@hyp_settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies)
def test_no_input_gives_a_500(post, body):
    response = post(body)
    assert response.status_code < 500
    assert response["Content-Type"] == "application/json"
    if response.status_code >= 400:
        assert response.json()["error"]


# --- shadow jobs -----------------------------------------------------------------------------


def _rollout(feature, candidate, *, shadow: bool = True, **options):
    made = rollout_create(feature=feature, candidate=candidate, actor=None, **options)
    if shadow:
        pass_gate(made)
        rollout_start_shadow(rollout=made, actor=None)
    invalidate_local()
    return made


def _today_counts(rollout) -> tuple[int, int, int]:
    day = ShadowDay.objects.get(rollout=rollout)
    return day.queued, day.skipped_sample, day.skipped_cap


def test_in_shadow_each_record_gets_one_shadow_job_on_the_candidate(post, feature, candidate):
    rollout = _rollout(feature, candidate)
    response = post({"records": [record("a"), record("b"), record("c")]})
    assert response.status_code == 201
    jobs = ShadowJob.objects.all()
    assert jobs.count() == 3
    assert {job.request.request_id for job in jobs} == {"a", "b", "c"}
    assert {job.config_id for job in jobs} == {candidate.pk}
    assert {job.rollout_id for job in jobs} == {rollout.pk}
    assert {job.status for job in jobs} == {ShadowJob.Status.QUEUED}
    assert {log.rollout_id for log in RequestLog.objects.all()} == {rollout.pk}
    assert _today_counts(rollout) == (3, 0, 0)


def test_a_duplicate_makes_no_second_shadow_job(post, feature, candidate):
    _rollout(feature, candidate)
    post(record("a"))
    post(record("a"))
    post({"records": [record("a"), record("b"), record("b")]})
    assert ShadowJob.objects.count() == 2


def test_a_canary_request_served_by_the_candidate_is_shadowed_on_the_baseline(
    post, feature, candidate
):
    rollout = _rollout(feature, candidate)
    serve_candidate(rollout, 100)
    invalidate_local()
    assert post(record(unit="user-1")).status_code == 201
    log = RequestLog.objects.get()
    assert (log.variant, log.config_id) == ("candidate", candidate.pk)
    assert ShadowJob.objects.get().config_id == feature.served_config_id


def test_shadow_jobs_are_written_in_the_logs_transaction(post, feature, candidate, monkeypatch):
    _rollout(feature, candidate)

    def broken(*args, **kwargs):
        raise RuntimeError("outbox down")

    monkeypatch.setattr("traffic.ingest.plan_shadow_jobs", broken)
    with pytest.raises(RuntimeError):
        post(record())
    assert RequestLog.objects.count() == 0  # no log without its job


def test_a_zero_sample_rate_makes_no_job_and_counts_the_skip(post, feature, candidate):
    rollout = _rollout(feature, candidate, shadow_sample_percent=0)
    assert post({"records": [record("a"), record("b"), record("c")]}).status_code == 201
    assert ShadowJob.objects.count() == 0
    assert _today_counts(rollout) == (0, 3, 0)


def test_the_daily_cap_stops_shadow_jobs_and_counts_the_rest(post, feature, candidate):
    rollout = _rollout(feature, candidate, shadow_daily_cap=1)
    assert post({"records": [record("a"), record("b"), record("c")]}).status_code == 201
    assert ShadowJob.objects.count() == 1
    assert _today_counts(rollout) == (1, 0, 2)
    post(record("d"))  # the cap holds across requests of the same day
    assert ShadowJob.objects.count() == 1
    assert _today_counts(rollout) == (1, 0, 3)


def test_a_draft_rollout_shadows_nothing(post, feature, candidate):
    _rollout(feature, candidate, shadow=False)
    assert post({"records": [record("a"), record("b")]}).status_code == 201
    assert ShadowJob.objects.count() == 0
    assert ShadowDay.objects.count() == 0


def test_an_older_config_is_stored_but_never_shadowed(post, feature, candidate, make_config):
    old = feature.served_config
    registry.feature_switch_config(
        feature=feature, config=make_config("support v1.1"), actor=None, reason="prompt fix"
    )
    feature.refresh_from_db()
    _rollout(feature, candidate)
    assert post(record(config=str(old.code))).status_code == 201
    assert ShadowJob.objects.count() == 0
    assert RequestLog.objects.get().rollout_id is None


def test_a_refused_batch_plans_no_shadow_job(post, feature, candidate):
    _rollout(feature, candidate)
    response = post({"records": [record("a"), record("b", feature="nope")]})
    assert response.status_code == 404
    assert ShadowJob.objects.count() == 0
    assert ShadowDay.objects.count() == 0
