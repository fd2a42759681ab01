"""Nothing under /api/ answers an HTML error page: unknown paths, malformed path parameters and
server errors are JSON `{code, message}`; pages keep Django's HTML answers."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client, RequestFactory

from rollout_site import errors


@pytest.fixture
def token_client(feature, db):
    from traffic.routing import invalidate_local
    from traffic.tokens import token_create

    _token, plaintext = token_create(name="app", features=[feature], actor=None)
    invalidate_local()
    return Client(headers={"Authorization": f"Bearer {plaintext}"})


def test_a_malformed_rollout_code_is_a_json_404_naming_the_field(token_client):
    response = token_client.get("/api/v1/rollouts/not-a-uuid")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "not_found" and body["field"] == "code"
    assert "'not-a-uuid' is not a valid code" in body["message"] and "UUID" in body["message"]
    rollback = token_client.post("/api/v1/rollouts/nope/rollback")
    assert rollback.status_code == 404 and rollback.json()["field"] == "code"


def test_a_malformed_feature_key_is_a_json_404_naming_the_field(token_client):
    response = token_client.get("/api/v1/features/no%20spaces!/assignment?unit=u")
    assert response.status_code == 404
    assert response.json()["field"] == "key"


def test_an_unknown_api_path_is_a_json_404(db):
    response = Client().get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "/api/v1/openapi.json" in response.json()["message"]


def test_pages_keep_the_html_404(db):
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_api_server_error_is_json_and_a_page_error_stays_html():
    factory = RequestFactory()
    api = errors.server_error(factory.get("/api/v1/ingest"))
    assert api.status_code == 500
    assert api["Content-Type"] == "application/json"
    assert api.content.startswith(b"{") and b'"code": "server_error"' in api.content
    page = errors.server_error(factory.get("/features/"))
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")


def test_the_site_uses_these_handlers():
    from rollout_site import urls

    assert urls.handler404 == "rollout_site.errors.page_not_found"
    assert urls.handler500 == "rollout_site.errors.server_error"


@pytest.mark.django_db
def test_a_wrong_method_on_the_health_endpoint_is_a_json_405():
    response = Client().post("/api/v1/health")
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "GET, HEAD"
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("status", "heading"),
    [(400, "Bad request"), (403, "Not allowed"), (404, "Not found"), (500, "went wrong")],
)
def test_page_errors_are_styled_pages_that_say_what_to_do(db, status, heading):
    factory = RequestFactory()
    request = factory.get("/features/<script>x</script>/")
    request.user = AnonymousUser()  # as the middleware leaves it; the pages never read it
    response = {
        400: lambda: errors.bad_request(request, Exception("bad")),
        403: lambda: errors.permission_denied(request, Exception("no")),
        404: lambda: errors.page_not_found(request, Exception("gone")),
        500: lambda: errors.server_error(request),
    }[status]()
    body = response.content.decode()
    assert response.status_code == status
    assert "css/app.css" in body and heading in body and 'href="/"' in body
    assert "<script>x" not in body  # the path is shown escaped


def test_a_refused_csrf_check_on_a_page_is_a_styled_page_and_saves_nothing(db, cast):
    from django.test import Client as CsrfClient

    client = CsrfClient(enforce_csrf_checks=True)
    client.force_login(cast["release"])
    response = client.post("/rollouts/new/", {"feature": "x"})
    body = response.content.decode()
    assert response.status_code == 403
    assert "This form has expired" in body and "Nothing was saved" in body
    assert "css/app.css" in body
