"""The application API: JSON in, JSON out; every error names the field and the fix."""

from django.db import transaction
from django.http import HttpResponse, JsonResponse

from registry.models import Feature, Feedback, RequestLog
from registry.services.audit import db_now
from registry.services.serving import served_at
from registry.timeparse import BadInstant, parse_instant
from traffic.ingest import IngestError, ingest
from traffic.metrics import record_feedback
from traffic.routing import current_table
from traffic.views.apiauth import (
    ApiRequest,
    BadBody,
    api_auth,
    api_error,
    api_methods,
    json_body,
    token_may_use,
    token_required,
)


@api_methods("GET")
@api_auth
def feature_served(request: ApiRequest, key: str) -> JsonResponse:
    feature = Feature.objects.filter(key=key).first()
    if feature is None:
        return api_error(404, f"No feature with key '{key}'.", "key")
    if not token_may_use(request, feature.pk):
        return api_error(403, f"This token is not scoped to feature '{key}'.", "key")
    raw = request.GET.get("at")
    try:
        when = db_now() if raw is None else parse_instant(raw)
    except BadInstant as exc:
        return api_error(400, str(exc), "at")
    return JsonResponse(served_at(feature=feature, when=when).as_json())


@api_methods("GET")
@api_auth
def feature_assignment(request: ApiRequest, key: str) -> HttpResponse:
    """Which config serves this unit now. Answered from the in-process routing table."""
    route = current_table().routes.get(key)
    if route is None:
        return api_error(404, f"No feature with key '{key}'.", "key")
    if not token_may_use(request, route.feature_id):
        return api_error(403, f"This token is not scoped to feature '{key}'.", "key")
    unit = request.GET.get("unit", "")
    if not unit or len(unit) > 200 or "\x00" in unit:
        return api_error(400, "Give the unit (user or session key, 1-200 characters).", "unit")
    variant, config = route.choose(unit)
    etag = f'"{route.etag}-{variant[0]}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        response = JsonResponse(
            {
                "feature": key,
                "unit": unit,
                "variant": variant,
                "config": config.code,
                "config_name": config.name,
                "model_version": config.model_id,
                "provider": _provider_json(config.provider, for_token=request.api_token),
                "prompt_template": config.system_prompt,
                "parameters": config.params,
                "rollout": {"status": route.rollout_status} if route.rollout_id else None,
            }
        )
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    return response


def _provider_json(provider, *, for_token: object) -> dict:
    """Name and style for applications; the base URL only for signed-in people. A token holder
    has no use for it (it calls through the gateway or its own client), and the URL maps the
    operator's network for anyone who steals a token. The key variable is never shown."""
    shown = {"name": provider.name, "api_style": provider.api_style}
    if for_token is None:
        shown["base_url"] = provider.base_url
    return shown


@api_methods("POST")
@api_auth
@token_required
def ingest_calls(request: ApiRequest) -> JsonResponse:
    try:
        body = json_body(request)
        outcomes = ingest(body, table=current_table(), token=request.api_token)
    except BadBody as exc:
        return api_error(exc.status, str(exc), exc.field)
    except IngestError as exc:
        return api_error(exc.status, str(exc), exc.field, code=exc.code, errors=exc.errors)
    status = 201 if any(not o.duplicate for o in outcomes) else 200
    if isinstance(body, dict) and "records" in body:
        return JsonResponse({"results": [o.as_json() for o in outcomes]}, status=status)
    return JsonResponse(outcomes[0].as_json(), status=status)


FEEDBACK_FIELDS = {"feature", "request_id", "thumbs", "score", "comment"}


@api_methods("POST")
@api_auth
@token_required
def feedback(request: ApiRequest) -> JsonResponse:
    try:
        body = json_body(request)
    except BadBody as exc:
        return api_error(exc.status, str(exc), exc.field)
    if not isinstance(body, dict):
        return api_error(400, "Send a JSON object.")
    unknown = sorted(set(body) - FEEDBACK_FIELDS)
    if unknown:
        return api_error(400, f"Unknown field '{unknown[0]}'.", unknown[0])
    for name in ("feature", "request_id"):
        if not isinstance(body.get(name), str) or not body[name]:
            return api_error(400, f"'{name}' is required (a string).", name)
    comment = body.get("comment", "")
    if not isinstance(comment, str) or len(comment) > 5000:
        return api_error(400, "'comment' must be text of at most 5000 characters.", "comment")
    if ("thumbs" in body) == ("score" in body):
        return api_error(
            400, "Give exactly one of 'thumbs' (\"up\"/\"down\") or 'score' (1-5).", "thumbs"
        )
    if "thumbs" in body:
        if body["thumbs"] not in ("up", "down"):
            return api_error(400, '\'thumbs\' must be "up" or "down".', "thumbs")
        kind, value = Feedback.Kind.THUMBS, 1 if body["thumbs"] == "up" else -1
    else:
        score = body["score"]
        if isinstance(score, float) and score.is_integer():
            score = int(score)  # 4.0 is an integer in JSON Schema, so the documented contract
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            return api_error(400, "'score' must be a whole number from 1 to 5.", "score")
        kind, value = Feedback.Kind.SCORE, score
    route = current_table().routes.get(body["feature"])
    if route is None:
        return api_error(404, f"No feature with key '{body['feature']}'.", "feature")
    if not token_may_use(request, route.feature_id):
        return api_error(
            403, f"This token is not scoped to feature '{route.feature_key}'.", "feature"
        )
    log = (
        RequestLog.objects.filter(feature_id=route.feature_id, request_id=body["request_id"])
        .only("pk", "rollout_id", "variant", "started")
        .first()
    )
    if log is None:
        return api_error(
            404,
            f"No request '{body['request_id']}' of this feature; ingest or route the call first.",
            "request_id",
        )
    with transaction.atomic():  # the feedback and its minute's count, together or neither
        saved = Feedback.objects.create(
            request=log, kind=kind, value=value, comment=route.redactor.text(comment)
        )
        record_feedback(request=log, kind=kind, value=value)
    return JsonResponse(
        {"id": saved.pk, "request_id": body["request_id"], "kind": kind, "value": value}, status=201
    )
