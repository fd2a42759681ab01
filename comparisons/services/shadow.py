"""Running shadow jobs: claim, call the other config, store the pair, finish. Redelivery-safe."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Now

from comparisons.models import ShadowPair
from comparisons.services.scoring import score_pair
from registry.models import RequestLog, ShadowJob
from registry.services.audit import db_now
from traffic.assignment import CANDIDATE
from traffic.prompting import render_messages
from traffic.providers import CallResult, ProviderCall, call
from traffic.redaction import feature_redactor
from traffic.routing import config_view

log = logging.getLogger("comparisons.shadow")
MAX_ATTEMPTS = 5


def _claim(job_id: int) -> bool:
    # Compare-and-set: of two workers handed the same job, exactly one proceeds.
    return bool(
        ShadowJob.objects.filter(pk=job_id, status=ShadowJob.Status.QUEUED).update(
            status=ShadowJob.Status.CLAIMED, claimed_at=Now(), attempts=F("attempts") + 1
        )
    )


def shadow_job_run(*, job_id: int, transport=None) -> ShadowPair | None:
    """1. Claim the job (or return: someone else has it, or it is finished).
    2. Run the request's input under the job's config, with that config's prompt and params.
    3. Store the pair (unique per rollout and request) and mark the job done, in one transaction.
    """
    if not _claim(job_id):
        return None
    job = ShadowJob.objects.select_related(
        "request", "rollout__feature", "config__model_version__provider"
    ).get(pk=job_id)
    request: RequestLog = job.request
    config = config_view(job.config)
    result = call(
        ProviderCall(
            api_style=config.provider.api_style,
            base_url=config.provider.base_url,
            api_key_env=config.provider.api_key_env,
            timeout=config.provider.timeout,
            model_id=config.model_id,
            messages=render_messages(config, request.messages, request.variables),
            params=config.params,
        ),
        transport=transport,
    )
    return _store_pair(job, request, result)


def _store_pair(job: ShadowJob, request: RequestLog, result: CallResult) -> ShadowPair | None:
    redact = feature_redactor(job.rollout.feature)
    shadow_side = {
        "output": redact.text(result.output),
        "error": (result.error_kind + ": " + redact.text(result.error))[:300]
        if result.error_kind
        else "",
        "latency_ms": result.latency_ms,
        "tokens": result.completion_tokens,
    }
    served_side = {
        "output": request.output,
        "error": (request.error_kind + ": " + request.error)[:300] if request.error_kind else "",
        "latency_ms": request.latency_ms,
        "tokens": request.completion_tokens,
    }
    served_candidate = request.variant == CANDIDATE
    base, cand = (shadow_side, served_side) if served_candidate else (served_side, shadow_side)
    rollout = job.rollout
    pair = ShadowPair(
        rollout=rollout,
        request=request,
        request_key=request.request_id,
        messages=request.messages,
        baseline_config_id=rollout.baseline_id,
        candidate_config_id=rollout.candidate_id,
        served_variant=request.variant,
        baseline_output=base["output"],
        candidate_output=cand["output"],
        baseline_error=base["error"],
        candidate_error=cand["error"],
        baseline_latency_ms=base["latency_ms"],
        candidate_latency_ms=cand["latency_ms"],
        baseline_tokens=base["tokens"],
        candidate_tokens=cand["tokens"],
        # Recorded as data, never executed (nothing in Rollout Desk executes tool calls).
        candidate_tool_calls=(request.tool_calls if served_candidate else result.tool_calls),
    )
    score_pair(
        pair,
        similarity_below=rollout.feature.flag_similarity_below,
        review_sample_bp=rollout.review_sample_bp,
        double_review_bp=rollout.double_review_bp,
    )
    try:
        with transaction.atomic():
            pair.save()
            _finish(job, ShadowJob.Status.DONE)
    except IntegrityError:
        # The pair exists already (an earlier run got this far): the job is done all the same.
        _finish(job, ShadowJob.Status.DONE)
        return None
    return pair


def _finish(job: ShadowJob, status: str, error: str = "") -> None:
    ShadowJob.objects.filter(pk=job.pk, status=ShadowJob.Status.CLAIMED).update(
        status=status, finished=Now(), error=error
    )


def shadow_sweep() -> list[int]:
    """Re-queue jobs whose worker vanished and return the ids to nudge again: jobs queued for a
    while (their nudge was lost) and jobs claimed for longer than a task may run."""
    now = db_now()
    stale_claim = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    lost_nudge = now - timedelta(seconds=settings.SHADOW_REDISPATCH_SECONDS)
    claimed = ShadowJob.objects.filter(status=ShadowJob.Status.CLAIMED, claimed_at__lt=stale_claim)
    claimed.filter(attempts__gte=MAX_ATTEMPTS).update(
        status=ShadowJob.Status.FAILED, finished=now, error="gave up after repeated worker loss"
    )
    claimed.filter(attempts__lt=MAX_ATTEMPTS).update(status=ShadowJob.Status.QUEUED)
    waiting = ShadowJob.objects.filter(
        Q(renudged__isnull=True, created__lt=lost_nudge) | Q(renudged__lt=lost_nudge),
        status=ShadowJob.Status.QUEUED,
    )
    ids = list(waiting.order_by("created").values_list("pk", flat=True)[:5000])
    ShadowJob.objects.filter(pk__in=ids).update(renudged=now)
    return ids
