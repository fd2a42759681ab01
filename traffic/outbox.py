"""Shadow jobs are an outbox: rows written with the request logs, nudges sent after commit."""

import logging
import queue
import threading
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial

from celery import current_app
from django.db import transaction
from django.db.models import Count, F, Min, Q

from registry import observability
from registry.models import RequestLog, Rollout, ShadowDay, ShadowJob
from traffic.assignment import bucket

log = logging.getLogger("traffic.outbox")

# Salt of the shadow sampling hash; independent of unit assignment, so sampling never
# correlates with which variant a unit sees.
SAMPLE_SEED = 0x5AD0


def plan_shadow_jobs(logs: list[RequestLog], *, today: date) -> list[ShadowJob]:
    """Create the shadow jobs for freshly stored logs, honouring each rollout's sample rate and
    daily cap, and count what was skipped. Runs inside the logs' transaction.

    A log skipped here (sampled out, over the cap) loses its raw input in the same transaction:
    raw input is kept only for a shadow job that will use it.
    """
    by_rollout: dict[int, list[tuple[RequestLog, int]]] = {}
    for entry in logs:
        if entry.rollout_id is None or entry.shadow_config_id is None:
            continue
        by_rollout.setdefault(entry.rollout_id, []).append((entry, entry.shadow_config_id))
    jobs: list[ShadowJob] = []
    for rollout_id, entries in by_rollout.items():
        rollout = Rollout.objects.only("shadow_sample_bp", "shadow_daily_cap").get(pk=rollout_id)
        sampled = [
            e for e in entries if bucket(SAMPLE_SEED, e[0].request_id) < rollout.shadow_sample_bp
        ]
        ShadowDay.objects.get_or_create(rollout_id=rollout_id, day=today)
        # Row lock: concurrent ingests share the cap without overshooting it.
        day = ShadowDay.objects.select_for_update().get(rollout_id=rollout_id, day=today)
        room = max(rollout.shadow_daily_cap - day.queued, 0)
        taken = sampled[:room]
        ShadowDay.objects.filter(pk=day.pk).update(
            queued=F("queued") + len(taken),
            skipped_sample=F("skipped_sample") + len(entries) - len(sampled),
            skipped_cap=F("skipped_cap") + len(sampled) - len(taken),
        )
        skipped = {"sample": len(entries) - len(sampled), "cap": len(sampled) - len(taken)}
        transaction.on_commit(partial(observability.shadow_skips, skipped))
        jobs.extend(
            ShadowJob(request=entry, rollout_id=rollout_id, config_id=config_id)
            for entry, config_id in taken
        )
    created = ShadowJob.objects.bulk_create(jobs)
    planned = {job.request_id for job in created}
    unplanned = [e for e in logs if e.raw_messages is not None and e.pk not in planned]
    if unplanned:
        RequestLog.objects.filter(pk__in=[e.pk for e in unplanned]).update(
            raw_messages=None, raw_variables=None
        )
        for entry in unplanned:
            entry.raw_messages = entry.raw_variables = None
    ids = [job.pk for job in created if job.pk]
    if ids:
        transaction.on_commit(lambda: nudge(ids))
    return created


_nudges: queue.SimpleQueue[list[int]] = queue.SimpleQueue()
_nudger: threading.Thread | None = None
_nudger_lock = threading.Lock()


# Job ids per message: a worker fans them out (FAN_OUT_TASK).
FAN_OUT = 500


# The tasks live in the layer above (comparisons.tasks, which makes the pairs); they are sent
# by name so that traffic never imports it.
RUN_TASK = "comparisons.tasks.run_shadow_job"
FAN_OUT_TASK = "comparisons.tasks.fan_out_shadow_jobs"


def _send_nudges() -> None:
    while True:
        ids = list(_nudges.get())
        while len(ids) < FAN_OUT:
            try:
                ids.extend(_nudges.get_nowait())
            except queue.Empty:
                break
        try:
            # One message for many jobs, so a busy web process spends one publish per batch.
            # No publish retries: a lost nudge costs only latency, the sweep re-dispatches.
            if len(ids) == 1:
                current_app.send_task(RUN_TASK, (ids[0],), retry=False)
            else:
                current_app.send_task(FAN_OUT_TASK, (ids,), retry=False)
        except Exception as exc:
            log.warning("%d shadow jobs not dispatched (%s); the sweep will", len(ids), exc)


def nudge(job_ids: list[int]) -> None:
    """Ask workers to run these jobs, from a background thread: a request never waits on the
    broker, and a broker outage only delays shadow work."""
    global _nudger
    if _nudger is None or not _nudger.is_alive():
        with _nudger_lock:
            if _nudger is None or not _nudger.is_alive():
                _nudger = threading.Thread(target=_send_nudges, name="shadow-nudger", daemon=True)
                _nudger.start()
    for start in range(0, len(job_ids), FAN_OUT):
        _nudges.put(job_ids[start : start + FAN_OUT])


@dataclass(frozen=True)
class Backlog:
    count: int
    oldest: datetime | None
    deferred: int  # sent back by an open circuit breaker ("deferred: ..." on the job)


def outbox_backlog() -> dict[str, Backlog]:
    """The jobs not finished yet, per status (queued, claimed), in one pass over the partial
    index comparisons_shadowjob_open_idx: what /metrics and the operations page show."""
    open_jobs = (ShadowJob.Status.QUEUED, ShadowJob.Status.CLAIMED)
    rows = (
        ShadowJob.objects.filter(status__in=open_jobs)
        .values("status")
        .annotate(
            n=Count("id"),
            oldest=Min("created"),
            deferred=Count("id", filter=Q(error__startswith="deferred: ")),
        )
    )
    found = {row["status"]: Backlog(row["n"], row["oldest"], row["deferred"]) for row in rows}
    return {status: found.get(status, Backlog(0, None, 0)) for status in open_jobs}
