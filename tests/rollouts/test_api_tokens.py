"""API authentication: tokens (stored as a keyed hash, scoped to features, revocable), sessions
(reads, and writes only with CSRF), and the OpenAPI description of every route."""

import hashlib
import json
import uuid

import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.urls import URLPattern, URLResolver

from registry.models import ApiToken, AuditEvent, Feedback, RequestLog
from rollouts import urls_api
from rollouts.services.rollouts import rollout_create
from traffic.routing import current_table, invalidate_local
from traffic.tokens import token_check, token_create, token_revoke

from .conftest import bearer

INGEST = "/api/v1/ingest"
FEEDBACK = "/api/v1/feedback"


def _record(feature_key: str, request_id: str = "req-1") -> dict:
    return {
        "feature": feature_key,
        "request_id": request_id,
        "messages": [{"role": "user", "content": "Where is my parcel?"}],
        "output": "On its way.",
    }


def _stored_log(feature, request_id: str = "req-1") -> RequestLog:
    return RequestLog.objects.create(
        feature=feature,
        request_id=request_id,
        source=RequestLog.Source.INGEST,
        config=feature.served_config,
        variant=RequestLog.Variant.BASELINE,
        messages=[{"role": "user", "content": "hi"}],
        started="2026-01-01T00:00:00Z",
    )


# --- storage ---------------------------------------------------------------------------------


def test_a_token_is_stored_only_as_a_keyed_hash(feature, admin_user):
    token, plaintext = token_create(name="support-app", features=[feature], actor=admin_user)
    scheme, prefix, secret = plaintext.split("_", 2)
    assert scheme == "rdk"
    assert token.prefix == prefix
    assert len(secret) >= 40  # 32 random bytes, url-safe

    row = json.dumps(list(ApiToken.objects.filter(pk=token.pk).values()), default=str)
    assert plaintext not in row
    assert secret not in row
    assert token.digest != hashlib.sha256(plaintext.encode()).hexdigest()  # keyed, not bare

    token_revoke(token=token, actor=admin_user, reason="rotating")
    events = AuditEvent.objects.filter(object_type="rollouts.apitoken")
    assert {e.action for e in events} == {"token.create", "token.revoke"}
    dumped = json.dumps(
        list(events.values("before", "after", "reason", "object_repr", "object_id")), default=str
    )
    assert plaintext not in dumped
    assert secret not in dumped
    assert token.digest not in dumped


def test_the_hash_is_keyed_by_the_secret_key(feature, settings):
    _token, plaintext = token_create(name="app", features=[feature], actor=None)
    invalidate_local()
    table = current_table()
    assert token_check(table, plaintext) is not None
    # Someone holding a copy of the table but not the key cannot check (or forge) tokens.
    settings.SECRET_KEY = "another-key-" + "y" * 50
    assert token_check(table, plaintext) is None


# --- refusals --------------------------------------------------------------------------------


@pytest.fixture
def endpoints(feature):
    """(method, url, json body or None) for every token-protected endpoint."""
    return [
        ("get", f"/api/v1/features/{feature.key}/assignment?unit=u1", None),
        ("get", f"/api/v1/features/{feature.key}/served", None),
        ("post", INGEST, _record(feature.key)),
        ("post", FEEDBACK, {"feature": feature.key, "request_id": "req-1", "thumbs": "up"}),
    ]


def _call(client: Client, method: str, url: str, body, **kwargs):
    if method == "get":
        return client.get(url, **kwargs)
    return client.post(url, json.dumps(body), content_type="application/json", **kwargs)


def test_without_credentials_every_endpoint_answers_401_json(client, endpoints):
    for method, url, body in endpoints:
        response = _call(client, method, url, body)
        assert response.status_code == 401, url
        assert response["Content-Type"] == "application/json"
        assert "token" in response.json()["error"]
    assert RequestLog.objects.count() == 0


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer nonsense",
        "Bearer rdk_",
        "Bearer rdk_abcdefgh",
        "Bearer rdk_abcdefgh_" + "x" * 43,
        "Basic dXNlcjpwYXNz",
        "Token rdk_abcdefgh_xyz",
        "{valid}x",  # a live token with one character more
        "Bearer {prefix}_wrong-secret",  # a live token's prefix with another secret
        "Basic {valid_plain}",  # a live token under another scheme
    ],
)
def test_malformed_or_unknown_tokens_are_refused_with_401(client, feature, token_for, header):
    plaintext = token_for(feature)
    header = header.format(
        valid=f"Bearer {plaintext}",
        prefix="_".join(plaintext.split("_", 2)[:2]),
        valid_plain=plaintext,
    )
    url = f"/api/v1/features/{feature.key}/assignment?unit=u1"
    response = client.get(url, headers={"Authorization": header})
    assert response.status_code == 401
    assert "error" in response.json()
    assert client.get(url, headers=bearer(plaintext)).status_code == 200  # control


def test_an_invalid_token_is_refused_even_for_a_signed_in_user(client_for, feature):
    viewer = client_for("viewer")
    url = f"/api/v1/features/{feature.key}/assignment?unit=u1"
    assert viewer.get(url).status_code == 200
    assert viewer.get(url, headers={"Authorization": "Bearer rdk_nope_nope"}).status_code == 401


def test_a_revoked_token_is_refused_at_once(client, feature, token_for):
    plaintext = token_for(feature)
    url = f"/api/v1/features/{feature.key}/assignment?unit=u1"
    assert client.get(url, headers=bearer(plaintext)).status_code == 200
    token_revoke(token=ApiToken.objects.get(), actor=None, reason="leaked")
    invalidate_local()  # what the commit does in this process
    response = client.get(url, headers=bearer(plaintext))
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]
    ingest = client.post(
        INGEST,
        json.dumps(_record(feature.key)),
        content_type="application/json",
        headers=bearer(plaintext),
    )
    assert ingest.status_code == 401
    assert RequestLog.objects.count() == 0


def test_other_processes_see_a_revocation_within_the_refresh_interval(
    client, feature, token_for, settings
):
    """No local invalidation here: the routing generation in the database is what a process that
    did not make the change watches."""
    settings.ROUTING_REFRESH_SECONDS = 0
    plaintext = token_for(feature)
    url = f"/api/v1/features/{feature.key}/assignment?unit=u1"
    assert client.get(url, headers=bearer(plaintext)).status_code == 200
    token_revoke(token=ApiToken.objects.get(), actor=None)
    assert client.get(url, headers=bearer(plaintext)).status_code == 401


def test_a_token_scoped_to_one_feature_gets_403_on_another(
    client, feature, other_feature, token_for
):
    plaintext = token_for(other_feature)
    _stored_log(feature)
    logs_before = RequestLog.objects.count()
    headers = bearer(plaintext)

    responses = {
        "assignment": client.get(
            f"/api/v1/features/{feature.key}/assignment?unit=u1", headers=headers
        ),
        "served": client.get(f"/api/v1/features/{feature.key}/served", headers=headers),
        "ingest": client.post(
            INGEST,
            json.dumps(_record(feature.key, "req-2")),
            content_type="application/json",
            headers=headers,
        ),
        "batch ingest": client.post(
            INGEST,
            json.dumps({"records": [_record(other_feature.key, "ok"), _record(feature.key, "x")]}),
            content_type="application/json",
            headers=headers,
        ),
        "feedback": client.post(
            FEEDBACK,
            json.dumps({"feature": feature.key, "request_id": "req-1", "thumbs": "down"}),
            content_type="application/json",
            headers=headers,
        ),
    }
    for name, response in responses.items():
        assert response.status_code == 403, name
        assert "not scoped" in json.dumps(response.json()), name
    assert responses["batch ingest"].json()["errors"][0]["field"] == "records[1].feature"
    assert RequestLog.objects.count() == logs_before
    assert Feedback.objects.count() == 0

    # The same token on its own feature is served.
    own = client.get(f"/api/v1/features/{other_feature.key}/assignment?unit=u1", headers=headers)
    assert own.status_code == 200


def test_a_token_scoped_to_no_feature_can_use_none(client, feature):
    _token, plaintext = token_create(name="unscoped", features=[], actor=None)
    invalidate_local()
    response = client.get(
        f"/api/v1/features/{feature.key}/assignment?unit=u1", headers=bearer(plaintext)
    )
    assert response.status_code == 403


def test_a_token_sees_no_rollout_of_another_feature(client, feature, other_feature, candidate):
    rollout = rollout_create(feature=feature, candidate=candidate, actor=None)
    _token, plaintext = token_create(name="app", features=[other_feature], actor=None)
    invalidate_local()
    response = client.get(f"/api/v1/rollouts/{rollout.code}", headers=bearer(plaintext))
    assert response.status_code == 404


# --- sessions and CSRF -----------------------------------------------------------------------


def test_a_signed_in_user_may_read_with_the_session(client_for, feature):
    viewer = client_for("viewer")
    assignment = viewer.get(f"/api/v1/features/{feature.key}/assignment", {"unit": "u1"})
    assert assignment.status_code == 200
    assert assignment.json()["config"] == str(feature.served_config.code)
    served = viewer.get(f"/api/v1/features/{feature.key}/served")
    assert served.status_code == 200


@pytest.fixture
def csrf_client(viewer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(viewer)
    return client


def test_a_session_post_without_csrf_is_refused(csrf_client, feature):
    _stored_log(feature)
    ingest = csrf_client.post(
        INGEST, json.dumps(_record(feature.key, "req-2")), content_type="application/json"
    )
    assert ingest.status_code == 403
    assert "CSRF" in ingest.json()["error"]
    feedback = csrf_client.post(
        FEEDBACK,
        json.dumps({"feature": feature.key, "request_id": "req-1", "thumbs": "up"}),
        content_type="application/json",
    )
    assert feedback.status_code == 403
    assert RequestLog.objects.count() == 1
    assert Feedback.objects.count() == 0


def test_a_session_post_even_with_the_csrf_token_is_refused(csrf_client, feature):
    # A valid CSRF token proves the browser meant it, not that a person should inject traffic.
    secret = _get_new_csrf_string()
    csrf_client.cookies["csrftoken"] = secret
    response = csrf_client.post(
        INGEST,
        json.dumps(_record(feature.key)),
        content_type="application/json",
        headers={"X-CSRFToken": secret},
    )
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "token_required"
    assert RequestLog.objects.count() == 0


WRITES = [
    (INGEST, lambda key: _record(key, "req-9")),
    (INGEST, lambda key: {"records": [_record(key, "req-9")]}),
    (FEEDBACK, lambda key: {"feature": key, "request_id": "req-1", "thumbs": "down"}),
]


@pytest.mark.parametrize("who", ["viewer", "reviewer", "release", "admin"])
@pytest.mark.parametrize(("url", "body"), WRITES)
def test_no_role_may_write_production_records_with_a_session(client_for, feature, who, url, body):
    _stored_log(feature)
    response = client_for(who).post(
        url, json.dumps(body(feature.key)), content_type="application/json"
    )
    assert response.status_code == 403, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()
    assert error["code"] == "token_required"
    assert "Authorization: Bearer" in error["message"]  # names the fix
    assert RequestLog.objects.count() == 1
    assert Feedback.objects.count() == 0


def test_a_token_post_needs_no_csrf(feature, token_for):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        INGEST,
        json.dumps(_record(feature.key)),
        content_type="application/json",
        headers=bearer(token_for(feature)),
    )
    assert response.status_code == 201, response.content
    assert RequestLog.objects.get().request_id == "req-1"


# --- OpenAPI ---------------------------------------------------------------------------------


def _openapi_paths(patterns, prefix: str) -> set[str]:
    paths = set()
    for entry in patterns:
        if isinstance(entry, URLResolver):
            paths |= _openapi_paths(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            # "features/<slug:key>/served" -> "features/{key}/served"
            parts = []
            for part in route.split("/"):
                if part.startswith("<") and part.endswith(">"):
                    part = "{" + part[1:-1].split(":")[-1] + "}"
                parts.append(part)
            paths.add("/".join(parts))
    return paths


def test_openapi_describes_every_route(client, client_for, feature):
    response = client.get("/api/v1/openapi.json")  # no credentials needed
    assert response.status_code == 200
    schema = response.json()
    assert isinstance(schema, dict)
    assert schema["openapi"] == "3.1.0"
    expected = _openapi_paths(urls_api.urlpatterns, "/api/v1/") - {"/api/v1/openapi.json"}
    expected.add("/v1/chat/completions")
    assert len(expected) == 11  # with the health endpoint, the pair import and the two gate routes
    assert expected <= set(schema["paths"])
    for path in expected:
        assert schema["paths"][path], path  # at least one operation
    # Each documented operation exists with that method (a 405 would mean the schema lies).
    viewer = client_for("viewer")
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        url = path.replace("{key}", feature.key).replace("{code}", str(uuid.uuid4()))
        for method in operations:
            response = getattr(viewer, method)(url)
            assert response.status_code != 405, (method, path)
            # Answered by the API view (JSON), not by the URL resolver's HTML 404.
            assert response["Content-Type"] == "application/json", (method, path)
    # The ingest record schema is the one the API validates with.
    record = schema["components"]["schemas"]["IngestRecord"]
    assert set(record["required"]) == {"feature", "request_id", "messages"}
