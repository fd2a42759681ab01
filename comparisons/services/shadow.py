"""Running shadow jobs: claim, call the other config, store the pair, finish. Redelivery-safe."""

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q
from django.db.models.functions import Now

from comparisons.models import ShadowPair
from comparisons.services.scoring import score_rollout_pair
from registry.models import RequestLog, ShadowJob
from registry.services.audit import db_now
from traffic.assignment import CANDIDATE
from traffic.prompting import provider_call
from traffic.providers import CallResult, ErrorKind, ProviderCall, call
from traffic.redaction import feature_redactor
from traffic.requestlog import raw_input_purge, raw_input_release, redact_json
from traffic.routing import config_view

log = logging.getLogger("comparisons.shadow")
# A job whose worker died this many times (claimed, then its lease lapsed) is failed with
# GAVE_UP rather than claimed forever: a request that kills its worker must not stall the rest.
MAX_ATTEMPTS = 5
GAVE_UP = (
    f"gave up: the worker died {MAX_ATTEMPTS} times on this job (killed, out of memory or cut "
    "off while it ran)"
)


def _lease_end() -> ExpressionWrapper:
    # The database's clock, like the sweep's: workers' clocks may disagree by seconds.
    return ExpressionWrapper(
        Now() + timedelta(seconds=settings.SHADOW_LEASE_SECONDS), output_field=DateTimeField()
    )


def _claim(job_id: int) -> bool:
    """Compare-and-set: of two workers handed the same job, exactly one proceeds. A claim
    whose lease ran out (its worker stopped renewing it: killed, frozen, cut off) may be taken
    over at once; the attempt count is the claim's fencing token (see _Heartbeat)."""
    claimable = Q(status=ShadowJob.Status.QUEUED) | Q(
        status=ShadowJob.Status.CLAIMED, lease_until__lt=Now(), attempts__lt=MAX_ATTEMPTS
    )
    return bool(
        ShadowJob.objects.filter(claimable, pk=job_id).update(
            status=ShadowJob.Status.CLAIMED,
            claimed_at=Now(),
            lease_until=_lease_end(),
            attempts=F("attempts") + 1,
        )
    )


class _Heartbeat:
    """Renews a claimed job's lease every SHADOW_LEASE_SECONDS / 3 while its provider call
    runs, so a worker that dies mid-call leaves a lease that runs out within
    SHADOW_LEASE_SECONDS, and the sweep (every 30 s) re-queues the job.

    The renewal is fenced by the attempt that claimed the job: once the lease was lost and
    another worker claimed the job, this one's renewals match nothing and stop. Both may then
    finish the call; the pair's unique constraint keeps exactly one pair.
    """

    def __init__(self, *, job_id: int, attempt: int) -> None:
        self.job_id, self.attempt = job_id, attempt
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"shadow-lease-{job_id}", daemon=True
        )

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(settings.SHADOW_LEASE_SECONDS / 3):
                try:
                    renewed = ShadowJob.objects.filter(
                        pk=self.job_id, status=ShadowJob.Status.CLAIMED, attempts=self.attempt
                    ).update(lease_until=_lease_end())
                except DatabaseError:
                    # Keep trying: the lease has SHADOW_LEASE_SECONDS of slack for a blip.
                    log.warning("shadow job %s: lease not renewed, retrying", self.job_id)
                    continue
                if not renewed:
                    log.warning(
                        "shadow job %s: lease lost (attempt %s); another worker may run it, "
                        "one pair is kept",
                        self.job_id,
                        self.attempt,
                    )
                    return
        finally:
            connections.close_all()  # this thread's own connection


def _leased_call(job: ShadowJob, req: ProviderCall, **kwargs: Any) -> CallResult:
    """The provider call, with the job's lease renewed while it runs."""
    with _Heartbeat(job_id=job.pk, attempt=job.attempts):
        return call(req, **kwargs)


# The error a job waiting for an open circuit shows while it is queued again.
DEFERRED = "deferred: "


# A job whose log no longer holds its raw input (purged, or logged before raw input was kept)
# fails rather than sending the candidate the redacted text: that would compare two questions.
NO_RAW_INPUT = "the request's raw input is no longer kept; nothing faithful to replay"


def shadow_job_run(
    *, job_id: int, transport: httpx.BaseTransport | None = None
) -> ShadowPair | None:
    """1. Claim the job (or return: someone else has it, or it is finished).
    2. Run the request's raw input under the job's config, with that config's prompt and
       params and the request's own pass-through parameters (tools, stop, seed, ...).
    3. Store the pair (unique per rollout and request) and mark the job done, in one
       transaction that also clears the request's raw input.
    """
    if not _claim(job_id):
        return None
    job = ShadowJob.objects.select_related(
        "request", "rollout__feature", "config__model_version__provider"
    ).get(pk=job_id)
    request: RequestLog = job.request
    if request.raw_messages is None:
        with transaction.atomic():
            _finish(job, ShadowJob.Status.FAILED, NO_RAW_INPUT)
            raw_input_release(log_ids=[request.pk])
        return None
    config = config_view(job.config)
    result = _leased_call(
        job,
        provider_call(
            config,
            messages=request.raw_messages,
            variables=request.raw_variables or {},
            request_params=request.params,
        ),
        transport=transport,
    )
    if result.error_kind == ErrorKind.CIRCUIT_OPEN:
        _defer(job, result)
        return None
    return _store_pair(job, request, result)


def _defer(job: ShadowJob, result: CallResult) -> None:
    """Back to the queue, unsent: an open circuit says nothing about the candidate, so it must
    not become a pair with a candidate error (a loss in review, a breach on the error rate).
    The sweep nudges it again after SHADOW_REDISPATCH_SECONDS; the attempt is given back, since
    the cap on attempts is for workers that die, not for a provider that is down."""
    ShadowJob.objects.filter(
        pk=job.pk, status=ShadowJob.Status.CLAIMED, attempts=job.attempts
    ).update(
        status=ShadowJob.Status.QUEUED,
        attempts=F("attempts") - 1,
        lease_until=None,
        renudged=Now(),
        error=(DEFERRED + result.error)[:500],
    )
    log.info("shadow job %s deferred: %s", job.pk, result.error)


@dataclass(frozen=True, slots=True)
class _Side:
    output: str
    error: str
    latency_ms: float | None
    tokens: int | None


def _store_pair(job: ShadowJob, request: RequestLog, result: CallResult) -> ShadowPair | None:
    redact = feature_redactor(job.rollout.feature)
    shadow_side = _Side(
        output=redact.text(result.output),
        error=(result.error_kind + ": " + redact.text(result.error))[:300]
        if result.error_kind
        else "",
        latency_ms=result.latency_ms,
        tokens=result.completion_tokens,
    )
    served_side = _Side(
        output=request.output,
        error=(request.error_kind + ": " + request.error)[:300] if request.error_kind else "",
        latency_ms=request.latency_ms,
        tokens=request.completion_tokens,
    )
    served_candidate = request.variant == CANDIDATE
    base, cand = (shadow_side, served_side) if served_candidate else (served_side, shadow_side)
    rollout = job.rollout
    pair = ShadowPair(
        rollout=rollout,
        request=request,
        request_key=request.request_id,
        messages=request.messages,  # the redacted text: the raw input ends with this job
        baseline_config_id=rollout.baseline_id,
        candidate_config_id=rollout.candidate_id,
        served_variant=request.variant,
        baseline_output=base.output,
        candidate_output=cand.output,
        baseline_error=base.error,
        candidate_error=cand.error,
        baseline_latency_ms=base.latency_ms,
        candidate_latency_ms=cand.latency_ms,
        baseline_tokens=base.tokens,
        candidate_tokens=cand.tokens,
        # Recorded as data, never executed (nothing in Rollout Desk executes tool calls);
        # redacted like every other stored text.
        candidate_tool_calls=(
            request.tool_calls if served_candidate else redact_json(result.tool_calls, redact)
        ),
        # Kept on the pair for the flags: the request log may be purged before a re-score.
        baseline_tool_calls=(
            redact_json(result.tool_calls, redact) if served_candidate else request.tool_calls
        ),
        baseline_finish_reason=(
            (result.finish_reason or "") if served_candidate else request.finish_reason
        )[:32],
        candidate_finish_reason=(
            request.finish_reason if served_candidate else (result.finish_reason or "")
        )[:32],
    )
    score_rollout_pair(pair)
    try:
        with transaction.atomic():
            pair.save()
            _finish(job, ShadowJob.Status.DONE)
            raw_input_release(log_ids=[request.pk])
    except IntegrityError:
        # The pair exists already (an earlier run got this far): the job is done all the same.
        with transaction.atomic():
            _finish(job, ShadowJob.Status.DONE)
            raw_input_release(log_ids=[request.pk])
        return None
    return pair


def _finish(job: ShadowJob, status: str, error: str = "") -> None:
    ShadowJob.objects.filter(pk=job.pk, status=ShadowJob.Status.CLAIMED).update(
        status=status, finished=Now(), error=error
    )


def shadow_sweep() -> list[int]:
    """Re-queue jobs whose worker vanished and return the ids to nudge again: jobs whose lease
    ran out (re-queued just now) and jobs queued for a while (their nudge was lost)."""
    now = db_now()
    # Claims made before leases existed (lease_until empty) keep the old bound: longer than
    # a task may run.
    stale_claim = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    lost_nudge = now - timedelta(seconds=settings.SHADOW_REDISPATCH_SECONDS)
    lost = ShadowJob.objects.filter(
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, claimed_at__lt=stale_claim),
        status=ShadowJob.Status.CLAIMED,
    )
    given_up = lost.filter(attempts__gte=MAX_ATTEMPTS).update(
        status=ShadowJob.Status.FAILED, finished=now, error=GAVE_UP
    )
    if given_up:
        log.error(
            "failed %d shadow job(s) whose worker died %d times on each", given_up, MAX_ATTEMPTS
        )
    with transaction.atomic():
        # Locked, so a heartbeat racing this sweep waits and then finds its claim gone
        # (rather than the sweep re-queuing a job whose lease was renewed meanwhile).
        requeued = list(
            lost.filter(attempts__lt=MAX_ATTEMPTS)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:5000]
        )
        ShadowJob.objects.filter(pk__in=requeued).update(
            status=ShadowJob.Status.QUEUED, renudged=now
        )
    if requeued:
        log.warning(
            "re-queued %d shadow job(s) whose worker stopped renewing the lease", len(requeued)
        )
    waiting = ShadowJob.objects.filter(
        Q(renudged__isnull=True, created__lt=lost_nudge) | Q(renudged__lt=lost_nudge),
        status=ShadowJob.Status.QUEUED,
    )
    ids = list(waiting.order_by("created").values_list("pk", flat=True)[:5000])
    ShadowJob.objects.filter(pk__in=ids).update(renudged=now)
    ids = requeued + ids
    # Jobs given up on above (and any other ended job) keep no raw input past this sweep.
    raw_input_purge()
    return ids
