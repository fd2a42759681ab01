"""Starting, cancelling and reading runs. The executor (evaluations/executor.py) does the calls."""

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from evaluations.models import Case, CaseResult, Gate, Run, Suite
from registry.errors import Conflict, DomainError
from registry.models import ModelConfig
from registry.services.audit import audit_record, snapshot
from registry.services.registry import lock_config

MAX_TRIALS = 20


def _enqueue(run: Run) -> None:
    # By name: the task module imports this one.
    from evaluations.tasks import execute_run

    # What delay_on_commit does (celery-types does not know it): sent once the rows exist.
    transaction.on_commit(lambda: execute_run.delay(run.pk))


def lock_gate_of(run_id: int) -> None:
    """Lock the gate of a run (if any) before the run's row and the audit chain.

    Lock order for everything that moves a gate's runs: gate, then runs, then the audit chain
    (audit_record locks it until commit). A run cancel or finish that locked its run first and
    then wanted the gate or the chain deadlocked on PostgreSQL against a cancel of the other
    side, a finishing worker or an aborted rollout's gate_cancel. Call inside the transaction.
    """
    gate_id = Run.objects.filter(pk=run_id).values_list("gate_id", flat=True).first()
    if gate_id is not None:
        list(Gate.objects.select_for_update().filter(pk=gate_id).values_list("pk", flat=True))


@transaction.atomic
def run_create(
    *,
    suite: Suite,
    config: ModelConfig,
    actor: Any,
    trials: int = 1,
    gate: Gate | None = None,
    side: str = Run.Side.NONE,
) -> Run:
    """A run of the suite's non-draft cases on `config`, `trials` times each: every case x trial
    is a pending result row from the start, so progress and idempotency are counted in rows."""
    if not 1 <= trials <= MAX_TRIALS:
        raise DomainError(f"trials: give from 1 to {MAX_TRIALS} trials per case.")
    cases = list(Case.objects.filter(suite=suite, draft=False).values_list("pk", flat=True))
    if not cases:
        raise DomainError(
            f"Suite '{suite.name}' has no cases to run (draft cases never run); add a case first."
        )
    lock_config(config)  # what ran must stay what it was
    run = Run.objects.create(
        suite=suite,
        config=config,
        trials=trials,
        gate=gate,
        side=side,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    CaseResult.objects.bulk_create(
        CaseResult(run=run, case_id=case_id, trial=trial)
        for case_id in cases
        for trial in range(trials)
    )
    audit_record(
        actor=actor,
        action="eval_run.create",
        obj=run,
        before=None,
        after=snapshot(run),
        reason="",
        feature_key=suite.feature.key,
    )
    _enqueue(run)
    return run


@transaction.atomic
def run_cancel(*, run: Run, actor: Any) -> Run:
    """Stop a run: results not yet written are cancelled; calls in flight finish unrecorded."""
    lock_gate_of(run.pk)
    before = snapshot(run)
    updated = Run.objects.filter(pk=run.pk, status__in=(Run.Status.QUEUED, Run.Status.RUNNING))
    if not updated.update(
        status=Run.Status.CANCELLED,
        finished=timezone.now(),
        cancelled_by=actor if getattr(actor, "pk", None) else None,
    ):
        run.refresh_from_db()
        raise Conflict(f"This run is {run.get_status_display().lower()} already.")
    CaseResult.objects.filter(run=run, status__in=CaseResult.OPEN).update(
        status=CaseResult.Status.CANCELLED, lease_until=None, finished=timezone.now()
    )
    run.refresh_from_db()
    audit_record(
        actor=actor,
        action="eval_run.cancel",
        obj=run,
        before=before,
        after=snapshot(run),
        reason="",
        feature_key=run.suite.feature.key,
    )
    if run.gate_id:
        # A gate with a cancelled side has nothing to compare: it is cancelled with it (and
        # its other runs stop). Imported here: the gate services import this module.
        from evaluations.services.gates import gate_run_ended

        gate_run_ended(run)
    return run


def _audited(run_id: int, *, action: str, was: str) -> Run:
    """The run after a transition the system made (no actor), with its audit event."""
    run = Run.objects.select_related("suite__feature").get(pk=run_id)
    audit_record(
        actor=None,
        action=action,
        obj=run,
        before={"status": was},
        after=snapshot(run),
        reason="",
        feature_key=run.suite.feature.key,
    )
    return run


def run_start(*, run_id: int) -> Run | None:
    """Queued -> running (compare-and-set, audited); the run when it is running after the call
    (started now or by an earlier delivery), None when it has ended or does not exist."""
    with transaction.atomic():
        lock_gate_of(run_id)
        if Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(
            status=Run.Status.RUNNING, started=timezone.now()
        ):
            return _audited(run_id, action="eval_run.start", was=Run.Status.QUEUED)
    return Run.objects.filter(pk=run_id, status=Run.Status.RUNNING).first()


def run_finish(*, run_id: int) -> Run | None:
    """Running -> completed once no result is open (compare-and-set, audited). Returns the run
    only to the one caller that finished it, so whatever follows (the gate) happens once."""
    with transaction.atomic():
        if CaseResult.objects.filter(run_id=run_id, status__in=CaseResult.OPEN).exists():
            return None
        # Nothing open can reopen (results only leave pending), so the check above holds.
        lock_gate_of(run_id)
        if not Run.objects.filter(
            pk=run_id, status__in=(Run.Status.QUEUED, Run.Status.RUNNING)
        ).update(status=Run.Status.COMPLETED, finished=timezone.now()):
            return None
        return _audited(run_id, action="eval_run.complete", was=Run.Status.RUNNING)


@dataclass(frozen=True)
class Progress:
    total: int
    passed: int
    failed: int
    errors: int
    cancelled: int

    @property
    def done(self) -> int:
        return self.passed + self.failed + self.errors + self.cancelled

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100


def run_progress(run: Run) -> Progress:
    counts = dict(
        CaseResult.objects.filter(run=run)
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    status = CaseResult.Status
    return Progress(
        total=sum(counts.values()),
        passed=counts.get(status.PASS, 0),
        failed=counts.get(status.FAIL, 0),
        errors=counts.get(status.ERROR, 0),
        cancelled=counts.get(status.CANCELLED, 0),
    )
