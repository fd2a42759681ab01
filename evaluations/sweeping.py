"""The sweep (beat, every 30 s) and the end of a run: a lost message or a killed worker never
strands a run, and a run whose results are all written is completed and its gate told once."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max
from django.db.models.functions import Now

from evaluations import claims
from evaluations.models import CaseResult, Run
from evaluations.services.runs import run_finish
from registry.services.audit import db_now

log = logging.getLogger("evaluations.executor")

# A run whose results have not moved for this long, and that no worker holds a lease on, is
# sent again: its message was lost, or its worker died.
REDISPATCH_SECONDS = 60


def finish_and_tell(run_id: int) -> bool:
    finished = run_finish(run_id=run_id)
    if finished is None:
        return False
    if finished.gate_id:
        from evaluations.services.gates import gate_run_ended

        gate_run_ended(finished)
    return True


def _last_activity(run: Run) -> datetime:
    marks = CaseResult.objects.filter(run=run).aggregate(
        finished=Max("finished"), lease=Max("lease_until")
    )
    # A lease was granted (or renewed) EVAL_LEASE_SECONDS before it ends.
    leased = marks["lease"] and marks["lease"] - timedelta(seconds=settings.EVAL_LEASE_SECONDS)
    return max(t for t in (run.created, run.started, marks["finished"], leased) if t)


def run_sweep() -> list[int]:
    """1. Results whose worker died MAX_ATTEMPTS times become errors.
    2. Live runs with nothing open are completed (their last worker died before finishing).
    3. Live runs with work to claim, no live lease and no recent progress: their ids, to send
       `execute_run` again (a lost message or a killed worker never strands a run)."""
    claims.give_up_lapsed()
    now = db_now()
    stale: list[int] = []
    for run in Run.objects.filter(status__in=(Run.Status.QUEUED, Run.Status.RUNNING)):
        results = CaseResult.objects.filter(run=run)
        if not results.filter(status__in=CaseResult.OPEN).exists():
            finish_and_tell(run.pk)
            continue
        if results.filter(status=CaseResult.Status.RUNNING, lease_until__gte=Now()).exists():
            continue  # a worker is on it: its heartbeat keeps the lease live
        if not results.filter(claims.claimable()).exists():
            continue
        if (now - _last_activity(run)).total_seconds() >= REDISPATCH_SECONDS:
            stale.append(run.pk)
    if stale:
        log.warning("re-sending %d eval run(s) with no worker on them: %s", len(stale), stale)
    return stale
