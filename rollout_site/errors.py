"""Error answers for the whole site: a database outage is a 503 that says when to retry, and
nothing under /api/ ever answers an HTML page.

- `DatabaseFaultMiddleware` turns a connectivity fault raised by a view (or while its template
  renders) into a 503: JSON `{code, message}` under /api/, a standalone page elsewhere, both with
  `Retry-After`. The page is rendered without the request, so no context processor (the user,
  the roles) touches the database it cannot reach.
- `handler400/403/404/500` (rollout_site/urls.py) answer JSON under /api/ and keep Django's
  pages elsewhere; the 500 handler also catches faults raised outside a view (in middleware).
"""

import logging
import re
import sys
import threading
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import Resolver404
from django.views import csrf, defaults

from registry.dbfaults import RETRY_AFTER_SECONDS, describe, is_db_fault
from traffic.views.apiauth import api_error

log = logging.getLogger("rollout_site.errors")

API_PREFIX = "/api/"
# A fault is logged at most this often: an outage is one line (plus how many requests it
# refused), not one per request.
LOG_EVERY_SECONDS = 60.0

# Path parameters the URL converters refuse, so a malformed one reaches the 404 handler; each
# names its field and what a valid value looks like.
_PATH_PARAMS = [
    (
        re.compile(r"^/api/v1/rollouts/(?P<value>[^/]+)(?:/rollback)?/?$"),
        "code",
        "a rollout code is a UUID, e.g. 1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    ),
    (
        re.compile(r"^/api/v1/features/(?P<value>[^/]+)/(?:served|assignment)/?$"),
        "key",
        "a feature key is a slug of letters, digits, '-' and '_'",
    ),
]

_log_lock = threading.Lock()
_logged_at: float | None = None
_refused_since_log = 0


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _note_fault(exc: BaseException, request: HttpRequest) -> None:
    global _logged_at, _refused_since_log
    with _log_lock:
        now = time.monotonic()
        if _logged_at is not None and now - _logged_at < LOG_EVERY_SECONDS:
            _refused_since_log += 1
            return
        refused, _refused_since_log, _logged_at = _refused_since_log, 0, now
    log.warning(
        "database unreachable (%s): answering 503 with Retry-After (%s %s%s)",
        describe(exc),
        request.method,
        request.path,
        f"; {refused} more requests refused since the last report" if refused else "",
    )


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """The 503 answer to a request that needed the database while it cannot be reached."""
    if _is_api(request):
        response: HttpResponse = api_error(
            503,
            f"The database is unreachable right now; retry in {RETRY_AFTER_SECONDS} s. "
            "Routing and assignment keep answering from the last known routing table.",
            code="unavailable",
        )
    else:
        retry_url = request.get_full_path() if request.method == "GET" else ""
        page = render_to_string(
            "503.html", {"retry_after": RETRY_AFTER_SECONDS, "retry_url": retry_url}
        )
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    # Django logs every 5xx as an error; the outage is logged by _note_fault, at most once a
    # minute, instead of one line per refused request.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


class DatabaseFaultMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_db_fault(exception):
            return None
        _note_fault(exception, request)
        return database_unavailable(request)


def _not_found_message(request: HttpRequest, exception: Exception) -> tuple[str, str | None]:
    path = request.path
    for pattern, field, rule in _PATH_PARAMS:
        match = pattern.match(path)
        if match:
            return f"'{match['value']}' is not a valid {field}: {rule}.", field
    if (
        not isinstance(exception, Resolver404)
        and exception.args
        and isinstance(exception.args[0], str)
    ):
        return exception.args[0], None
    return (
        f"No API endpoint at '{path}'; the endpoints are listed at /api/v1/openapi.json.",
        None,
    )


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_error(400, "The request could not be read (bad host header or encoding).")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_error(403, "This caller may not do that.")
    return defaults.permission_denied(request, exception)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A refused CSRF check (settings.CSRF_FAILURE_VIEW). Under /api/ it is JSON like every
    other refusal there: a client that POSTs to a read-only endpoint meets this check before
    the view's 405. Token-authenticated views are exempt and check sessions themselves."""
    if _is_api(request):
        return api_error(
            403,
            "CSRF check failed: a signed-in session sends its X-CSRFToken header; an "
            "application sends 'Authorization: Bearer rdk_...' instead.",
            code="csrf_failed",
        )
    return csrf.csrf_failure(request, reason=reason)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        message, field = _not_found_message(request, exception)
        return api_error(404, message, field)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this while handling the exception, so it is still at hand: a fault raised
    # outside a view (a middleware reading the session) is a 503 too.
    exc = sys.exc_info()[1]
    if exc is not None and is_db_fault(exc):
        _note_fault(exc, request)
        return database_unavailable(request)
    if _is_api(request):
        return api_error(
            500,
            "Something failed on our side and was logged; retry, and if it persists give the "
            "operator the time of the request.",
            code="server_error",
        )
    return defaults.server_error(request)
