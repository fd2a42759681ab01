"""The read side of the application API. JSON in, JSON out; errors name the field."""

from functools import wraps

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from rollouts.models import Feature
from rollouts.services.audit import db_now
from rollouts.services.serving import served_at
from rollouts.timeparse import BadInstant, parse_instant


def api_error(status: int, message: str, field: str | None = None) -> JsonResponse:
    body = {"error": message}
    if field:
        body["field"] = field
    return JsonResponse(body, status=status)


def api_auth(view):
    """Signed-in users (session) may call the read API; API tokens arrive with the traffic API."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return api_error(401, "Authentication required: sign in, or send an API token.")
        return view(request, *args, **kwargs)

    return wrapper


@require_GET
@api_auth
def feature_served(request: HttpRequest, key: str) -> JsonResponse:
    feature = Feature.objects.filter(key=key).first()
    if feature is None:
        return api_error(404, f"No feature with key '{key}'.", "key")
    raw = request.GET.get("at")
    try:
        when = db_now() if raw is None else parse_instant(raw)
    except BadInstant as exc:
        return api_error(400, str(exc), "at")
    return JsonResponse(served_at(feature=feature, when=when).as_json())
