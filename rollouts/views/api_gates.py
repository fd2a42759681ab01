"""The gate for deployment pipelines: start one for a feature and a candidate config, then poll
its verdict (as promptfoo users gate their CI). Starting takes a token scoped to the feature."""

import re
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.urls import reverse

from evaluations.models import Gate
from evaluations.services.gates import gate_start
from evaluations.services.runs import MAX_TRIALS
from registry.errors import Conflict, DomainError
from registry.models import Feature, ModelConfig, Rollout
from rollouts.services import rollouts as rollout_services
from rollouts.services.candidates import candidate_refusal
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


def gate_json(gate: Gate) -> dict[str, Any]:
    report = gate.report or {}
    runs = sorted(gate.runs.select_related("suite"), key=lambda r: (r.suite.name, r.side))
    suites = {str(r.suite.code): r.suite.name for r in runs}

    def first(side: str) -> str | None:
        return next((str(r.code) for r in runs if r.side == side), None)

    return {
        "code": str(gate.code),
        "feature": gate.feature.key,
        "rollout": str(gate.rollout.code) if gate.rollout else None,
        "verdict": gate.verdict,
        "clears": gate.clears,
        "created": gate.created.isoformat(),
        "finished": gate.finished.isoformat() if gate.finished else None,
        "baseline": str(gate.baseline.code),
        "candidate": str(gate.candidate.code),
        "trials": gate.trials,
        # The first suite's runs; `runs` lists every suite's.
        "baseline_run": first("baseline"),
        "candidate_run": first("candidate"),
        "runs": [
            {"code": str(r.code), "suite": r.suite.name, "side": r.side, "status": r.status}
            for r in runs
        ],
        "reasons": report.get("reasons", []),
        "regressed": [
            {"case": c["name"], "suite": suites.get(c["suite"], c["suite"]), "reason": c["reason"]}
            for c in report.get("cases", [])
            if c.get("blocks") or c.get("change") == "regressed"
        ],
        "dimensions": report.get("dimensions", []),
    }


FEATURE_KEY = re.compile(r"[-a-zA-Z0-9_]{1,64}")


def _parse(body: object) -> tuple[str, uuid.UUID, int]:
    if not isinstance(body, dict):
        raise BadBody(400, "Send a JSON object: {feature, candidate, trials}.", "(body)")
    feature = body.get("feature")
    if not isinstance(feature, str) or not FEATURE_KEY.fullmatch(feature):
        raise BadBody(400, "'feature' is required: the key of the feature to gate.", "feature")
    raw = body.get("candidate")
    try:
        candidate = uuid.UUID(raw) if isinstance(raw, str) else None
    except ValueError:
        candidate = None
    if candidate is None or str(candidate) != str(raw).lower():  # only the canonical form
        raise BadBody(400, "'candidate' is required: the code (a UUID) of a config.", "candidate")
    trials = body.get("trials", 1)
    if isinstance(trials, float) and trials.is_integer():
        trials = int(trials)
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= MAX_TRIALS:
        raise BadBody(400, f"'trials' must be a whole number from 1 to {MAX_TRIALS}.", "trials")
    return feature, candidate, trials


@api_methods("POST")
@api_auth
@token_required
def gates(request: ApiRequest) -> JsonResponse:
    """Start a gate. If the feature's active rollout (draft or gate) has this candidate, the
    gate is that rollout's; otherwise it stands alone and moves nothing."""
    try:
        key, code, trials = _parse(json_body(request))
    except BadBody as exc:
        return api_error(exc.status, str(exc), exc.field)
    feature = Feature.objects.select_related("served_config").filter(key=key).first()
    if feature is None:
        return api_error(404, f"No feature '{key}'.", "feature")
    if not token_may_use(request, feature.pk):
        return api_error(403, f"This token is not scoped to feature '{key}'.", "feature")
    candidate = ModelConfig.objects.filter(code=code).first()
    if candidate is None:
        return api_error(404, f"No config {code}.", "candidate")
    # The rule of the rollout page, for a pipeline's token too: another feature's config was
    # written for that feature, and a token of this one must not run it (or learn its answers).
    refusal = candidate_refusal(feature, candidate)
    if refusal:
        return api_error(422, refusal, "candidate")
    rollout = Rollout.objects.filter(
        feature=feature,
        status__in=(Rollout.Status.DRAFT, Rollout.Status.GATE),
        candidate=candidate,
    ).first()
    try:
        if rollout is not None:
            gate = rollout_services.rollout_start_gate(
                rollout=rollout, actor=request.api_actor, trials=trials
            )
        else:
            gate = gate_start(
                feature=feature, candidate=candidate, actor=request.api_actor, trials=trials
            )
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        return api_error(422, messages[0], field)
    except (Conflict, DomainError) as exc:
        return api_error(409, str(exc))
    url = request.build_absolute_uri(reverse("api_gate", args=[gate.code]))
    response = JsonResponse(
        {"code": str(gate.code), "verdict": gate.verdict, "url": url}, status=202
    )
    response["Location"] = url
    return response


@api_methods("GET")
@api_auth
def gate_detail(request: ApiRequest, code: uuid.UUID) -> JsonResponse:
    gate = (
        Gate.objects.select_related("feature", "rollout", "baseline", "candidate")
        .filter(code=code)
        .first()
    )
    if gate is None or not token_may_use(request, gate.feature_id):
        return api_error(404, f"No gate {code}.", "code")
    return JsonResponse(gate_json(gate))
