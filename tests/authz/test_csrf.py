"""CSRF over the matrix: every state-changing page request without a CSRF token, or with a
wrong one, is refused with a 403 that says why and writes nothing; the same request with the
right token is not refused (so the refusal is CSRF's). API endpoints authenticated by a bearer
token are exempt by design, which is safe only if a session cookie alone cannot drive them."""

from dataclasses import replace

import pytest

from registry.models import AuditEvent

from .matrix import WRITE_ROWS
from .runner import assert_api_error_shape, describe, outcome, send
from .symbols import ADMIN, ANON, OK, RELEASE, REVIEWER, TOKEN, VIEWER, Row
from .world import authz_world  # noqa: F401 - the module's world fixture

SECRET = "s" * 32  # a well-formed CSRF secret: Django accepts it unmasked as the token
WRONG = "w" * 32

# The page writes someone may make (a forgery needs a victim the row allows).
PAGE_WRITES = [
    r
    for r in WRITE_ROWS
    if not r.url.startswith(("/api/", "/simulator/")) and OK in r.expect.values()
]


def _victim(row: Row) -> str:
    """Whom a forged request would act as: someone the row allows (signed in if possible)."""
    return next(a for a in (RELEASE, REVIEWER, ADMIN, VIEWER, ANON) if row.expect[a] == OK)


def _ids(rows: list[Row]) -> list[str]:
    return [row.id for row in rows]


def _forged(world, row: Row, *, cookie: str | None, token: str | None, htmx: bool = False):
    actor = _victim(row)
    client = world.client(actor, enforce_csrf_checks=True)
    if cookie:
        client.cookies["csrftoken"] = cookie
    headers = {"HX-Request": "true"} if htmx else {}
    if token and htmx:
        headers["X-CSRFToken"] = token  # as the site's htmx sends it (hx-headers on <body>)
    elif token:
        row = replace(row, data={**(row.data or {}), "csrfmiddlewaretoken": token})
    return actor, send(world, row, actor, client=client, **headers)


@pytest.mark.parametrize("row", PAGE_WRITES, ids=_ids(PAGE_WRITES))
@pytest.mark.parametrize(
    ("cookie", "token", "htmx"),
    [(None, None, False), (SECRET, WRONG, False), (SECRET, WRONG, True)],
    ids=["no-token", "wrong-token", "wrong-htmx-header"],
)
def test_a_page_write_without_the_right_csrf_token_is_refused(
    authz_world,  # noqa: F811
    db,
    row,
    cookie,
    token,
    htmx,
):
    events = AuditEvent.objects.count()
    actor, (response, written) = _forged(authz_world, row, cookie=cookie, token=token, htmx=htmx)
    assert response.status_code == 403, describe(row, actor, response)
    assert b"CSRF" in response.content  # the page says why, never a stack trace
    assert written == set(), written
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("row", PAGE_WRITES, ids=_ids(PAGE_WRITES))
def test_the_same_write_with_the_right_token_passes_the_check(authz_world, db, row):  # noqa: F811
    actor, (response, _) = _forged(authz_world, row, cookie=SECRET, token=SECRET, htmx=True)
    assert outcome(response) == row.expect[actor], describe(row, actor, response)


API_WRITES = [r for r in WRITE_ROWS if r.url.startswith("/api/")]


@pytest.mark.parametrize("row", API_WRITES, ids=_ids(API_WRITES))
@pytest.mark.parametrize("person", [VIEWER, RELEASE, ADMIN])
def test_a_session_cookie_alone_cannot_drive_the_api(authz_world, db, row, person):  # noqa: F811
    """A forged cross-site POST carries the cookie but no CSRF token: refused, nothing written,
    JSON either way."""
    events = AuditEvent.objects.count()
    client = authz_world.client(person, enforce_csrf_checks=True)
    response, written = send(authz_world, row, person, client=client)
    assert response.status_code == 403, describe(row, person, response)
    assert_api_error_shape(response)
    assert written == set() and AuditEvent.objects.count() == events


@pytest.mark.parametrize("row", API_WRITES, ids=_ids(API_WRITES))
def test_a_session_with_the_right_csrf_token_gets_what_the_matrix_says(
    authz_world,  # noqa: F811
    db,
    row,
):
    """Only rollback takes a signed-in release manager; every other API write takes a token
    (403 token_required) even from a browser that passes the CSRF check."""
    client = authz_world.client(RELEASE, enforce_csrf_checks=True)
    client.cookies["csrftoken"] = SECRET
    response, _ = send(authz_world, row, RELEASE, client=client, **{"X-CSRFToken": SECRET})
    assert outcome(response) == row.expect[RELEASE], describe(row, RELEASE, response)


@pytest.mark.parametrize("row", API_WRITES, ids=_ids(API_WRITES))
def test_a_token_needs_no_csrf_token(authz_world, db, row):  # noqa: F811
    client = authz_world.client(TOKEN, enforce_csrf_checks=True)
    response, _ = send(authz_world, row, TOKEN, client=client)
    assert outcome(response) == row.expect[TOKEN], describe(row, TOKEN, response)


READ_ONLY_API = ["/api/v1/health", "/api/v1/openapi.json", "/api/v1/gates/{gate}"]


@pytest.mark.parametrize("path", READ_ONLY_API)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_an_unsafe_method_on_a_read_only_endpoint_answers_json(authz_world, db, path, method):  # noqa: F811
    """Real clients always meet the CSRF check; what it refuses under /api/ is JSON too."""
    for actor in (ANON, RELEASE):
        client = authz_world.client(actor, enforce_csrf_checks=True)
        response = client.generic(method, path.format(**authz_world.fmt))
        assert response.status_code in (403, 405), (path, method, response.status_code)
        assert_api_error_shape(response)
