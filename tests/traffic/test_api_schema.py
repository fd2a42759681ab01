"""The OpenAPI schema says what the server does: each mismatch found (issue 7, section 8) is
checked here on both sides, the schema's verdict and the server's answer."""

import json

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from registry.services import registry
from traffic.routing import invalidate_local
from traffic.tokens import token_create
from traffic.views.openapi import build_schema

INGEST = "/api/v1/ingest"
FEEDBACK = "/api/v1/feedback"


@pytest.fixture(autouse=True)
def _fresh_routing():
    invalidate_local()
    yield
    invalidate_local()


@pytest.fixture
def doc() -> dict:
    return build_schema()


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def validator(doc: dict, *parts: str) -> Draft202012Validator:
    """A validator for the schema at doc[parts...], resolving the document's own `$ref`s."""
    registry_ = Registry().with_resource(
        "urn:openapi", Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": "urn:openapi#" + _pointer(*parts)},
        registry=registry_,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def request_body(doc: dict, path: str) -> Draft202012Validator:
    return validator(
        doc, "paths", path, "post", "requestBody", "content", "application/json", "schema"
    )


def response_body(doc: dict, path: str, method: str, status: int) -> Draft202012Validator:
    responses = doc["paths"][path][method]["responses"]
    assert str(status) in responses, f"{status} is not documented for {method} {path}"
    return validator(
        doc,
        "paths",
        path,
        method,
        "responses",
        str(status),
        "content",
        "application/json",
        "schema",
    )


@pytest.fixture
def token(feature) -> str:
    _token, plaintext = token_create(name="app", features=[feature], actor=None)
    invalidate_local()
    return plaintext


def _post(client, url: str, body, token: str, content_type: str = "application/json"):
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.post(
        url, raw, content_type=content_type, headers={"Authorization": f"Bearer {token}"}
    )


# --- the five mismatches the issue names -------------------------------------------------------


def test_ingest_refuses_an_empty_object_and_so_does_its_schema(client, doc, token):
    assert not request_body(doc, INGEST).is_valid({})
    response = _post(client, INGEST, {}, token)
    assert response.status_code == 400
    response_body(doc, INGEST, "post", 400).validate(response.json())


@pytest.mark.parametrize("name", ["feature", "request_id"])
def test_feedback_with_an_empty_feature_or_request_id_is_refused_by_both(
    client, doc, token, feature, name
):
    body = {"feature": feature.key, "request_id": "req-1", "thumbs": "up", name: ""}
    assert not request_body(doc, FEEDBACK).is_valid(body)
    response = _post(client, FEEDBACK, body, token)
    assert response.status_code == 400
    assert response.json()["field"] == name
    response_body(doc, FEEDBACK, "post", 400).validate(response.json())


def test_an_empty_unit_is_refused_by_both(client, doc, token, feature):
    path = "/api/v1/features/{key}/assignment"
    (unit,) = [p for p in doc["paths"][path]["get"]["parameters"] if p["name"] == "unit"]
    assert not Draft202012Validator(unit["schema"]).is_valid("")
    assert Draft202012Validator(unit["schema"]).is_valid("user-1")
    response = client.get(
        f"/api/v1/features/{feature.key}/assignment?unit=",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert response.json()["field"] == "unit"
    response_body(doc, path, "get", 400).validate(response.json())


def test_feedback_documents_its_415(client, doc, token, feature):
    response = _post(client, FEEDBACK, "thumbs=up", token, content_type="text/plain")
    assert response.status_code == 415
    response_body(doc, FEEDBACK, "post", 415).validate(response.json())


def test_the_gateway_request_body_and_error_object_are_documented(live, simulated, doc):
    config = simulated("sim-fast-2025-01-01", "gateway v1")
    feature = registry.feature_create(
        key="gw-reply", name="Gateway reply", served_config=config, actor=None
    )
    _token, plaintext = token_create(name="gw", features=[feature], actor=None)
    invalidate_local()
    path = "/v1/chat/completions"
    body_schema = request_body(doc, path)
    good = {"model": feature.key, "messages": [{"role": "user", "content": "Hi"}]}
    bad = {"model": feature.key}
    assert body_schema.is_valid(good)
    assert not body_schema.is_valid(bad)
    auth = {"Authorization": f"Bearer {plaintext}"}
    with httpx.Client(base_url=live.url, timeout=10) as http:
        served = http.post(path, json=good, headers=auth)
        refused = http.post(path, json=bad, headers=auth)
        unauthenticated = http.post(path, json=good)
    assert served.status_code == 200, served.text
    response_body(doc, path, "post", 200).validate(served.json())
    assert refused.status_code == 400
    assert isinstance(refused.json()["error"], dict)  # OpenAI's shape, which SDKs parse
    response_body(doc, path, "post", 400).validate(refused.json())
    assert unauthenticated.status_code == 401
    response_body(doc, path, "post", 401).validate(unauthenticated.json())


# --- error bodies --------------------------------------------------------------------------------


def test_an_ingest_rejection_has_a_code_a_message_and_every_error(client, doc, token, feature):
    record = {"feature": feature.key, "request_id": "r-1", "messages": [], "prompt_tokens": -1}
    response = _post(client, INGEST, record, token)
    assert response.status_code == 400
    body = response.json()
    response_body(doc, INGEST, "post", 400).validate(body)
    assert body["code"] == "bad_request"
    assert body["message"] == body["errors"][0]["message"]
    assert body["field"] == body["errors"][0]["field"]
    assert {e["field"] for e in body["errors"]} == {"messages", "prompt_tokens"}


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", INGEST),
        ("put", FEEDBACK),
        ("post", "/api/v1/features/support-reply/served"),
        ("delete", "/api/v1/rollouts/6f1c1a52-51d8-4c3e-9d7b-0d2b3f1f7c11"),
        ("post", "/api/v1/openapi.json"),
    ],
)
def test_a_wrong_method_is_a_json_405_with_allow(client, doc, feature, method, url):
    response = getattr(client, method)(url)
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] in ("GET", "POST")
    validator(doc, "components", "schemas", "Error").validate(response.json())
    assert response.json()["code"] == "method_not_allowed"


def test_a_whole_number_score_written_as_a_float_is_stored(client, doc, token, feature):
    """JSON Schema counts 4.0 as an integer, so the documented contract accepts it."""
    from registry.models import RequestLog

    RequestLog.objects.create(
        feature=feature,
        request_id="req-9",
        source=RequestLog.Source.INGEST,
        config=feature.served_config,
        variant=RequestLog.Variant.BASELINE,
        messages=[{"role": "user", "content": "hi"}],
        started="2026-01-01T00:00:00Z",
    )
    invalidate_local()
    body = {"feature": feature.key, "request_id": "req-9", "score": 4.0}
    assert request_body(doc, FEEDBACK).is_valid(body)
    response = _post(client, FEEDBACK, body, token)
    assert response.status_code == 201, response.json()
    assert response.json()["value"] == 4


# --- the schema's shape ------------------------------------------------------------------------


def test_every_rejection_is_documented_with_one_error_component(doc):
    api_ops = gateway_ops = 0
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if path == "/api/v1/health":
                continue
            expected = "GatewayError" if path.startswith("/v1/") else "Error"
            gateway_ops += expected == "GatewayError"
            api_ops += expected == "Error"
            assert {"401", "503"} <= set(responses), (method, path)
            for status, response in responses.items():
                if status[0] in "45":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": f"#/components/schemas/{expected}"}, (
                        method,
                        path,
                        status,
                    )
            if path.startswith("/api/v1/"):
                assert "Retry-After" in responses["503"]["headers"], (method, path)
    assert api_ops == 9
    assert gateway_ops == 2
    ingest = doc["paths"][INGEST]["post"]["responses"]
    assert {"400", "401", "403", "404", "409", "413", "415", "422", "503"} <= set(ingest)
    feedback = doc["paths"][FEEDBACK]["post"]["responses"]
    assert {"400", "401", "403", "404", "413", "415", "503"} <= set(feedback)
    assert "errors" in doc["components"]["schemas"]["Error"]["properties"]


def test_the_health_endpoint_is_documented_when_routed(doc):
    from django.urls import reverse

    assert reverse("api_health") in doc["paths"]
    assert doc["paths"][reverse("api_health")]["get"]["security"] == []
