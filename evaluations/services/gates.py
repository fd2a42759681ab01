"""The eval gate: a baseline and a candidate run per active suite, started in one transaction,
and the verdict of evaluations/gate.py stored once every run has ended."""

from contextlib import suppress
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from evaluations.gate import CaseTrials, gate_verdict
from evaluations.models import Case, CaseResult, Gate, Run, Suite
from evaluations.services.runs import MAX_TRIALS, run_cancel, run_create, run_progress
from registry.errors import Conflict, DomainError
from registry.models import Feature, ModelConfig, Rollout
from registry.roles import Role, require_role
from registry.services.audit import audit_record, snapshot

VERDICT = Gate.Verdict


def gate_suites(feature: Feature) -> list[Suite]:
    """The suites a gate of `feature` runs: active ones with at least one runnable case."""
    return list(
        Suite.objects.filter(feature=feature, active=True, cases__draft=False)
        .distinct()
        .order_by("name")
    )


@transaction.atomic
def gate_start(
    *,
    feature: Feature,
    candidate: ModelConfig,
    actor: Any,
    rollout: Rollout | None = None,
    trials: int = 1,
) -> Gate:
    """Start a gate: the baseline is the rollout's baseline, else the feature's served config.
    Every run is created in this transaction, so the workers only see them once all exist and
    both sides start together."""
    baseline = rollout.baseline if rollout else feature.served_config
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= MAX_TRIALS:
        raise ValidationError({"trials": f"Give from 1 to {MAX_TRIALS} trials per case."})
    if baseline is None:
        raise DomainError(f"Feature '{feature.key}' serves no config yet: nothing to gate against.")
    if candidate.archived:
        raise ValidationError(
            {"candidate": f"'{candidate.name}' is archived; pick or create a live config."}
        )
    if candidate.pk == baseline.pk:
        raise ValidationError(
            {"candidate": f"'{candidate.name}' is the baseline already; pick another config."}
        )
    suites = gate_suites(feature)
    if not suites:
        raise DomainError(
            f"Feature '{feature.key}' has no eval suite with cases; add one on the Evaluations "
            "page."
        )
    gate = Gate.objects.create(
        feature=feature,
        rollout=rollout,
        baseline=baseline,
        candidate=candidate,
        trials=trials,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="gate.start",
        obj=gate,
        before=None,
        after=snapshot(gate),
        reason="",
        feature_key=feature.key,
    )
    for suite in suites:
        for side, config in ((Run.Side.BASELINE, baseline), (Run.Side.CANDIDATE, candidate)):
            run_create(suite=suite, config=config, actor=actor, trials=trials, gate=gate, side=side)
    return gate


def _case_trials(run: Run) -> list[CaseTrials]:
    trials: dict[int, list[str]] = {}
    for case_id, status in (
        CaseResult.objects.filter(run=run)
        .order_by("case_id", "trial")
        .values_list("case_id", "status")
    ):
        trials.setdefault(case_id, []).append(status)
    cases = Case.objects.filter(pk__in=trials).order_by("position", "id")
    return [
        CaseTrials(
            case_code=str(case.code),
            name=case.name,
            suite_code=str(run.suite.code),
            dimension=case.dimension,
            critical=case.critical,
            weight=case.weight,
            trials=tuple(trials[case.pk]),
        )
        for case in cases
    ]


def gate_report(gate: Gate, runs: list[Run]) -> tuple[str, dict[str, Any]]:
    """The verdict and JSON report of a gate whose runs have all completed."""
    sides: dict[str, list[CaseTrials]] = {Run.Side.BASELINE: [], Run.Side.CANDIDATE: []}
    for run in runs:
        sides[run.side].extend(_case_trials(run))
    suites = {str(run.suite.code): run.suite for run in runs}
    report = gate_verdict(
        sides[Run.Side.BASELINE],
        sides[Run.Side.CANDIDATE],
        thresholds={code: s.threshold_pp for code, s in suites.items()},
        suite_names={code: s.name for code, s in suites.items()},
        expected_suites=set(suites),
    )
    data = report.to_json()
    data["runs"] = [
        {"code": str(r.code), "suite": str(r.suite.code), "side": r.side, "status": r.status}
        for r in runs
    ]
    return report.verdict, data


def gate_run_ended(run: Run) -> None:
    """Called (by the executor, the sweep, a cancel) after a run of a gate has ended. Once every
    run has ended it stores the verdict by compare-and-set, so concurrent callers (two runs
    ending together, a redelivered task) store it once."""
    if run.gate_id is None:
        return
    with transaction.atomic():
        gate = Gate.objects.select_for_update().get(pk=run.gate_id)
        if gate.verdict != VERDICT.RUNNING:
            return
        runs = list(gate.runs.select_related("suite").order_by("suite__name", "side"))
        cancelled = [r for r in runs if r.status == Run.Status.CANCELLED]
        verdict: str
        report: dict[str, Any]
        if cancelled:
            verdict = VERDICT.CANCELLED
            report = {
                "verdict": verdict,
                "reasons": [
                    f"The {r.side} run of suite '{r.suite.name}' was cancelled; run the gate again."
                    for r in cancelled
                ],
            }
        elif all(r.ended for r in runs):
            verdict, report = gate_report(gate, runs)
        else:
            return
        if not _finish(gate, verdict=verdict, report=report, actor=None):
            return
    if cancelled:
        # A cancelled side leaves nothing to compare: stop the others' provider calls.
        for other in runs:
            if not other.ended:
                with suppress(Conflict):  # it ended meanwhile
                    run_cancel(run=other, actor=None)


def _finish(
    gate: Gate, *, verdict: str, report: dict[str, Any], actor: Any, action: str = "gate.verdict"
) -> bool:
    before = snapshot(gate)
    updated = Gate.objects.filter(pk=gate.pk, verdict=VERDICT.RUNNING).update(
        verdict=verdict, report=report, finished=timezone.now()
    )
    if not updated:
        return False
    gate.refresh_from_db()
    audit_record(
        actor=actor,
        action=action,
        obj=gate,
        before=before,
        after=snapshot(gate, exclude=("report",)),
        reason="; ".join(report.get("reasons", []))[:2000],
        feature_key=gate.feature.key,
    )
    return True


@transaction.atomic
def gate_acknowledge(*, gate: Gate, actor: Any, note: str) -> Gate:
    """A release manager proceeds past a needs-acknowledgement gate with a written note."""
    require_role(actor, Role.RELEASE_MANAGER)
    note = (note or "").strip()
    if not note:
        raise ValidationError(
            {"note": "Write why the drop is acceptable; the note is kept in the audit trail."}
        )
    if gate.rollout_id is not None:
        # Locked, so an abort cannot slip in between; a note on a rollout that ended moves
        # nothing and would only put a misleading "proceeded" in the audit trail.
        rollout = Rollout.objects.select_for_update().get(pk=gate.rollout_id)
        if rollout.status != Rollout.Status.GATE:
            raise Conflict(
                f"This gate's rollout is {rollout.get_status_display().lower()}: there is "
                "nothing to proceed to."
            )
    before = snapshot(gate)
    updated = Gate.objects.filter(
        pk=gate.pk, verdict=VERDICT.NEEDS_ACK, acknowledged__isnull=True
    ).update(acknowledged=timezone.now(), acknowledged_by=actor, ack_note=note)
    gate.refresh_from_db()
    if not updated:
        if gate.acknowledged:
            raise Conflict(f"This gate was acknowledged already by {gate.acknowledged_by}.")
        raise Conflict(
            f"This gate is {gate.get_verdict_display().lower()}: only a gate that needs "
            "acknowledgement can be acknowledged."
        )
    audit_record(
        actor=actor,
        action="gate.acknowledge",
        obj=gate,
        before=before,
        after=snapshot(gate, exclude=("report",)),
        reason=note,
        feature_key=gate.feature.key,
    )
    return gate


def gate_cancel(*, gate: Gate, actor: Any) -> Gate:
    """Stop a running gate and its runs."""
    with transaction.atomic():
        report = {"verdict": VERDICT.CANCELLED, "reasons": ["The gate was cancelled."]}
        finished = _finish(
            gate, verdict=VERDICT.CANCELLED, report=report, actor=actor, action="gate.cancel"
        )
        if not finished:
            gate.refresh_from_db()
            raise Conflict(f"This gate is {gate.get_verdict_display().lower()} already.")
        for run in gate.runs.filter(status__in=(Run.Status.QUEUED, Run.Status.RUNNING)):
            with suppress(Conflict):  # it ended meanwhile
                run_cancel(run=run, actor=actor)
    gate.refresh_from_db()
    return gate


def latest_gate(rollout: Rollout) -> Gate | None:
    return Gate.objects.filter(rollout=rollout).order_by("-created", "-id").first()


def gate_summary(gate: Gate) -> dict[str, Any]:
    """What the rollout page and the API show of a gate: its runs with progress, the report's
    cases split by change, the dimensions. Reads only (a few queries per run)."""
    runs = list(gate.runs.select_related("suite").order_by("suite__name", "side"))
    progress = [(run, run_progress(run)) for run in runs]
    total = sum(p.total for _, p in progress)
    done = sum(p.done for _, p in progress)
    report = gate.report or {}
    cases = report.get("cases", [])
    suite_names = {str(r.suite.code): r.suite.name for r in runs}
    for case in cases:
        case["suite_name"] = suite_names.get(case["suite"], case["suite"])
    return {
        "gate": gate,
        "runs": [{"run": run, "progress": p} for run, p in progress],
        "done": done,
        "total": total,
        "percent": round(100 * done / total) if total else 100,
        "reasons": report.get("reasons", []),
        "dimensions": report.get("dimensions", []),
        "blocking": [c for c in cases if c.get("blocks")],
        "regressed": [c for c in cases if c["change"] == "regressed"],
        "fixed": [c for c in cases if c["change"] == "fixed"],
        "flaky": [c for c in cases if c["change"] == "flaky"],
        "errors": [c for c in cases if c["change"] == "error"],
        "interval_note": report.get("interval_note", ""),
    }
