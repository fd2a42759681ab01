"""The executor's database side: claiming case results under a lease, renewing leases, writing
results once. Plain sync functions; the executor calls them from its one database thread.

Every write is a compare-and-set on (status=running, attempts=<the claim's attempts>): the
attempt count is the claim's fencing token, so a redelivered task, a second worker or a worker
whose lease lapsed and was taken over can never write a result twice or over a cancelled one.
Leases are timed by the database's clock, like shadow jobs': workers' clocks may disagree.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Now

from evaluations.models import CaseResult, Run
from registry.dbfaults import DB_FAULTS

log = logging.getLogger("evaluations.executor")

# A result whose worker died this many times (its lease lapsed each time) is given up on as an
# error rather than claimed forever: a case that kills its worker must not stall the run.
MAX_ATTEMPTS = 3
GAVE_UP = (
    f"gave up after {MAX_ATTEMPTS} attempts: the worker running this case stopped each time "
    "(killed, out of memory or cut off); start a new run to try again"
)


@dataclass(frozen=True, slots=True)
class Claim:
    result_id: int
    case_id: int
    trial: int
    attempts: int  # the fencing token of this claim


def _lease_end() -> "ExpressionWrapper[CombinedExpression]":
    return ExpressionWrapper(
        Now() + timedelta(seconds=settings.EVAL_LEASE_SECONDS), output_field=DateTimeField()
    )


def claimable() -> Q:
    """Pending results, and running ones whose worker stopped renewing the lease."""
    return Q(status=CaseResult.Status.PENDING) | Q(
        status=CaseResult.Status.RUNNING, lease_until__lt=Now(), attempts__lt=MAX_ATTEMPTS
    )


def run_status(run_id: int) -> str:
    return Run.objects.filter(pk=run_id).values_list("status", flat=True).first() or ""


def claim_batch(*, run_id: int, limit: int) -> list[Claim] | None:
    """Up to `limit` results of a running run, now leased to the caller; None once the run is
    no longer running (cancelled or finished: claim nothing more)."""
    with transaction.atomic():
        if run_status(run_id) != Run.Status.RUNNING:
            return None
        if limit <= 0:
            return []
        open_rows = CaseResult.objects.filter(claimable(), run_id=run_id).order_by("pk")
        if connection.vendor == "postgresql":
            # Two workers on one run take disjoint rows without waiting for each other.
            open_rows = open_rows.select_for_update(skip_locked=True)
        # SQLite: the transaction is IMMEDIATE (settings), so it holds the write lock from
        # BEGIN and nothing can claim between this read and the compare-and-set below.
        ids = list(open_rows.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        CaseResult.objects.filter(claimable(), pk__in=ids).update(
            status=CaseResult.Status.RUNNING,
            lease_until=_lease_end(),
            attempts=F("attempts") + 1,
        )
        rows = CaseResult.objects.filter(pk__in=ids, status=CaseResult.Status.RUNNING)
        return [
            Claim(result_id=pk, case_id=case_id, trial=trial, attempts=attempts)
            for pk, case_id, trial, attempts in rows.values_list(
                "pk", "case_id", "trial", "attempts"
            )
        ]


def renew_leases(claims: list[Claim]) -> int:
    """Extend the leases of results still being worked on (waiting for a provider slot, a call
    or a judge); a claim taken over by another worker (attempts moved on) is not renewed."""
    by_attempt: dict[int, list[int]] = {}
    for claim in claims:
        by_attempt.setdefault(claim.attempts, []).append(claim.result_id)
    renewed = 0
    for attempts, ids in by_attempt.items():
        renewed += CaseResult.objects.filter(
            pk__in=ids, status=CaseResult.Status.RUNNING, attempts=attempts
        ).update(lease_until=_lease_end())
    return renewed


# --- writing results ---------------------------------------------------------------------------

_TEXT_FIELDS = ("output", "error")


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate at the edge: model output is untrusted text and PostgreSQL refuses a NUL byte,
    so one odd answer must not fail the batch it is written with."""
    out = dict(fields)
    for name in _TEXT_FIELDS:
        if isinstance(out.get(name), str):
            out[name] = out[name].replace("\x00", "\ufffd")
    for name in ("finish_reason", "error_kind"):
        out[name] = (out.get(name) or "")[:32]
    for name in ("prompt_tokens", "completion_tokens"):
        value = out.get(name)
        out[name] = value if isinstance(value, int) and 0 <= value < 2**31 else None
    cost = out.get("cost")
    if cost is not None:
        try:
            cost = Decimal(cost).quantize(Decimal("0.00000001"))
            out["cost"] = cost if abs(cost) < 10**6 else None
        except (InvalidOperation, TypeError, ValueError):
            out["cost"] = None
    return out


@dataclass(frozen=True, slots=True)
class Written:
    claim: Claim
    fields: dict[str, Any]  # status, output, ..., all of them, finished set by the write


def _write_one(item: Written) -> int:
    return CaseResult.objects.filter(
        pk=item.claim.result_id,
        status=CaseResult.Status.RUNNING,
        attempts=item.claim.attempts,
    ).update(**item.fields, lease_until=None, finished=Now())


def write_results(items: list[Written]) -> int:
    """Write a batch in one transaction; returns how many rows took the write (a result that
    was cancelled or taken over meanwhile takes none). A batch that fails is split: each row
    is tried alone, and a row that still fails is stored as an error saying so."""
    items = [Written(claim=i.claim, fields=_clean(i.fields)) for i in items]
    try:
        with transaction.atomic():
            return sum(_write_one(item) for item in items)
    except DB_FAULTS:
        raise  # unreachable, not refusing: the caller waits for it and writes the batch again
    except DatabaseError:
        log.warning("a batch of %d results failed to write; writing them one by one", len(items))
    written = 0
    for item in items:
        try:
            with transaction.atomic():
                written += _write_one(item)
        except DB_FAULTS:
            raise
        except DatabaseError as exc:
            log.warning("result %s could not be stored: %s", item.claim.result_id, exc)
            fallback = Written(
                claim=item.claim,
                fields={
                    "status": CaseResult.Status.ERROR,
                    "error_kind": "store_error",
                    "error": f"the result could not be stored ({type(exc).__name__}); "
                    "run the case again",
                },
            )
            with transaction.atomic():
                written += _write_one(fallback)
    return written


def release(claims: list[Claim]) -> int:
    """Give claims back unworked (their provider's circuit stayed open): pending again, with
    the attempt returned, since MAX_ATTEMPTS counts workers that die, not providers that are
    down. A claim taken over meanwhile (attempts moved on) is left alone."""
    released = 0
    for claim in claims:
        released += CaseResult.objects.filter(
            pk=claim.result_id, status=CaseResult.Status.RUNNING, attempts=claim.attempts
        ).update(status=CaseResult.Status.PENDING, attempts=F("attempts") - 1, lease_until=None)
    return released


def give_up_lapsed(run_id: int | None = None) -> int:
    """Results whose lease lapsed MAX_ATTEMPTS times become errors (see MAX_ATTEMPTS)."""
    rows = CaseResult.objects.filter(
        status=CaseResult.Status.RUNNING, lease_until__lt=Now(), attempts__gte=MAX_ATTEMPTS
    )
    if run_id is not None:
        rows = rows.filter(run_id=run_id)
    return rows.update(
        status=CaseResult.Status.ERROR,
        error_kind="worker_lost",
        error=GAVE_UP,
        lease_until=None,
        finished=Now(),
    )


def has_open(run_id: int) -> bool:
    return CaseResult.objects.filter(run_id=run_id, status__in=CaseResult.OPEN).exists()
