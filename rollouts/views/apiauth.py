"""Authentication and body parsing shared by the JSON API views."""

import json
import math
import re
from functools import wraps

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from rollouts.routing import current_table
from rollouts.services.tokens import token_check

# Documented in the OpenAPI schema and the README.
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 32
# Valid JSON ("\ud800") but not storable text: no database encodes a lone UTF-16 surrogate.
_SURROGATE = re.compile("[\ud800-\udfff]")


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
            token = token_check(current_table(), raw.strip()) if scheme == "Bearer" else None
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


class BadBody(ValueError):
    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.field = status, field


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _check(value, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise BadBody(400, f"The body nests deeper than {MAX_DEPTH} levels.", path or None)
    if isinstance(value, str):
        if "\x00" in value:
            raise BadBody(400, "Text may not contain NUL bytes (\\u0000).", path or None)
        if _SURROGATE.search(value):
            raise BadBody(
                400, "Text may not contain lone surrogates (\\ud800-\\udfff).", path or None
            )
    elif isinstance(value, float):
        if not math.isfinite(value):  # 1e400 parses to infinity, which JSON columns refuse
            raise BadBody(400, "Numbers must be finite (this one overflows).", path or None)
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key or _SURROGATE.search(key):
                raise BadBody(
                    400, "Keys may not contain NUL bytes or lone surrogates.", path or None
                )
            _check(item, f"{path}.{key}" if path else key, depth + 1)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _check(item, f"{path}[{n}]", depth + 1)


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
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise BadBody(400, f"The body nests deeper than {MAX_DEPTH} levels.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBody(400, f"The body is not valid JSON: {str(exc)[:200]}") from None
    _check(body, "", 0)
    return body
