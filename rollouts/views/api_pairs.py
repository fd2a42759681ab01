"""POST /api/v1/rollouts/<code>/pairs: import pairs produced elsewhere (comparisons/services/
importing.py has the record format). Applications write with a token; all or nothing."""

from django.http import JsonResponse

from comparisons.batches import ImportBatch
from comparisons.services import importing
from registry.errors import DomainError
from registry.models import Rollout
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


def _refused(
    errors: list[importing.RecordError], count: int, message: str, *, status: int = 400
) -> JsonResponse:
    first = errors[0] if errors else None
    return api_error(
        status,
        f"{message} {first}" if first else message,
        first.path if first else None,
        errors=[{"field": e.path, "message": e.message} for e in errors[:20]],
        error_count=count,
    )


@api_methods("POST")
@api_auth
@token_required
def import_pairs(request: ApiRequest, code) -> JsonResponse:
    rollout = Rollout.objects.select_related("feature").filter(code=code).first()
    if rollout is None or not token_may_use(request, rollout.feature_id):
        return api_error(404, f"No rollout {code}.", "code")
    try:
        body = json_body(request)
    except BadBody as exc:
        return api_error(exc.status, str(exc), exc.field)
    parsed = importing.parse_api_records(body)
    if parsed.error_count:
        # Every record well formed, only a request id given twice: a conflict (409), as a
        # request id the rollout already has is; the schema cannot say ids are unique.
        valid = {r.where for r in parsed.records}
        repeats = all(e.field == "request_id" and e.where in valid for e in parsed.errors)
        status = 409 if repeats and len(parsed.errors) == parsed.error_count else 400
        return _refused(parsed.errors, parsed.error_count, "Nothing imported:", status=status)
    try:
        batch = importing.pairs_import(
            rollout=rollout,
            parsed=parsed,
            actor=request.api_actor,
            source=ImportBatch.Source.API,
        )
    except importing.ImportRefused as exc:
        # The records were valid (checked above): what is refused is a request id the rollout
        # already has a pair for, a conflict with what is stored, as ingest's reused id is.
        return _refused(exc.errors, exc.count, str(exc), status=409)
    except DomainError as exc:
        return api_error(409, str(exc))
    return JsonResponse(
        {
            "import": str(batch.code),
            "rollout": str(rollout.code),
            "records": batch.records,
            "pairs": batch.pairs,
            "flagged": batch.flagged,
            "queued": batch.queued,
            "unpinned": batch.unpinned,
        },
        status=201,
    )
