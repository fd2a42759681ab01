"""End to end with real parts: a run started by the service, executed by a real Celery worker
(on the configured broker) against the simulator on a live server, to completion."""

import pytest

from evaluations.models import Case, CaseResult, Run, Suite
from evaluations.services.runs import run_create, run_progress
from registry.services import registry
from tests.live import Worker, wait_for


@pytest.mark.slow
def test_a_real_worker_runs_a_suite_against_the_simulator_to_completion(live, simulated):
    config = simulated("sim-chat-2025-06-01", "baseline")
    feature = registry.feature_create(
        key="support-reply", name="Support", served_config=config, actor=None
    )
    suite = Suite.objects.create(feature=feature, name="main", prompt="Customer: {{question}}")
    questions = ["refund my invoice", "the app crashes", "I can't log in", "payment declined"]
    for n, question in enumerate(questions):
        Case.objects.create(
            suite=suite,
            name=f"case {n}",
            variables={"question": question, "company": "Acme"},
            assertions=[
                {"type": "not-contains", "value": "zz-never-said-zz"},
                {"type": "max-length", "value": 100_000},
            ],
        )
    with Worker(concurrency=2) as worker:
        run = run_create(suite=suite, config=config, actor=None, trials=2)  # sent on commit
        done = wait_for(
            lambda: Run.objects.get(pk=run.pk).status == Run.Status.COMPLETED, timeout=60
        )
    assert done, f"run: {Run.objects.get(pk=run.pk).status}; worker said:\n{worker.output[-3000:]}"
    progress = run_progress(run)
    assert (progress.total, progress.passed) == (8, 8)
    for result in CaseResult.objects.filter(run=run):
        assert result.output and result.attempts == 1 and result.latency_ms is not None
        assert [o["type"] for o in result.outcomes] == ["not-contains", "max-length"]
