"""Thin Celery tasks: load ids, call a service. The database row is the truth."""

from celery import shared_task

from comparisons.services import retention
from comparisons.services.replay import replay_step
from comparisons.services.shadow import shadow_job_run, shadow_sweep
from traffic.outbox import nudge


# acks_late: the claim makes a redelivery harmless, and a worker lost mid-call is redone.
# The web processes send these by name (traffic.outbox), so the names are part of the contract.
@shared_task(name="comparisons.tasks.run_shadow_job", acks_late=True, reject_on_worker_lost=True)
def run_shadow_job(job_id: int) -> None:
    shadow_job_run(job_id=job_id)


@shared_task(name="comparisons.tasks.fan_out_shadow_jobs")
def fan_out_shadow_jobs(job_ids: list[int]) -> None:
    """One message per job, sent from a worker so that every job can run in parallel."""
    for job_id in job_ids:
        run_shadow_job.apply_async((job_id,))


@shared_task
def sweep_shadow_jobs() -> int:
    ids = shadow_sweep()
    nudge(ids)
    return len(ids)


@shared_task
def purge_expired() -> dict:
    return retention.purge_expired()


# acks_late: the run's cursor (compare-and-set) makes a redelivery harmless. One message
# replays a chunk and sends the next, so no message runs near the task time limit.
@shared_task(name="comparisons.tasks.run_replay", acks_late=True, reject_on_worker_lost=True)
def run_replay(run_id: int) -> None:
    if replay_step(run_id=run_id):
        run_replay.apply_async((run_id,))
