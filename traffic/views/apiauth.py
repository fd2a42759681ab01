"""Authentication and body parsing shared by the JSON API views."""

from functools import wraps

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from traffic.jsonbody import MAX_BODY_BYTES, BadBody, parse_json
from traffic.ratelimit import api_limiter
from traffic.routing import TokenView, current_table
from traffic.tokens import token_check


class ApiRequest(HttpRequest):
    """A request that passed `api_auth`: who called, for the audit trail and the scope checks."""

    api_token: TokenView | None
    api_actor: object  # a User (session) or "token:<name>"


# The code of an error body when the caller names none: one per status, stable for clients.
ERROR_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}


def api_error(
    status: int, message: str, field: str | None = None, *, code: str | None = None, **extra
) -> JsonResponse:
    """Every API rejection: `{code, message, field?}`. `error` repeats the message for clients
    written against the first version of the API."""
    body: dict = {"code": code or ERROR_CODES.get(status, "error"), "message": message}
    body["error"] = message
    if field:
        body["field"] = field
    body.update(extra)
    return JsonResponse(body, status=status)


def api_methods(*methods: str):
    """Like Django's `require_http_methods`, but the 405 is an API error body (JSON, with
    `Allow`), not an empty HTML page."""

    def decorator(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method not in methods:
                response = api_error(
                    405, f"Use {' or '.join(methods)} on this endpoint.", code="method_not_allowed"
                )
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def api_auth(view):
    """An API token (`Authorization: Bearer rdk_...`) or a signed-in session.

    Sets request.api_token (TokenView or None) and request.api_actor (for the audit trail).
    A token's requests count against its per-minute limit (traffic/ratelimit.py): over it, 429
    with `Retry-After`, before the view runs.
    Session callers of unsafe methods pass the CSRF check; token callers need none.
    """

    @csrf_exempt
    @wraps(view)
    def wrapper(request: ApiRequest, *args, **kwargs):
        header = request.headers.get("Authorization", "")
        request.api_token = None
        if header:
            scheme, _, raw = header.partition(" ")
            bearer = scheme.lower() == "bearer"
            token = token_check(current_table(), raw.strip()) if bearer else None
            if token is None:
                return api_error(
                    401,
                    "Invalid or revoked API token: send 'Authorization: "
                    "Bearer rdk_...' with a live token.",
                )
            request.api_token = token
            request.api_actor = f"token:{token.name}"
            verdict = api_limiter.check(token)
            if not verdict.allowed:
                response = api_error(
                    429, verdict.message(), limit=verdict.limit, retry_after=verdict.retry_after
                )
                response["Retry-After"] = str(verdict.retry_after)
                return response
        elif request.user.is_authenticated:
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                # Django's CSRF check reads a form body for its token: refuse what the view
                # would refuse (too large, not JSON) before any of it is read or parsed.
                try:
                    _readable(request)
                except BadBody as exc:
                    return api_error(exc.status, str(exc), exc.field)
                refused = CsrfViewMiddleware(_no_response).process_view(request, _no_view, (), {})
                if refused is not None:
                    return api_error(
                        403, "CSRF check failed: send the X-CSRFToken header, or use an API token."
                    )
            request.api_actor = request.user
        else:
            return api_error(401, "Authentication required: send an API token or sign in.")
        return view(request, *args, **kwargs)

    return wrapper


def token_required(view):
    """Only an API token may call this view (put it under `api_auth`).

    Applications write, people read: a record ingested or a feedback posted costs provider calls
    (shadow jobs) and feeds the guardrails, so it must come from an application a token names,
    never from whoever happens to hold a signed-in browser session.
    """

    @wraps(view)
    def wrapper(request: ApiRequest, *args, **kwargs):
        if request.api_token is None:
            return api_error(
                403,
                "This endpoint records production traffic and takes an API token: send "
                "'Authorization: Bearer rdk_...' (an admin creates tokens under Admin > API "
                "tokens). A signed-in session may only read.",
                code="token_required",
            )
        return view(request, *args, **kwargs)

    return wrapper


def _no_response(request: HttpRequest) -> HttpResponse:
    raise AssertionError("the CSRF check is only asked for its verdict")


_no_view = _no_response


def token_may_use(request: ApiRequest, feature_id: int) -> bool:
    token = request.api_token
    return token is None or feature_id in token.feature_ids


def _readable(request: HttpRequest) -> None:
    """BadBody for a body refused by its headers alone (size, type), before it is read."""
    length = request.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise BadBody(413, f"The body is larger than {MAX_BODY_BYTES} bytes; send smaller batches.")
    if request.content_type != "application/json":
        raise BadBody(415, "Send the body as JSON with 'Content-Type: application/json'.")


def json_body(request: HttpRequest):
    """The request's JSON body, or BadBody naming what is wrong with it."""
    _readable(request)
    try:
        raw = request.body
    except RequestDataTooBig:
        raise BadBody(413, f"The body is larger than {MAX_BODY_BYTES} bytes.") from None
    if len(raw) > MAX_BODY_BYTES:
        raise BadBody(413, f"The body is larger than {MAX_BODY_BYTES} bytes.")
    return parse_json(raw)
