"""Rollout transitions. Each is a compare-and-set on the status, audited, recorded in the serving
ledger when traffic moves, and visible to assignment and the gateway as soon as it commits."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from evaluations.models import Gate
from evaluations.services.gates import gate_cancel, gate_start, latest_gate
from registry import observability
from registry.errors import Conflict, DomainError
from registry.models import AuditEvent, Feature, ModelConfig, Rollout
from registry.models.serving import FULL, ServingShare
from registry.routing_state import routing_changed
from registry.services.audit import audit_record, db_now, snapshot
from registry.services.registry import lock_config
from registry.services.serving import serving_record
from rollouts.services.candidates import candidate_refusal
from rollouts.services.stages import stage_plan_create, stage_plan_end

STATUS = Rollout.Status


def _transition(
    rollout: Rollout,
    *,
    allowed: tuple[str, ...],
    actor: Any,
    action: str,
    reason: str,
    expect: dict[str, Any] | None = None,
    **changes: Any,
) -> tuple[Rollout, AuditEvent]:
    """Move `rollout` out of one of `allowed` statuses (and, with `expect`, only while those
    fields hold what the caller read), or tell the caller why not. Returns the refreshed rollout
    and the audit event written in the same transaction."""
    before = snapshot(rollout)
    updated = (
        Rollout.objects.filter(pk=rollout.pk, status__in=allowed)
        .filter(**(expect or {}))
        .update(**changes)
    )
    if not updated:
        current = Rollout.objects.get(pk=rollout.pk)
        raise Conflict(
            f"This rollout is {current.get_status_display().lower()} now, so it cannot "
            f"{action.split('.')[-1].replace('_', ' ')}; reload to see its current state."
        )
    rollout.refresh_from_db()
    event = audit_record(
        actor=actor,
        action=action,
        obj=rollout,
        before=before,
        after=snapshot(rollout),
        reason=reason,
        feature_key=rollout.feature.key,
    )
    routing_changed()
    return rollout, event


def _check_judge(judge: ModelConfig, *, baseline: ModelConfig, candidate: ModelConfig) -> None:
    # A config judging its own answers grades itself: its verdicts would say nothing.
    if judge.pk in (baseline.pk, candidate.pk):
        raise ValidationError(
            {"judge_config": "The judge must be another config than the baseline and candidate."}
        )


@transaction.atomic
def rollout_set_judge(
    *, rollout: Rollout, judge_config: ModelConfig | None, actor: Any, reason: str = ""
) -> Rollout:
    """Have the rollout's shadow pairs judged by `judge_config` from now on (None: stop).
    Judgements made by an earlier judge stay, filed under that judge."""
    if judge_config is not None:
        _check_judge(judge_config, baseline=rollout.baseline, candidate=rollout.candidate)
        lock_config(judge_config)
    rollout, _ = _transition(
        rollout,
        allowed=Rollout.REVIEWING,
        actor=actor,
        action="rollout.set_judge",
        reason=reason,
        judge_config=judge_config,
    )
    return rollout


def _record_split(rollout: Rollout, event: AuditEvent) -> None:
    shares = [(rollout.baseline, ServingShare.Variant.BASELINE, FULL - rollout.candidate_bp)]
    if rollout.candidate_bp:
        shares.append((rollout.candidate, ServingShare.Variant.CANDIDATE, rollout.candidate_bp))
    serving_record(feature=rollout.feature, shares=[s for s in shares if s[2]], event=event)


@transaction.atomic
def rollout_create(
    *,
    feature: Feature,
    candidate: ModelConfig,
    actor,
    note: str = "",
    shadow_sample_percent: float = 100.0,
    shadow_daily_cap: int = 10_000,
    review_sample_percent: float = 10.0,
    double_review_percent: float = 10.0,
    blinded: bool = True,
    judge_config: ModelConfig | None = None,
) -> Rollout:
    feature = Feature.objects.select_for_update().get(pk=feature.pk)
    if candidate.pk == feature.served_config_id:
        raise ValidationError({"candidate": f"'{candidate}' already serves '{feature}'."})
    for name, value in (
        ("shadow_sample_percent", shadow_sample_percent),
        ("review_sample_percent", review_sample_percent),
        ("double_review_percent", double_review_percent),
    ):
        if not 0 <= value <= 100:
            raise ValidationError({name: "Give a percentage from 0 to 100."})
    active = Rollout.objects.filter(feature=feature, status__in=Rollout.ACTIVE).first()
    if active:
        raise DomainError(
            f"'{feature}' already has an active rollout (to '{active.candidate}'); finish, roll "
            "back or abort it first."
        )
    refusal = candidate_refusal(feature, candidate)
    if refusal:
        raise ValidationError({"candidate": refusal})
    lock_config(candidate)
    if judge_config is not None:
        _check_judge(judge_config, baseline=feature.served_config, candidate=candidate)
        lock_config(judge_config)
    rollout = Rollout.objects.create(
        feature=feature,
        baseline=feature.served_config,
        candidate=candidate,
        note=note,
        shadow_sample_bp=round(shadow_sample_percent * 100),
        shadow_daily_cap=shadow_daily_cap,
        review_sample_bp=round(review_sample_percent * 100),
        double_review_bp=round(double_review_percent * 100),
        blinded=blinded,
        judge_config=judge_config,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="rollout.create",
        obj=rollout,
        before=None,
        after=snapshot(rollout),
        reason=note,
        feature_key=feature.key,
    )
    routing_changed()
    return rollout


def _shadow_refusal(rollout: Rollout, gate: Gate | None) -> str | None:
    """Why `rollout` may not enter shadow yet, or None: the gate must have cleared its current
    candidate (passed, or needs acknowledgement and acknowledged)."""
    if rollout.status not in (STATUS.DRAFT, STATUS.GATE):
        return None  # _transition explains the status
    if rollout.status == STATUS.DRAFT or gate is None:
        return "Run the eval gate first: shadow traffic starts only once the gate has passed."
    if gate.candidate_id != rollout.candidate_id or gate.baseline_id != rollout.baseline_id:
        return "The candidate changed since the last gate: run the gate again."
    if gate.clears:
        return None
    if gate.verdict == Gate.Verdict.RUNNING:
        return "The gate is still running: wait for its verdict."
    if gate.verdict == Gate.Verdict.NEEDS_ACK:
        return "The gate needs acknowledgement: a release manager writes a note on the gate first."
    if gate.verdict == Gate.Verdict.BLOCKED:
        return (
            "The gate blocked this candidate (a critical case regressed): change the candidate "
            "config (e.g. a prompt fix) and run the gate again."
        )
    return f"The gate is {gate.get_verdict_display().lower()}: run it again."


@transaction.atomic
def rollout_start_shadow(*, rollout: Rollout, actor: Any, reason: str = "") -> Rollout:
    # The row lock keeps a candidate change from slipping between the check and the move.
    locked = Rollout.objects.select_for_update().get(pk=rollout.pk)
    refusal = _shadow_refusal(locked, latest_gate(locked))
    if refusal:
        raise DomainError(refusal)
    rollout, _ = _transition(
        rollout,
        allowed=(STATUS.GATE,),
        actor=actor,
        action="rollout.start_shadow",
        reason=reason,
        status=STATUS.SHADOW,
    )
    stage_plan_create(rollout=rollout)
    return rollout


def gate_rerun_refusal(rollout: Rollout, gate: Gate | None) -> str | None:
    """Why a rollout in `gate` may not run its gate again, or None."""
    if gate is None or gate.candidate_id != rollout.candidate_id:
        return None
    if gate.verdict == Gate.Verdict.RUNNING:
        return "The gate is running already: wait for its verdict."
    if gate.verdict == Gate.Verdict.BLOCKED:
        return (
            "The gate blocked this candidate; only a new candidate config clears it: change the "
            "candidate (e.g. a prompt fix), then run the gate again."
        )
    if gate.verdict in (Gate.Verdict.PASSED, Gate.Verdict.NEEDS_ACK):
        return (
            f"The gate {gate.get_verdict_display().lower()} on this candidate already; it runs "
            "again only after the candidate changes."
        )
    return None  # incomplete or cancelled: run it again


@transaction.atomic
def rollout_start_gate(*, rollout: Rollout, actor: Any, trials: int = 1) -> Gate:
    """Run the eval gate on the rollout's baseline and candidate. From a draft it moves the
    rollout to `gate`; in `gate` it runs again only when the latest gate is incomplete or
    cancelled, or after the candidate changed (a blocked gate is cleared by a new candidate
    only)."""
    # Serialises two concurrent starts: the second sees the first's running gate.
    locked = Rollout.objects.select_for_update().get(pk=rollout.pk)
    if locked.status == STATUS.GATE:
        refusal = gate_rerun_refusal(locked, latest_gate(locked))
        if refusal:
            raise Conflict(refusal)
    else:
        _transition(
            locked,
            allowed=(STATUS.DRAFT,),
            actor=actor,
            action="rollout.start_gate",
            reason="",
            status=STATUS.GATE,
        )
    return gate_start(
        feature=locked.feature,
        candidate=locked.candidate,
        actor=actor,
        rollout=locked,
        trials=trials,
    )


@transaction.atomic
def rollout_change_candidate(
    *, rollout: Rollout, candidate: ModelConfig, actor: Any, reason: str
) -> Rollout:
    """Swap the candidate config before shadow (e.g. a prompt fix after a blocked gate). A gate
    still running on the old candidate is cancelled; the new one must pass its own gate."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why the candidate changes; the audit keeps it."})
    if candidate.pk == rollout.baseline_id:
        raise ValidationError(
            {"candidate": f"'{candidate.name}' is the baseline; pick a different config."}
        )
    if candidate.pk == rollout.candidate_id:
        raise ValidationError({"candidate": f"'{candidate.name}' is the candidate already."})
    if candidate.archived:
        raise ValidationError({"candidate": f"'{candidate.name}' is archived; pick a live config."})
    refusal = candidate_refusal(rollout.feature, candidate)
    if refusal:
        raise ValidationError({"candidate": refusal})
    lock_config(candidate)
    _lock_running_gate(rollout)
    rollout, _ = _transition(
        rollout,
        allowed=(STATUS.DRAFT, STATUS.GATE),
        actor=actor,
        action="rollout.change_candidate",
        reason=reason,
        candidate=candidate,
    )
    _cancel_running_gate(rollout, actor)
    return rollout


@transaction.atomic
def rollout_rollback(*, rollout: Rollout, actor, reason: str) -> Rollout:
    """All traffic back to the baseline at once, no deploy; shadow calls stop too. Drafts and
    gates serve and shadow nothing, so they are aborted instead."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why you roll back; the audit keeps it."})
    if rollout.status in (STATUS.DRAFT, STATUS.GATE):
        raise DomainError(
            "Nothing of this rollout runs on production traffic yet, so there is nothing to roll "
            "back: abort it instead."
        )
    was_serving = rollout.candidate_bp > 0
    rollout, event = _transition(
        rollout,
        allowed=Rollout.SHADOWING,
        actor=actor,
        action="rollout.rollback",
        reason=reason,
        status=STATUS.ROLLED_BACK,
        candidate_bp=0,
        paused=None,
        ended=db_now(),
    )
    if was_serving:
        _record_split(rollout, event)
    stage_plan_end(rollout=rollout)
    transaction.on_commit(lambda: observability.rollback_counted(automatic=actor is None))
    return rollout


@transaction.atomic
def rollout_abort(*, rollout: Rollout, actor, reason: str) -> Rollout:
    """Stop a rollout that never served the candidate (draft, gate or shadow)."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why you abort; the audit keeps it."})
    _lock_running_gate(rollout)
    rollout, _ = _transition(
        rollout,
        allowed=(STATUS.DRAFT, STATUS.GATE, STATUS.SHADOW),
        actor=actor,
        action="rollout.abort",
        reason=reason,
        status=STATUS.ABORTED,
        paused=None,
        ended=db_now(),
    )
    _cancel_running_gate(rollout, actor)
    stage_plan_end(rollout=rollout)
    return rollout


def _lock_running_gate(rollout: Rollout) -> None:
    # Before the first audit event (which locks the audit chain until commit): a run cancel
    # holds the gate and then wants the chain, so taking them in the other order deadlocks.
    list(
        Gate.objects.select_for_update()
        .filter(rollout=rollout, verdict=Gate.Verdict.RUNNING)
        .values_list("pk", flat=True)
    )


def _cancel_running_gate(rollout: Rollout, actor: Any) -> None:
    # A rollout that ends stops its gate's provider calls.
    gate = latest_gate(rollout)
    if gate is not None and gate.verdict == Gate.Verdict.RUNNING:
        gate_cancel(gate=gate, actor=actor)
