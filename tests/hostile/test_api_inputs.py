"""Hand-written hostile input for every API operation (issue 11, "Hostile input"): sizes, broken
and mistyped JSON, deep nesting, huge numbers, NUL, lone surrogates, invalid UTF-8, over-long
headers, the wrong Content-Type. Each refusal is JSON `{code, message, field?}` naming the field,
with no stack trace or secret, and nothing is half-written. The per-endpoint suites
(tests/rollouts/test_api_*.py) go deeper on ingest and feedback; this one holds every operation
to the same rules. The gateway's cases are in test_gateway_inputs.py."""

import json

import pytest

from registry.models import Rollout
from tests.hostile.operations import OPS, Op, pair_record
from tests.hostile.world import CSRF, World, assert_refusal, build_world, counts
from traffic.jsonbody import MAX_BODY_BYTES

IDS = [op.name for op in OPS]


@pytest.fixture
def world(feature, shadow_rollout, release, make_config, settings) -> World:
    settings.API_RATE_LIMIT_PER_MINUTE = 0
    return build_world(
        feature=feature, rollout=shadow_rollout, release_user=release, make_config=make_config
    )


def _send(client, world: World, op: Op, raw: bytes, content_type="application/json", **headers):
    kwargs = {
        "headers": {"X-CSRFToken": CSRF, **headers} if op.session else {**world.auth, **headers}
    }
    # CONTENT_TYPE set directly: the test client drops content_type for an empty body.
    return (world.release if op.session else client).generic(
        "POST", op.url(world), raw, content_type=content_type, CONTENT_TYPE=content_type, **kwargs
    )


def _put(body: dict, path: str, value) -> dict:
    """body with `value` at the dotted path (list indexes as numbers)."""
    *parents, last = path.split(".")
    target: object = body
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]  # type: ignore[index]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value  # type: ignore[index]
    return body


def _with_raw(world: World, op: Op, raw_value: str) -> bytes:
    """The valid body as JSON text, with `raw_value` spliced in as the text field's JSON."""
    marker = "HOSTILE-MARKER"
    text = json.dumps(_put(op.body(world), op.text, marker))
    return text.replace(f'"{marker}"', raw_value).encode()


def _field_of(op: Op) -> str:
    parts = op.text.split(".")
    out = parts[0]
    for part in parts[1:]:
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


# --- the valid body is accepted: the refusals below are about the hostile part only --------


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_the_valid_body_of_each_operation_is_accepted(client, world, op):
    response = _send(client, world, op, json.dumps(op.body(world)).encode())
    assert response.status_code in (200, 201, 202), response.content


# --- size: 413 before the body is parsed --------------------------------------------------


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_a_body_over_the_limit_is_a_413_before_it_is_parsed(client, world, op):
    """Invalid JSON as well as too large: had the parser run first, this would be a 400."""
    before = counts()
    raw = b"{" * (MAX_BODY_BYTES + 1)
    assert_refusal(_send(client, world, op, raw), 413, secrets=[world.token])
    # Declared too large by Content-Length, whatever the type: still the size answer first
    # (a form body is not read for a CSRF token either).
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ):
        assert_refusal(_send(client, world, op, raw, content_type=content_type), 413)
    assert counts() == before


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_a_body_at_the_limit_is_parsed(client, world, op):
    """Just under the limit: not refused for its size (it is invalid JSON, so a 400)."""
    raw = b"{" * MAX_BODY_BYTES
    body = assert_refusal(_send(client, world, op, raw), 400)
    assert body["code"] == "bad_request"


# --- Content-Type ----------------------------------------------------------------------------


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_a_body_not_sent_as_json_is_a_415(client, world, op):
    before = counts()
    raw = json.dumps(op.body(world)).encode()
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "",
    ):
        response = _send(client, world, op, raw, content_type=content_type)
        body = assert_refusal(response, 415)
        assert "application/json" in body["message"], content_type  # the fix
    assert counts() == before


# --- malformed JSON ---------------------------------------------------------------------------

MALFORMED = {
    "not JSON": b"{not json",
    "truncated": b'{"feature": "support-reply", "request_id": ',
    "empty": b"",
    "trailing comma": b'{"a": 1,}',
    "single quotes": b"{'a': 1}",
    "two documents": b"{}{}",
    "NaN": b'{"a": NaN}',
    "Infinity": b'{"a": Infinity}',
    "deep arrays": b"[" * 100_000,
    "deep arrays closed": b"[" * 100_000 + b"]" * 100_000,
    "deep objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "digits beyond Python's limit": b"1" + b"0" * 5000,
    "raw NUL byte": b'{"a": "x\x00y"}',
    "invalid UTF-8": b'{"a": "\xff\xfe\xfd"}',
    "UTF-8 overlong slash": b'{"a": "\xc0\xaf"}',
    "encoded surrogate bytes": b'{"a": "\xed\xa0\x80"}',
    "UTF-16 body": '{"a": "b"}'.encode("utf-16"),
}


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_malformed_json_is_a_400(client, world, op):
    # One world for every body (a loop, not parameters): the setup costs more than a request.
    before = counts()
    for name, raw in MALFORMED.items():
        try:
            assert_refusal(_send(client, world, op, raw), 400, secrets=[world.token])
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None
    assert counts() == before


# --- values JSON allows but no column can store -------------------------------------------

HOSTILE_VALUES = {
    "escaped NUL": '"a\\u0000b"',
    "lone high surrogate": '"\\ud800"',
    "lone low surrogate": '"x\\udfffy"',
    "reversed pair": '"\\udc00\\ud800"',
    "1e400": "1e400",
    "-1e400": "-1e400",
    "4000 digits": "1" + "0" * 4000,
    "nested 40 deep": "[" * 40 + "]" * 40,
    "true": "true",
    "null": "null",
    "object": '{"a": "b"}',
}


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_a_hostile_value_in_a_text_field_is_a_400_naming_it(client, world, op):
    before = counts()
    for name, value in HOSTILE_VALUES.items():
        response = _send(client, world, op, _with_raw(world, op, value))
        try:
            body = assert_refusal(response, 400, secrets=[world.token])
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None
        # The field, or a place inside it (output[0][0]... for the nesting).
        assert body.get("field", "").startswith(_field_of(op)), (name, body)
    assert counts() == before


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_a_wrong_type_in_each_field_is_a_400_naming_the_field(client, world, op):
    for path, value, named in op.wrong:
        before = counts()
        body = _put(op.body(world), path, value)
        response = _send(client, world, op, json.dumps(body).encode())
        assert_refusal(response, 400, field=named)
        assert counts() == before, path


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_a_body_that_is_not_an_object_is_a_400(client, world, op):
    before = counts()
    for body in ([], [1, 2], "text", 5, None, True):
        assert_refusal(_send(client, world, op, json.dumps(body).encode()), 400)
    assert counts() == before


# --- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("op", [op for op in OPS if not op.session], ids=repr)
def test_an_authorization_header_of_100_kb_is_a_401(client, world, op):
    before = counts()
    huge = "Bearer rdk_" + "A" * 100_000
    response = _send(client, world, op, json.dumps(op.body(world)).encode(), Authorization=huge)
    body = assert_refusal(response, 401)
    assert "A" * 100 not in body["message"]  # never echoed back
    assert counts() == before


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_over_long_headers_the_api_does_not_use_change_nothing(client, world, op):
    """A 10 KB Idempotency-Key (ingest's idempotency key is the body's request_id) and other
    long headers are ignored, never a 500."""
    long = {"Idempotency-Key": "k" * 10_000, "X-Request-Id": "r" * 10_000}
    if not op.session:  # the session's own cookie stays
        long["Cookie"] = "a=" + "b" * 8000
    response = _send(client, world, op, json.dumps(op.body(world)).encode(), **long)
    assert response.status_code in (200, 201, 202), response.content


def test_an_idempotency_key_reused_with_another_body_is_a_409_on_every_idempotent_write(
    client, world
):
    """Ingest's key is the record's request_id; the pair import's is the pair's request id."""
    ingest = OPS[0]
    first = _send(client, world, ingest, json.dumps(ingest.body(world)).encode())
    again = _send(client, world, ingest, json.dumps(ingest.body(world)).encode())
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    before = counts()
    other = {**ingest.body(world), "output": "Another answer"}
    assert_refusal(
        _send(client, world, ingest, json.dumps(other).encode()), 409, field="request_id"
    )
    pairs = OPS[2]
    assert _send(client, world, pairs, json.dumps(pairs.body(world)).encode()).status_code == 201
    assert counts()["pairs"] == before["pairs"] + 1
    before = counts()
    again = _send(client, world, pairs, json.dumps(pairs.body(world)).encode())
    assert_refusal(again, 409, field="records[0].request_id")
    assert counts() == before


def test_a_session_write_without_the_csrf_token_is_refused(client, world):
    op = OPS[-1]
    raw = json.dumps(op.body(world)).encode()
    response = world.release.post(op.url(world), raw, content_type="application/json")
    assert_refusal(response, 403)
    world.rollout.refresh_from_db()
    assert world.rollout.status == Rollout.Status.SHADOW


def test_nothing_of_a_refused_rollback_is_written(client, world):
    """The rollout stays where it was after every refusal above; the valid one ends it."""
    op = OPS[-1]
    for raw in (b"{bad", b'{"reason": "\\ud800"}', b'{"reason": 5}', b"[" * 100_000):
        _send(client, world, op, raw)
    world.rollout.refresh_from_db()
    assert world.rollout.status == Rollout.Status.SHADOW


def test_a_request_id_twice_in_one_pair_import_is_a_409_and_nothing_is_imported(client, world):
    op = OPS[2]
    before = counts()
    body = {"records": [pair_record(), pair_record(candidate_output="Another")]}
    response = _send(client, world, op, json.dumps(body).encode())
    assert_refusal(response, 409, field="records[1].request_id")
    mixed = {"records": [pair_record(), pair_record(), pair_record(baseline_model=7)]}
    response = _send(client, world, op, json.dumps(mixed).encode())
    assert_refusal(response, 400, field="records[2].baseline_model")
    assert counts() == before
