"""Test helpers for rollouts that must pass the eval gate before shadow (issue 9).

`pass_gate(rollout)` stores a gate that passed on the rollout's baseline and candidate and moves
the draft to `gate`, as a finished gate would leave it, without running suites: tests of shadow,
review and canary are not about the gate (tests/rollouts/test_gate_rollout.py is)."""

from django.utils import timezone

from evaluations.models import Gate
from registry.models import Rollout


def pass_gate(rollout: Rollout) -> Rollout:
    """Give `rollout` (draft or gate) a passed gate on its current candidate; returns it."""
    Rollout.objects.filter(pk=rollout.pk, status=Rollout.Status.DRAFT).update(
        status=Rollout.Status.GATE
    )
    Gate.objects.create(
        feature=rollout.feature,
        rollout=rollout,
        baseline=rollout.baseline,
        candidate=rollout.candidate,
        verdict=Gate.Verdict.PASSED,
        report={"verdict": "passed", "reasons": ["Passed (test helper)."]},
        finished=timezone.now(),
    )
    rollout.refresh_from_db()
    return rollout


def make_suite(feature, name: str = "Support", *, cases, threshold_pp: float = 5.0, **kwargs):
    """A suite of `feature` with `cases`: (name, dimension, critical) or dicts of Case fields."""
    from evaluations.models import Case, Suite

    suite = Suite.objects.create(
        feature=feature, name=name, prompt="{question}", threshold_pp=threshold_pp, **kwargs
    )
    for position, spec in enumerate(cases):
        keys = ("name", "dimension", "critical")
        fields = dict(spec) if isinstance(spec, dict) else dict(zip(keys, spec, strict=True))
        fields.setdefault("variables", {"question": fields["name"], "customer": "Ada"})
        fields.setdefault("assertions", [{"type": "is-json"}])
        Case.objects.create(suite=suite, position=position, **fields)
    return suite


def finish_gate_runs(gate, results: dict[str, dict[str, tuple[str, ...]]]) -> None:
    """Write stored results as a worker would and tell the gate: `results[side][case name]` is
    the trials' statuses. Every run is completed, then gate_run_ended is called per run."""
    from evaluations.models import CaseResult, Run
    from evaluations.services.gates import gate_run_ended
    from evaluations.services.runs import run_finish, run_start

    for run in gate.runs.select_related("suite").order_by("id"):
        run_start(run_id=run.pk)
        for result in CaseResult.objects.filter(run=run).select_related("case"):
            trials = results[run.side][result.case.name]
            result.status = trials[result.trial]
            result.finished = timezone.now()
            result.save(update_fields=["status", "finished"])
    for run in Run.objects.filter(gate=gate).order_by("id"):
        finished = run_finish(run_id=run.pk)
        assert finished is not None
        gate_run_ended(finished)
    gate.refresh_from_db()
