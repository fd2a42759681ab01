"""POST /api/v1/feedback: an end user's thumbs or 1-5 score on a request the product logged."""

import json

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from registry.models import Feedback, RequestLog
from registry.services import registry
from traffic.routing import invalidate_local

from .conftest import bearer

URL = "/api/v1/feedback"


def _log(feature, request_id: str = "req-1") -> RequestLog:
    return RequestLog.objects.create(
        feature=feature,
        request_id=request_id,
        source=RequestLog.Source.INGEST,
        config=feature.served_config,
        variant=RequestLog.Variant.BASELINE,
        messages=[{"role": "user", "content": "hi"}],
        started="2026-01-01T00:00:00Z",
    )


@pytest.fixture
def log(feature) -> RequestLog:
    return _log(feature)


@pytest.fixture
def post(client, feature, token_for):
    headers = bearer(token_for(feature))

    def send(body, content_type: str = "application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body)
        return client.post(URL, data, content_type=content_type, headers=headers)

    return send


def feedback(**fields) -> dict:
    return {"feature": "support-reply", "request_id": "req-1", **fields}


# --- storing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("thumbs", "value", "negative"), [("up", 1, False), ("down", -1, True)])
def test_thumbs_are_stored(post, log, thumbs, value, negative):
    response = post(feedback(thumbs=thumbs))
    assert response.status_code == 201, response.content
    saved = Feedback.objects.get()
    assert response.json() == {
        "id": saved.pk,
        "request_id": "req-1",
        "kind": "thumbs",
        "value": value,
    }
    assert saved.request == log
    assert (saved.kind, saved.value, saved.negative) == ("thumbs", value, negative)
    assert saved.comment == ""


@pytest.mark.parametrize(
    ("score", "negative"), [(1, True), (2, True), (3, False), (4, False), (5, False)]
)
def test_scores_from_1_to_5_are_stored(post, log, score, negative):
    response = post(feedback(score=score, comment="ok"))
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "score"
    saved = Feedback.objects.get()
    assert (saved.kind, saved.value, saved.negative, saved.comment) == (
        "score",
        score,
        negative,
        "ok",
    )


def test_feedback_on_an_ingested_call(client, feature, token_for):
    headers = bearer(token_for(feature))
    ingest = client.post(
        "/api/v1/ingest",
        json.dumps(
            {
                "feature": feature.key,
                "request_id": "call-9",
                "messages": [{"role": "user", "content": "hello"}],
            }
        ),
        content_type="application/json",
        headers=headers,
    )
    assert ingest.status_code == 201
    response = client.post(
        URL,
        json.dumps(feedback(request_id="call-9", thumbs="down")),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 201
    assert Feedback.objects.get().request_id == ingest.json()["id"]


def test_the_comment_is_redacted(post, log, feature):
    feature.redact_custom = [r"ORDER-\d+"]
    registry.feature_update_details(feature=feature, actor=None)
    invalidate_local()
    comment = "Wrong! Write to bob@example.org or +44 20 7946 0958; card 4111111111111111; ORDER-77"
    assert post(feedback(thumbs="down", comment=comment)).status_code == 201
    stored = Feedback.objects.get().comment
    assert stored == "Wrong! Write to [email] or [phone]; card [card]; [redacted]"


def test_a_signed_in_user_may_not_send_feedback(client_for, log):
    # Feedback feeds the guardrails: applications (tokens) write it, people do not. The plain
    # test client skips CSRF checks, so this is the role check itself.
    response = client_for("viewer").post(
        URL, json.dumps(feedback(score=4)), content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "token_required"
    assert Feedback.objects.count() == 0


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [{}, {"thumbs": "up", "score": 4}],
    ids=["neither", "both"],
)
def test_exactly_one_of_thumbs_or_score(post, log, fields):
    response = post(feedback(**fields))
    assert response.status_code == 400
    assert response.json()["field"] == "thumbs"
    assert Feedback.objects.count() == 0


@pytest.mark.parametrize("thumbs", ["sideways", "UP", True, 1, None, ""])
def test_thumbs_must_be_up_or_down(post, log, thumbs):
    response = post(feedback(thumbs=thumbs))
    assert response.status_code == 400
    assert response.json()["field"] == "thumbs"
    assert Feedback.objects.count() == 0


# 3.0 is the integer 3 to JSON Schema (and so to the documented contract): it is accepted.
@pytest.mark.parametrize("score", [0, 6, -1, True, False, "3", 2.5, None, [3]])
def test_score_must_be_a_whole_number_from_1_to_5(post, log, score):
    response = post(feedback(score=score))
    assert response.status_code == 400
    assert response.json()["field"] == "score"
    assert Feedback.objects.count() == 0


def test_an_unknown_request_is_a_404_naming_request_id(post, log):
    response = post(feedback(request_id="never-logged", thumbs="up"))
    assert response.status_code == 404
    assert response.json()["field"] == "request_id"
    assert Feedback.objects.count() == 0


def test_a_request_of_another_feature_is_not_found(client, feature, other_feature, token_for):
    _log(other_feature, "shared-id")
    response = client.post(
        URL,
        json.dumps(feedback(request_id="shared-id", thumbs="up")),
        content_type="application/json",
        headers=bearer(token_for(feature, other_feature)),
    )
    assert response.status_code == 404
    assert response.json()["field"] == "request_id"


def test_an_unknown_feature_is_a_404_naming_feature(post, log):
    response = post(feedback(feature="nope", thumbs="up"))
    assert response.status_code == 404
    assert response.json()["field"] == "feature"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"request_id": "req-1", "thumbs": "up"}, "feature"),
        ({"feature": "support-reply", "thumbs": "up"}, "request_id"),
        (feedback(request_id="", thumbs="up"), "request_id"),
        (feedback(request_id=7, thumbs="up"), "request_id"),
        (feedback(thumbs="up", rating=5), "rating"),
        (feedback(thumbs="up", comment=5), "comment"),
        (feedback(thumbs="up", comment="x" * 5001), "comment"),
        (feedback(thumbs="up", comment="a\x00b"), "comment"),
    ],
    ids=[
        "no feature",
        "no request_id",
        "empty request_id",
        "numeric request_id",
        "unknown field",
        "comment not text",
        "comment too long",
        "NUL in comment",
    ],
)
def test_bad_fields_are_named(post, log, body, field):
    response = post(body)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert Feedback.objects.count() == 0


def test_a_comment_of_5000_characters_is_fine(post, log):
    assert post(feedback(thumbs="up", comment="x" * 5000)).status_code == 201


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"[1, 2]", "application/json", 400),
        (b'"up"', "application/json", 400),
        (b"{not json", "application/json", 400),
        (b'{"feature": "support-reply", "score": NaN}', "application/json", 400),
        (b'{"feature": "support-reply", "request_id": "req-1", "score": 1e400}', None, 400),
        (
            b'{"feature": "support-reply", "request_id": "req-1", "thumbs": "up", '
            b'"comment": "\\udfff"}',
            None,
            400,
        ),
        (b"thumbs=up", "application/x-www-form-urlencoded", 415),
    ],
    ids=["list", "string", "malformed", "NaN", "overflow", "surrogate", "form"],
)
def test_bodies_the_api_cannot_take_are_refused(post, log, body, content_type, status):
    response = post(body, content_type or "application/json")
    assert response.status_code == status
    assert response.json()["error"]
    assert Feedback.objects.count() == 0


def test_a_token_of_another_feature_gets_403(client, log, other_feature, token_for):
    response = client.post(
        URL,
        json.dumps(feedback(thumbs="down")),
        content_type="application/json",
        headers=bearer(token_for(other_feature)),
    )
    assert response.status_code == 403
    assert response.json()["field"] == "feature"
    assert Feedback.objects.count() == 0


def test_without_credentials_it_is_a_401(client, log):
    response = client.post(URL, json.dumps(feedback(thumbs="up")), content_type="application/json")
    assert response.status_code == 401
    assert Feedback.objects.count() == 0


feedback_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["up", "down", "req-1", "support-reply"]),
    st.lists(st.integers(), max_size=2),
)
feedback_bodies = st.dictionaries(
    st.sampled_from(["feature", "request_id", "thumbs", "score", "comment", "extra"]),
    feedback_values,
    max_size=5,
)


@hyp_settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=feedback_bodies)
def test_no_feedback_body_gives_a_500(post, log, body):
    response = post(body)
    assert response.status_code < 500
    if response.status_code == 201:
        saved = Feedback.objects.get(pk=response.json()["id"])
        assert saved.kind in ("thumbs", "score")
