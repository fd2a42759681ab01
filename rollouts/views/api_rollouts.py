from django.core.exceptions import ValidationError
from django.http import JsonResponse

from registry.errors import DomainError
from registry.models import Rollout
from registry.roles import Role, has_role
from rollouts.services import rollouts as rollout_services
from traffic.views.apiauth import (
    ApiRequest,
    BadBody,
    api_auth,
    api_error,
    api_methods,
    json_body,
    token_may_use,
)


def rollout_json(rollout: Rollout) -> dict:
    return {
        "rollout": str(rollout.code),
        "feature": rollout.feature.key,
        "status": rollout.status,
        "baseline": {"config": str(rollout.baseline.code), "name": rollout.baseline.name},
        "candidate": {"config": str(rollout.candidate.code), "name": rollout.candidate.name},
        "candidate_percent": rollout.candidate_percent,
        "shadow_sample_percent": rollout.shadow_sample_bp / 100,
        "created": rollout.created.isoformat(),
        "ended": rollout.ended.isoformat() if rollout.ended else None,
    }


def _get(code) -> Rollout | None:
    return (
        Rollout.objects.select_related("feature", "baseline", "candidate").filter(code=code).first()
    )


@api_methods("GET")
@api_auth
def rollout_detail(request: ApiRequest, code) -> JsonResponse:
    rollout = _get(code)
    if rollout is None or not token_may_use(request, rollout.feature_id):
        return api_error(404, f"No rollout {code}.", "code")
    return JsonResponse(rollout_json(rollout))


@api_methods("POST")
@api_auth
def rollback(request: ApiRequest, code) -> JsonResponse:
    """Release managers only (signed in): applications read routing, people move it."""
    rollout = _get(code)
    if rollout is None or not token_may_use(request, rollout.feature_id):
        return api_error(404, f"No rollout {code}.", "code")
    if request.api_token is not None or not has_role(request.user, Role.RELEASE_MANAGER):
        return api_error(403, "Rolling back needs a signed-in release manager.")
    try:
        body = json_body(request)
        reason = body.get("reason", "") if isinstance(body, dict) else ""
        if not isinstance(reason, str):
            raise BadBody(400, "'reason' must be text.", "reason")
        rollout = rollout_services.rollout_rollback(
            rollout=rollout, actor=request.user, reason=reason
        )
    except BadBody as exc:
        return api_error(exc.status, str(exc), exc.field)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        return api_error(400, messages[0], field)
    except DomainError as exc:
        return api_error(409, str(exc))
    return JsonResponse(rollout_json(rollout))
