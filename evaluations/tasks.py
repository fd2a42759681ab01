"""Thin Celery tasks: load ids, call a service. The database row is the truth."""

from typing import Any

from celery import shared_task
from celery.signals import worker_process_shutdown

from evaluations.executor import run_execute, shutdown
from evaluations.sweeping import run_sweep


# acks_late: results are claimed and written by compare-and-set, so a redelivery is harmless
# and a worker lost mid-run is redone (its leases lapse; the sweep also re-sends the run).
@shared_task(name="evaluations.tasks.execute_run", acks_late=True, reject_on_worker_lost=True)
def execute_run(run_id: int) -> None:
    run_execute(run_id)


@shared_task(name="evaluations.tasks.sweep_runs")
def sweep_runs() -> int:
    stale = run_sweep()
    for run_id in stale:
        execute_run.apply_async((run_id,))
    return len(stale)


@worker_process_shutdown.connect
def _close_executor(**kwargs: Any) -> None:
    # The executor's pooled provider connections belong to its loop: close them with it.
    shutdown()
