"""Replay: logged production requests of a feature run again now, on both configs.

The request log keeps only the REDACTED input (the raw input is cleared when the request's
shadow job ends, by design). Pairing the logged baseline answer (to the raw input) with a
candidate answer to the redacted input would compare two different questions, so a replay runs
the baseline config AND the candidate config on the stored redacted input, now. The pair then
compares like with like; the logged answer is not part of it.

The run row is the truth: it holds the chosen request ids and a cursor advanced compare-and-set
after each request, so a redelivered or doubled task message never counts twice, and the pair's
unique (rollout, request_key) keeps one pair per request.
"""

import logging
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Now

from comparisons.batches import ReplayRun
from comparisons.models import ShadowPair
from comparisons.services.scoring import score_rollout_pair
from registry.errors import DomainError
from registry.models import Feedback, ModelConfig, RequestLog, Rollout
from registry.services.audit import audit_record, snapshot
from traffic.prompting import provider_call
from traffic.providers import CallResult, call
from traffic.redaction import Redactor, feature_redactor
from traffic.routing import config_view

log = logging.getLogger("comparisons.replay")

MAX_SAMPLE = 1000  # requests per run (documented on the page)
CHUNK = 10  # requests per task message, so one message stays far inside the task time limit
RUN_TASK = "comparisons.tasks.run_replay"


@dataclass(frozen=True, slots=True)
class ReplayFilters:
    since: datetime
    until: datetime
    sample: int
    only_flagged: bool = False
    only_negative: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "sample": self.sample,
            "only_flagged": self.only_flagged,
            "only_negative": self.only_negative,
        }


def replay_candidates(*, rollout: Rollout, filters: ReplayFilters):
    """Logged requests of the rollout's feature that the filters select and that have no pair
    in this rollout yet. "Flagged": a pair of the request was flagged in any rollout, or the
    logged call failed. "Negative feedback": a thumbs down or a score of 1-2."""
    logs = RequestLog.objects.filter(
        feature_id=rollout.feature_id, started__gte=filters.since, started__lt=filters.until
    ).exclude(request_id__in=ShadowPair.objects.filter(rollout=rollout).values("request_key"))
    if filters.only_flagged:
        flagged = ShadowPair.objects.filter(request=OuterRef("pk"), flagged=True)
        logs = logs.filter(Exists(flagged) | ~Q(error_kind=""))
    if filters.only_negative:
        negative = Feedback.objects.filter(request=OuterRef("pk")).filter(
            Q(kind=Feedback.Kind.THUMBS, value__lt=0) | Q(kind=Feedback.Kind.SCORE, value__lte=2)
        )
        logs = logs.filter(Exists(negative))
    return logs


def _send(run_id: int) -> None:
    # By name: the task module imports this one.
    from celery import current_app

    try:
        current_app.send_task(RUN_TASK, (run_id,), retry=False)
    except Exception as exc:  # a broker outage: the page's "resume" sends it again
        log.warning("replay %s not dispatched (%s); resume it from its page", run_id, exc)


@transaction.atomic
def replay_start(*, rollout: Rollout, filters: ReplayFilters, actor: Any) -> ReplayRun:
    """Pick the sample (random among the matching requests) and queue the run."""
    if rollout.status not in Rollout.REVIEWING:
        raise DomainError(
            f"This rollout is {rollout.get_status_display().lower()}: its pairs are no longer "
            "reviewed. Replay into an active rollout or an offline comparison."
        )
    if filters.since >= filters.until:
        raise ValidationError({"until": "The end of the time range must be after its start."})
    if not 1 <= filters.sample <= MAX_SAMPLE:
        raise ValidationError({"sample": f"Give a sample size from 1 to {MAX_SAMPLE}."})
    ids = list(replay_candidates(rollout=rollout, filters=filters).values_list("pk", flat=True))
    if not ids:
        raise ValidationError(
            {
                "since": "No logged requests of this feature match (or all are paired in this "
                "rollout already): widen the time range or drop a filter."
            }
        )
    chosen = sorted(random.sample(ids, min(filters.sample, len(ids))))
    run = ReplayRun.objects.create(
        rollout=rollout,
        filters=filters.as_json(),
        request_ids=chosen,
        total=len(chosen),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="replay.start",
        obj=run,
        before=None,
        after=snapshot(run, exclude=("request_ids",)),
        feature_key=rollout.feature.key,
    )
    transaction.on_commit(lambda: _send(run.pk))
    return run


def replay_resume(*, run: ReplayRun) -> None:
    """Send the run's message again (a lost message, a broker outage): harmless if it runs."""
    if run.status != ReplayRun.Status.DONE:
        _send(run.pk)


def _call(config: ModelConfig, request: RequestLog, transport: httpx.BaseTransport | None):
    view = config_view(config)
    return call(
        provider_call(
            view,
            # The stored (redacted) input: the raw input is gone by design.
            messages=request.messages,
            variables=request.variables or {},
            request_params=request.params,
        ),
        transport=transport,
    )


def _error(result: CallResult, redact: Redactor) -> str:
    if not result.error_kind:
        return ""
    return (result.error_kind + ": " + redact.text(result.error))[:300]


def _replay_one(
    run: ReplayRun, request: RequestLog, transport: httpx.BaseTransport | None
) -> tuple[bool, bool]:
    """(stored, failed): call both configs on the stored input and keep the pair."""
    rollout = run.rollout
    redact = feature_redactor(rollout.feature)
    base = _call(rollout.baseline, request, transport)
    cand = _call(rollout.candidate, request, transport)
    pair = ShadowPair(
        rollout=rollout,
        request=request,
        request_key=request.request_id,
        messages=request.messages,
        baseline_config=rollout.baseline,
        candidate_config=rollout.candidate,
        served_variant="baseline",
        baseline_output=redact.text(base.output),
        candidate_output=redact.text(cand.output),
        baseline_error=_error(base, redact),
        candidate_error=_error(cand, redact),
        baseline_latency_ms=base.latency_ms,
        candidate_latency_ms=cand.latency_ms,
        baseline_tokens=base.completion_tokens,
        candidate_tokens=cand.completion_tokens,
        baseline_tool_calls=redact.value(base.tool_calls),
        candidate_tool_calls=redact.value(cand.tool_calls),
        baseline_finish_reason=(base.finish_reason or "")[:32],
        candidate_finish_reason=(cand.finish_reason or "")[:32],
    )
    score_rollout_pair(pair)
    try:
        with transaction.atomic():
            pair.save()
    except IntegrityError:
        return False, False  # paired meanwhile (another message of this run, or live shadow)
    return True, bool(pair.baseline_error or pair.candidate_error)


def replay_step(
    *, run_id: int, transport: httpx.BaseTransport | None = None, chunk: int = CHUNK
) -> bool:
    """Replay up to `chunk` requests from the run's cursor; True while more remain.

    1. Mark the run running (from queued), or return if it is done.
    2. For each request: skip it if purged or paired already, else call both configs and store
       the pair; then advance the cursor from exactly this position (compare-and-set), so of
       two messages racing over the same request only one counts it.
    3. At the end, mark the run done.
    """
    ReplayRun.objects.filter(pk=run_id, status=ReplayRun.Status.QUEUED).update(
        status=ReplayRun.Status.RUNNING
    )
    run = (
        ReplayRun.objects.select_related(
            "rollout__feature",
            "rollout__baseline__model_version__provider",
            "rollout__candidate__model_version__provider",
        )
        .filter(pk=run_id)
        .first()
    )
    if run is None or run.status == ReplayRun.Status.DONE:
        return False
    for position in range(run.cursor, min(run.cursor + chunk, run.total)):
        request = RequestLog.objects.filter(pk=run.request_ids[position]).first()
        paired = (
            request is not None
            and ShadowPair.objects.filter(
                rollout=run.rollout, request_key=request.request_id
            ).exists()
        )
        stored = failed = False
        if request is not None and not paired:
            stored, failed = _replay_one(run, request, transport)
        advanced = ReplayRun.objects.filter(pk=run.pk, cursor=position).update(
            cursor=position + 1,
            done=F("done") + int(stored),
            failed=F("failed") + int(failed),
            skipped=F("skipped") + int(not stored),
            updated=Now(),
        )
        if not advanced:
            return False  # another message is ahead of this one; it carries on
    finished = ReplayRun.objects.filter(
        pk=run.pk, cursor=F("total"), status=ReplayRun.Status.RUNNING
    ).update(status=ReplayRun.Status.DONE, finished=Now())
    run.refresh_from_db(fields=["cursor", "total", "status"])
    return not finished and run.status != ReplayRun.Status.DONE
