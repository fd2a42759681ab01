"""POST actions on a rollout. The role is checked first (403 for everyone but release managers),
then the state machine (rollouts/services/plan.py), then the service, which re-checks by
compare-and-set. Each handler returns the sentence the release manager sees."""

import uuid
from collections.abc import Callable
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from evaluations.services.gates import gate_acknowledge, latest_gate
from registry.errors import DomainError
from registry.models import ModelConfig, ModelVersion, Rollout
from rollouts.services import rollouts as services
from rollouts.services.candidates import config_from_baseline
from rollouts.services.completion import feature_revert_to_previous, rollout_complete
from rollouts.services.plan import ACTIONS, action_refusal
from rollouts.services.promotion import rollout_pause, rollout_promote, rollout_resume
from rollouts.services.stages import PlannedStage, stage_plan_update
from rollouts.views.rollouts import get_rollout_for_user

Handler = Callable[[HttpRequest, Rollout], str]


@require_POST
@login_required
def rollout_act(request: HttpRequest, code: uuid.UUID, action: str) -> HttpResponse:
    rollout = get_rollout_for_user(request, code, act=True)
    if action not in ACTIONS:
        raise Http404("Unknown action.")
    refusal = action_refusal(rollout, request.user, action)
    if refusal:
        messages.error(request, refusal)
        return redirect("rollout_detail", code=rollout.code)
    try:
        done = HANDLERS[action](request, rollout)
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("rollout_detail", code=rollout.code)


def _text(request: HttpRequest, name: str) -> str:
    return request.POST.get(name, "").strip()


def _shadow(request: HttpRequest, rollout: Rollout) -> str:
    services.rollout_start_shadow(
        rollout=rollout, actor=request.user, reason=_text(request, "reason")
    )
    return "Shadow traffic started: the candidate answers production requests unseen."


def _gate(request: HttpRequest, rollout: Rollout) -> str:
    trials = _int(request.POST, "trials", 1)
    services.rollout_start_gate(rollout=rollout, actor=request.user, trials=trials)
    return "The eval gate runs on the baseline and the candidate."


def _acknowledge(request: HttpRequest, rollout: Rollout) -> str:
    gate = latest_gate(rollout)
    if gate is None or gate.candidate_id != rollout.candidate_id:
        raise DomainError("There is no gate on this candidate to acknowledge.")
    gate_acknowledge(gate=gate, actor=request.user, note=request.POST.get("note", ""))
    return "Gate acknowledged: shadow traffic may start."


def _candidate(request: HttpRequest, rollout: Rollout) -> str:
    reason = _text(request, "reason")
    with transaction.atomic():
        if request.POST.get("candidate") == "new":
            candidate = new_config_from_post(request, rollout)
        else:
            code = _uuid(request.POST, "candidate")
            found = ModelConfig.objects.filter(code=code).first() if code else None
            if found is None:
                raise ValidationError({"candidate": "Pick the config to gate next."})
            candidate = found
        services.rollout_change_candidate(
            rollout=rollout, candidate=candidate, actor=request.user, reason=reason
        )
    return f"The candidate is now '{candidate.name}': run the gate on it."


def new_config_from_post(
    request: HttpRequest, rollout: Rollout | None, feature=None
) -> ModelConfig:
    """The "new config from the baseline" fields (new_*) as a revision of the served config.
    Field errors come back under the form's names (new_temperature, ...)."""
    feature = feature or rollout.feature  # type: ignore[union-attr]
    code = _uuid(request.POST, "new_model_version")
    version = ModelVersion.objects.filter(code=code).first() if code else None
    if version is None:
        raise ValidationError({"new_model_version": "Pick the model version of the new config."})
    try:
        return config_from_baseline(
            feature=feature,
            actor=request.user,
            name=_text(request, "new_name"),
            model_version=version,
            system_prompt=request.POST.get("new_system_prompt", ""),
            temperature=_float(request.POST, "new_temperature"),
            max_tokens=_opt_int(request.POST, "new_max_tokens"),
        )
    except ValidationError as exc:
        raise ValidationError(
            {f"new_{field}": errors for field, errors in exc.message_dict.items()}
        ) from None


def _judge(request: HttpRequest, rollout: Rollout) -> str:
    code = _uuid(request.POST, "judge_config")
    judge = ModelConfig.objects.filter(code=code).first() if code else None
    if code and judge is None:
        raise ValidationError({"judge_config": "No such config; pick one from the list."})
    services.rollout_set_judge(
        rollout=rollout, judge_config=judge, actor=request.user, reason=_text(request, "reason")
    )
    return "Judge updated." if judge else "The judge is off."


def _promote(request: HttpRequest, rollout: Rollout) -> str:
    approval = rollout_promote(
        rollout=rollout,
        actor=request.user,  # type: ignore[arg-type]
        note=_text(request, "note"),
        override_reason=_text(request, "override_reason"),
        expected_position=_opt_int(request.POST, "stage"),
        accept_inconclusive=request.POST.get("accept_inconclusive") == "yes",
    )
    rollout.refresh_from_db()
    if rollout.candidate_bp == approval.to_stage.candidate_bp and rollout.status == "canary":
        return f"Promoted: the candidate serves {rollout.candidate_percent:g}% of units now."
    return (
        "Your approval is recorded. The two-person rule needs a second release manager's "
        "approval before the promotion happens."
    )


def _plan(request: HttpRequest, rollout: Rollout) -> str:
    rows: list[PlannedStage] = []
    for i in range(1, 21):
        raw = [
            request.POST.get(f"{name}_{i}", "").strip() for name in ("percent", "hours", "samples")
        ]
        if not any(raw):
            continue
        percent = _float(request.POST, f"percent_{i}", field=f"stages[{len(rows) + 1}].percent")
        hours = _float(request.POST, f"hours_{i}", field=f"stages[{len(rows) + 1}].min_duration")
        samples = _opt_int(
            request.POST, f"samples_{i}", field=f"stages[{len(rows) + 1}].min_samples"
        )
        if percent is None:
            raise ValidationError({f"stages[{len(rows) + 1}].percent": "Give the percentage."})
        rows.append(
            PlannedStage(
                percent=percent,
                min_duration=timedelta(hours=hours or 0),
                min_samples=samples or 0,
            )
        )
    stage_plan_update(
        rollout=rollout, rows=rows, actor=request.user, reason=_text(request, "reason")
    )
    return "Stage plan saved."


def _pause(request: HttpRequest, rollout: Rollout) -> str:
    rollout_pause(rollout=rollout, actor=request.user, reason=_text(request, "reason"))
    return "Paused: the split stays as it is and nothing promotes until you resume."


def _resume(request: HttpRequest, rollout: Rollout) -> str:
    rollout_resume(rollout=rollout, actor=request.user, reason=_text(request, "reason"))
    return "Resumed: the stage's clock and sample count start over."


def _complete(request: HttpRequest, rollout: Rollout) -> str:
    rollout_complete(rollout=rollout, actor=request.user, note=_text(request, "note"))
    return f"Completed: '{rollout.candidate.name}' serves {rollout.feature.key} now."


def _rollback(request: HttpRequest, rollout: Rollout) -> str:
    services.rollout_rollback(rollout=rollout, actor=request.user, reason=_text(request, "reason"))
    return "Rolled back: every unit is served the baseline again."


def _abort(request: HttpRequest, rollout: Rollout) -> str:
    if request.POST.get("confirm") != "yes":
        raise ValidationError({"confirm": "Tick the box to confirm the abort."})
    services.rollout_abort(rollout=rollout, actor=request.user, reason=_text(request, "reason"))
    return "Aborted."


def _revert(request: HttpRequest, rollout: Rollout) -> str:
    feature = feature_revert_to_previous(
        feature=rollout.feature, actor=request.user, reason=_text(request, "reason")
    )
    return f"Reverted: '{feature.served_config.name}' serves {feature.key} again."


HANDLERS: dict[str, Handler] = {
    "gate": _gate,
    "acknowledge": _acknowledge,
    "candidate": _candidate,
    "judge": _judge,
    "shadow": _shadow,
    "plan": _plan,
    "promote": _promote,
    "pause": _pause,
    "resume": _resume,
    "complete": _complete,
    "rollback": _rollback,
    "abort": _abort,
    "revert": _revert,
}


def _int(data: QueryDict, name: str, default: int) -> int:
    value = _opt_int(data, name)
    return default if value is None else value


def _opt_int(data: QueryDict, name: str, *, field: str = "") -> int | None:
    raw = data.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationError({field or name: "Give a whole number."}) from None


def _float(data: QueryDict, name: str, *, field: str = "") -> float | None:
    raw = data.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ValidationError({field or name: "Give a number, e.g. 5 or 0.5."}) from None


def _uuid(data: QueryDict, name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(data.get(name, ""))
    except ValueError:
        return None
