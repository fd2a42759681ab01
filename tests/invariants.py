"""The invariant every fault test ends with (issue 11): every accepted item ends in exactly one
visible terminal state, nothing is stored twice, dead letters are counted, the audit chain holds.

    rng = seeded()                      # prints "chaos seed: N"; CHAOS_SEED=N replays a run
    ... inject faults, drain ...
    counts = check_invariants(acknowledged_request_ids=acked, rollout=rollout, label="kills")

The checker reads the database only (the rows are the truth) plus this process's gateway
recorder for what it dropped or dead-lettered. It raises one AssertionError that lists every
violated invariant, so a failing run shows the whole picture at once, and returns the counts.
"""

import os
import random
import sys
from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, OuterRef, Q, Sum

from comparisons.models import ShadowPair
from evaluations.models import CaseResult, Run
from registry.models import DeadLetter, RequestLog, Rollout, ShadowDay, ShadowJob
from registry.services.audit import audit_verify
from traffic.gateway.recorder import recorder

_CHUNK = 2000
# The recorder is one object per process and its counters never reset; fault tests compare
# against the values taken when the test began (invariants_start, an autouse fixture in
# tests/chaos/conftest.py). None: no baseline, so the dead-letter count is only reported.
_baseline: dict[str, int] | None = None


def invariants_start() -> None:
    """Remember this process's recorder counters, so the check compares what this test did."""
    global _baseline
    _baseline = {k: int(recorder.stats()[k]) for k in ("dead_lettered", "dropped", "lost")}


def seeded(seed: int | None = None) -> random.Random:
    """A random source for a fault schedule, its seed printed so a failing run can be replayed
    (`CHAOS_SEED=N pytest -m chaos ...`)."""
    if seed is None:
        env = os.environ.get("CHAOS_SEED", "")
        seed = int(env) if env else random.SystemRandom().randrange(2**32)
    print(f"chaos seed: {seed}", file=sys.stderr)
    return random.Random(seed)


def _recorder_delta() -> dict[str, int]:
    stats = recorder.stats()
    base = _baseline or {}
    return {k: int(stats[k]) - base.get(k, 0) for k in ("dead_lettered", "dropped", "lost")}


def _shadow(rollout: Rollout | None, problems: list[str]) -> dict[str, Any]:
    """(a) accepted == pairs + failed + skipped (+ dropped by the gateway before storing), each
    job in exactly one terminal state, one pair per done job and none for a failed one."""
    jobs = ShadowJob.objects.all()
    logs = RequestLog.objects.filter(rollout__isnull=False, shadow_config__isnull=False)
    days = ShadowDay.objects.all()
    pairs = ShadowPair.objects.all()
    if rollout is not None:
        jobs, logs = jobs.filter(rollout=rollout), logs.filter(rollout=rollout)
        days, pairs = days.filter(rollout=rollout), pairs.filter(rollout=rollout)
    by_status = Counter(jobs.values_list("status", flat=True))
    skipped = days.aggregate(
        queued=Sum("queued"), sample=Sum("skipped_sample"), cap=Sum("skipped_cap")
    )
    skipped_sample, skipped_cap = skipped["sample"] or 0, skipped["cap"] or 0
    pair_of_job = ShadowPair.objects.filter(
        rollout_id=OuterRef("rollout_id"), request_key=OuterRef("request__request_id")
    )
    annotated = jobs.annotate(has_pair=Exists(pair_of_job))
    done, failed = by_status[ShadowJob.Status.DONE], by_status[ShadowJob.Status.FAILED]
    done_without_pair = annotated.filter(status=ShadowJob.Status.DONE, has_pair=False).count()
    failed_with_pair = annotated.filter(status=ShadowJob.Status.FAILED, has_pair=True).count()
    job_pairs = annotated.filter(has_pair=True).count()
    accepted = logs.count()
    total_jobs = sum(by_status.values())
    open_jobs = by_status[ShadowJob.Status.QUEUED] + by_status[ShadowJob.Status.CLAIMED]
    if open_jobs:
        open_ids = list(
            jobs.filter(status__in=["queued", "claimed"]).values_list("pk", flat=True)[:10]
        )
        problems.append(f"{open_jobs} shadow job(s) not in a terminal state, e.g. {open_ids}")
    if accepted != total_jobs + skipped_sample + skipped_cap:
        problems.append(
            f"shadow-eligible request logs {accepted} != jobs {total_jobs} + skipped by sample "
            f"{skipped_sample} + skipped by cap {skipped_cap}"
        )
    if (skipped["queued"] or 0) != total_jobs:
        problems.append(
            f"the daily counters say {skipped['queued'] or 0} job(s) queued, the table holds "
            f"{total_jobs}"
        )
    if done_without_pair:
        problems.append(f"{done_without_pair} done shadow job(s) without a pair (lost)")
    if failed_with_pair:
        problems.append(f"{failed_with_pair} failed shadow job(s) that also have a pair")
    unreasoned = jobs.filter(status=ShadowJob.Status.FAILED, error="").count()
    if unreasoned:
        problems.append(f"{unreasoned} failed shadow job(s) without a reason")
    reasons = Counter(jobs.filter(status=ShadowJob.Status.FAILED).values_list("error", flat=True))
    return {
        "accepted": accepted,
        "jobs": total_jobs,
        "pairs": job_pairs,
        "all_pairs": pairs.count(),
        "done": done,
        "failed": failed,
        "failed_by_reason": dict(reasons),
        "skipped_sample": skipped_sample,
        "skipped_cap": skipped_cap,
        "open": open_jobs,
    }


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _acknowledged(ids: Iterable[str], problems: list[str], recorded: dict[str, int]) -> dict:
    """(b) every id a client got a 2xx for is stored (a dead letter is stored too: visible,
    counted and readable in the admin; reported apart)."""
    wanted = sorted(set(ids))
    stored: set[str] = set()
    lettered: set[str] = set()
    for chunk in _chunks(wanted):
        stored.update(
            RequestLog.objects.filter(request_id__in=chunk).values_list("request_id", flat=True)
        )
        lettered.update(
            DeadLetter.objects.filter(request_id__in=chunk).values_list("request_id", flat=True)
        )
    missing = [i for i in wanted if i not in stored and i not in lettered]
    if missing:
        hint = ""
        if recorded["dropped"] or recorded["lost"]:
            hint = (
                f" (this process's recorder dropped {recorded['dropped']} and lost "
                f"{recorded['lost']})"
            )
        problems.append(
            f"{len(missing)} of {len(wanted)} acknowledged request id(s) not stored{hint}, "
            f"e.g. {missing[:5]}"
        )
    return {
        "acknowledged": len(wanted),
        "acknowledged_stored": len(stored),
        "acknowledged_dead_lettered": len(lettered - stored),
        "acknowledged_missing": len(missing),
    }


def _duplicates(rollout: Rollout | None, problems: list[str]) -> dict[str, int]:
    """(c) count(*) == count(distinct key) for request logs, jobs and pairs."""
    logs = RequestLog.objects.all()
    jobs = ShadowJob.objects.all()
    pairs = ShadowPair.objects.all()
    if rollout is not None:
        logs, jobs, pairs = (
            logs.filter(feature_id=rollout.feature_id),
            jobs.filter(rollout=rollout),
            pairs.filter(rollout=rollout),
        )
    counts: dict[str, int] = {}
    for name, rows, key in (
        ("request logs", logs, ("feature_id", "request_id")),
        ("shadow jobs", jobs, ("request_id", "config_id")),
        ("pairs", pairs, ("rollout_id", "request_key")),
    ):
        total, distinct = rows.count(), rows.values(*key).distinct().count()
        if total != distinct:
            problems.append(f"{total - distinct} duplicated {name} ({total} rows, {distinct} keys)")
        counts[f"duplicate_{name.replace(' ', '_')}"] = total - distinct
    return counts


def _dead_letters(problems: list[str], recorded: dict[str, int]) -> dict[str, int]:
    """(d) the gateway's dead letters in the table equal what this process's recorder counted
    (only with a baseline: the counter is process-wide and the test database is not)."""
    total = DeadLetter.objects.count()
    gateway = DeadLetter.objects.filter(source=DeadLetter.Source.GATEWAY).count()
    if _baseline is not None and gateway != recorded["dead_lettered"]:
        problems.append(
            f"{gateway} gateway dead letter(s) in the table, the recorder counted "
            f"{recorded['dead_lettered']}"
        )
    if recorded["lost"]:
        problems.append(
            f"the recorder lost {recorded['lost']} record(s) (neither stored nor dead-lettered)"
        )
    return {
        "dead_letters": total,
        "dead_letters_gateway": gateway,
        "recorder_dead_lettered": recorded["dead_lettered"],
        "recorder_dropped": recorded["dropped"],
        "recorder_lost": recorded["lost"],
    }


def _eval_runs(problems: list[str]) -> dict[str, int]:
    """Eval runs end too: no run left queued or running, no open result in an ended run."""
    live = Run.objects.filter(status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).count()
    stranded = CaseResult.objects.filter(
        Q(status__in=CaseResult.OPEN), run__status__in=Run.ENDED
    ).count()
    if live:
        problems.append(f"{live} eval run(s) still queued or running")
    if stranded:
        problems.append(f"{stranded} open case result(s) in ended eval runs")
    return {"eval_runs": Run.objects.count(), "eval_runs_open": live}


def check_invariants(
    *,
    acknowledged_request_ids: Iterable[str] | None = None,
    rollout: Rollout | None = None,
    label: str = "",
) -> dict[str, Any]:
    """Assert (a) shadow accounting, (b) acknowledged ids stored, (c) no duplicates, (d) dead
    letters counted, (e) the audit chain verifies, plus eval runs ended; return the counts."""
    problems: list[str] = []
    recorded = _recorder_delta()
    counts: dict[str, Any] = {}
    counts |= _shadow(rollout, problems)
    if acknowledged_request_ids is not None:
        counts |= _acknowledged(acknowledged_request_ids, problems, recorded)
    counts |= _duplicates(rollout, problems)
    counts |= _dead_letters(problems, recorded)
    counts |= _eval_runs(problems)
    report = audit_verify()
    counts["audit_events"] = report.checked
    if not report.ok:
        where = f" at event #{report.broken_id}" if report.broken_id is not None else ""
        problems.append(f"audit chain broken{where}: {report.problem}")
    print(f"invariants {label or ''}: {counts}", file=sys.stderr)
    if problems:
        raise AssertionError(
            f"invariants violated{' (' + label + ')' if label else ''}:\n- "
            + "\n- ".join(problems)
            + f"\ncounts: {counts}"
        )
    return counts
