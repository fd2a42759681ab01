"""Authentication and body parsing shared by the JSON API views."""

from functools import wraps

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from rollouts.jsonbody import MAX_BODY_BYTES, BadBody, parse_json
from rollouts.routing import current_table
from rollouts.services.tokens import token_check


def api_error(status: int, message: str, field: str | None = None, **extra) -> JsonResponse:
    body: dict = {"error": message}
    if field:
        body["field"] = field
    body.update(extra)
    return JsonResponse(body, status=status)


def api_auth(view):
    """An API token (`Authorization: Bearer rdk_...`) or a signed-in session.

    Sets request.api_token (TokenView or None) and request.api_actor (for the audit trail).
    Session callers of unsafe methods pass the CSRF check; token callers need none.
    """

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
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
        elif request.user.is_authenticated:
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                refused = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
                if refused is not None:
                    return api_error(
                        403, "CSRF check failed: send the X-CSRFToken header, or use an API token."
                    )
            request.api_actor = request.user
        else:
            return api_error(401, "Authentication required: send an API token or sign in.")
        return view(request, *args, **kwargs)

    return wrapper


def token_may_use(request: HttpRequest, feature_id: int) -> bool:
    token = request.api_token
    return token is None or feature_id in token.feature_ids


def json_body(request: HttpRequest):
    """The request's JSON body, or BadBody naming what is wrong with it."""
    length = request.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise BadBody(413, f"The body is larger than {MAX_BODY_BYTES} bytes; send smaller batches.")
    if request.content_type != "application/json":
        raise BadBody(415, "Send the body as JSON with 'Content-Type: application/json'.")
    try:
        raw = request.body
    except RequestDataTooBig:
        raise BadBody(413, f"The body is larger than {MAX_BODY_BYTES} bytes.") from None
    if len(raw) > MAX_BODY_BYTES:
        raise BadBody(413, f"The body is larger than {MAX_BODY_BYTES} bytes.")
    return parse_json(raw)
