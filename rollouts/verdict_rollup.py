"""Per-minute counts of the verdicts on a rollout's pairs (VerdictMinute), for the canary chart
"Reviewer and judge verdicts".

Counted by recomputing whole minutes, never by adding deltas: `verdict_minutes_refresh` counts
the verdicts of every pair whose production request fell in the given minutes and writes the
absolute values, so a label edited, undone or covered by an adjudication, or a judge replaced,
leaves exact counts however often (or in whatever order) a minute is refreshed.

What counts, per pair (each pair once, like the review statistics):
  - reviewer: the pair's outcome as `comparisons.services.stats.pair_outcomes` derives it (an
    adjudication wins; else the single or agreed label's verdict; reviewers who disagree give no
    verdict until someone adjudicates). A chart titled "Reviewer verdicts" that counted labels
    would count a pair labelled twice twice and a disagreement as one win plus one loss; per
    pair it says what the review summary and the reviewer-loss guardrail say, with the same n.
    Copies of a label on identical pairs (`covered_by`) are one judgement, so not counted.
  - judge: the rollout's current judge config's finished judgements (errors have no verdict),
    like the judge card and the judge-loss guardrail.

The minute is the pair's production request's `started` (the pair's request log), so a late
verdict lands in the minute of the traffic it judges; a pair without a log (imported, or its
log purged after retention) falls back to the pair's `created`.
"""

import logging
import operator
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import reduce

from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from comparisons.models import Adjudication, Label, ShadowPair
from comparisons.services.stats import settled_verdict
from registry.models import AuditEvent, Rollout
from registry.services.audit import db_now
from rollouts.models import PairJudgement, VerdictMark, VerdictMinute
from traffic.metrics import minute_of

log = logging.getLogger("rollouts.verdicts")

SOURCES = (VerdictMinute.Source.REVIEWER.value, VerdictMinute.Source.JUDGE.value)
MINUTE = timedelta(minutes=1)
# More separate minute ranges than this in one refresh are read as one span and sorted out in
# Python: one range per minute would make a statement as long as a day of minutes.
MAX_RANGES = 40
# Advisory lock class for "refreshing this rollout's verdict minutes" (PostgreSQL; SQLite has
# one writer at a time anyway): two refreshes of one minute that read before each other's
# write would otherwise let the older count win.
_LOCK_CLASS = 0x7D11
Key = tuple[str, datetime]  # (source, minute)


def _at(prefix: str = "pair__") -> Coalesce:
    """When a pair's production request started (see the module docstring)."""
    return Coalesce(F(f"{prefix}request__started"), F(f"{prefix}created"))


def _ranges(minutes: set[datetime]) -> list[tuple[datetime, datetime]]:
    ordered = sorted(minutes)
    spans: list[list[datetime]] = []
    for minute in ordered:
        if spans and spans[-1][1] == minute:
            spans[-1][1] = minute + MINUTE
        else:
            spans.append([minute, minute + MINUTE])
    if len(spans) > MAX_RANGES:
        return [(ordered[0], ordered[-1] + MINUTE)]
    return [(a, b) for a, b in spans]


def _within(ranges: list[tuple[datetime, datetime]] | None) -> Q:
    if ranges is None:
        return Q()
    return reduce(operator.or_, (Q(at__gte=start, at__lt=end) for start, end in ranges))


def _count(
    rollout_id: int, judge_id: int | None, ranges: list[tuple[datetime, datetime]] | None
) -> dict[Key, Counter[str]]:
    """The verdicts per (source, minute) of the pairs whose request fell in `ranges` (None:
    every pair of the rollout)."""
    where = _within(ranges)
    labels: dict[int, list[str]] = defaultdict(list)
    when: dict[int, datetime] = {}
    rows = (
        Label.objects.filter(pair__rollout_id=rollout_id, covered_by__isnull=True)
        .annotate(at=_at())
        .filter(where)
        .values_list("pair_id", "verdict", "at")
    )
    for pair_id, verdict, at in rows:
        labels[pair_id].append(verdict)
        when[pair_id] = at
    adjudicated: dict[int, str] = {}
    settled = (
        Adjudication.objects.filter(pair__rollout_id=rollout_id)
        .annotate(at=_at())
        .filter(where)
        .values_list("pair_id", "verdict", "at")
    )
    for pair_id, verdict, at in settled:
        adjudicated[pair_id] = verdict
        when[pair_id] = at
    counts: dict[Key, Counter[str]] = defaultdict(Counter)
    for pair_id in labels.keys() | adjudicated.keys():
        # The rule of the review statistics (pair_outcomes), for a few pairs at a time.
        outcome = settled_verdict(labels.get(pair_id, []), adjudicated.get(pair_id))
        if outcome is not None:
            counts[(VerdictMinute.Source.REVIEWER, minute_of(when[pair_id]))][outcome] += 1
    if judge_id is not None:
        judged = (
            PairJudgement.objects.filter(
                pair__rollout_id=rollout_id, judge_id=judge_id, status=PairJudgement.Status.DONE
            )
            .annotate(at=_at())
            .filter(where)
            .values_list("verdict", "at")
        )
        for verdict, at in judged:
            if verdict in VerdictMinute.COUNTS:
                counts[(VerdictMinute.Source.JUDGE, minute_of(at))][verdict] += 1
    return counts


def _lock(rollout_id: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s::integer, %s::integer)", [_LOCK_CLASS, rollout_id]
            )


def _write(rollout_id: int, scope: set[Key], counts: dict[Key, Counter[str]]) -> int:
    """Make the rows of `scope` say `counts` (absent: no row). Returns the rows kept."""
    now = timezone.now()
    rows = [
        VerdictMinute(
            rollout_id=rollout_id,
            source=source,
            minute=minute,
            updated=now,
            **{name: counts[(source, minute)][name] for name in VerdictMinute.COUNTS},
        )
        for source, minute in sorted(scope)
        if sum(counts.get((source, minute), Counter()).values())
    ]
    gone = scope - {(r.source, r.minute) for r in rows}
    for source in SOURCES:
        minutes = [m for s, m in gone if s == source]
        if minutes:
            VerdictMinute.objects.filter(
                rollout_id=rollout_id, source=source, minute__in=minutes
            ).delete()
    VerdictMinute.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["rollout", "source", "minute"],
        update_fields=[*VerdictMinute.COUNTS, "updated"],
    )
    return len(rows)


def _judge_of(rollout_id: int) -> int | None:
    judge: int | None = (
        Rollout.objects.filter(pk=rollout_id).values_list("judge_config_id", flat=True).first()
    )
    return judge


@transaction.atomic
def verdict_minutes_refresh(*, rollout_id: int, minutes: Iterable[datetime]) -> int:
    """Recount these minutes of the rollout (any time inside a minute names it) from its labels,
    adjudications and judgements, and write the absolute counts; a minute left without verdicts
    loses its row. Returns how many minute rows now hold verdicts."""
    wanted = {minute_of(m) for m in minutes}
    if not wanted:
        return 0
    _lock(rollout_id)
    counts = _count(rollout_id, _judge_of(rollout_id), _ranges(wanted))
    scope = {(source, minute) for source in SOURCES for minute in wanted}
    return _write(rollout_id, scope, {k: v for k, v in counts.items() if k in scope})


def pair_minutes(pair_ids: Iterable[int]) -> dict[int, set[datetime]]:
    """rollout id -> the minutes of these pairs' production requests (deleted pairs: none)."""
    ids = sorted(set(pair_ids))
    out: dict[int, set[datetime]] = defaultdict(set)
    for start in range(0, len(ids), 500):  # SQLite's limit on a statement's parameters
        rows = (
            ShadowPair.objects.filter(pk__in=ids[start : start + 500])
            .annotate(at=_at(""))
            .values_list("rollout_id", "at")
        )
        for rollout_id, at in rows:
            out[rollout_id].add(minute_of(at))
    return dict(out)


def verdict_minutes_refresh_pairs(*, pair_ids: Iterable[int]) -> int:
    """Refresh the minutes of these pairs, right after their verdicts changed."""
    return sum(
        verdict_minutes_refresh(rollout_id=rollout_id, minutes=minutes)
        for rollout_id, minutes in pair_minutes(pair_ids).items()
    )


@transaction.atomic
def verdict_minutes_rebuild(*, rollout_id: int) -> int:
    """Recount every minute of the rollout: the first run, a judge replaced, the daily check."""
    _lock(rollout_id)
    counts = _count(rollout_id, _judge_of(rollout_id), None)
    existing = VerdictMinute.objects.filter(rollout_id=rollout_id).values_list("source", "minute")
    return _write(rollout_id, set(existing) | set(counts), counts)


# --- the minute beat task's catch-up ---------------------------------------------------------

MARK = "verdicts"
# Judgement timestamps come from the workers' clocks before their insert commits.
SLACK = timedelta(minutes=5)
# Judgement ids a concurrent worker may have taken before the last run's highest id and
# committed after it (a batch is 16 rows; this is minutes of judging on every rollout at once).
JUDGEMENT_ID_OVERLAP = 2000
# Everything is recounted this often: what no audit event or judgement id shows (a purge of
# judged pairs, a label removed in the admin or by hand) is right again within a day.
REBUILD_EVERY = timedelta(hours=24)
# Audit actions that change a pair's reviewer outcome, and the snapshot naming its pair. A
# "label.cover" makes copies on identical pairs, which are not counted.
PAIR_ACTIONS = {
    "label.create": "after",
    "label.update": "after",
    "label.undo": "before",
    "adjudication.create": "after",
}
JUDGE_SET = "rollout.set_judge"


def _audit_changes(after_id: int, head: int) -> tuple[set[int], set[str]]:
    """(pairs whose reviewer outcome may have changed, codes of rollouts whose judge changed)
    from the audit events in (after_id, head]."""
    pairs: set[int] = set()
    judges: set[str] = set()
    events = AuditEvent.objects.filter(
        id__gt=after_id, id__lte=head, action__in=[*PAIR_ACTIONS, JUDGE_SET]
    ).values_list("action", "object_id", "before", "after")
    for action, object_id, before, after in events.iterator(chunk_size=2000):
        if action == JUDGE_SET:
            judges.add(object_id)
            continue
        picture = before if PAIR_ACTIONS[action] == "before" else after
        pair_id = picture.get("pair") if isinstance(picture, dict) else None
        if isinstance(pair_id, int):
            pairs.add(pair_id)
    return pairs, judges


def verdict_minutes_catch_up() -> int:
    """Refresh the verdict minutes that changed since the last run; returns how many rollouts
    were refreshed or rebuilt. Idempotent: a rerun recounts the same minutes to the same values.

    1. Lock the mark (made on the first run with a rebuild due, which is the backfill).
    2. Read the audit head, then the events since the mark up to it: labels made, edited or
       undone and adjudications name their pair, a judge change its rollout. An undone label
       leaves no row to find, but its "label.undo" event (written in the same transaction as
       the delete) names the pair, so a deletion is caught exactly, however late the run.
    3. Read the judgements written since the mark.
    4. Refresh the touched minutes of reviewing rollouts and rebuild those whose judge changed
       (every reviewing rollout when the daily rebuild is due), each in its own savepoint.
    5. Advance the mark only if every rollout went through: a failure is retried next minute.
    """
    with transaction.atomic():
        now = db_now()
        mark, _ = VerdictMark.objects.select_for_update().get_or_create(
            name=MARK,
            defaults={"judged_since": now, "rebuilt": now - REBUILD_EVERY, "audit_id": 0},
        )
        head = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        judgement_head = (
            PairJudgement.objects.order_by("-id").values_list("id", flat=True).first() or 0
        )
        reviewing = set(
            Rollout.objects.filter(status__in=Rollout.REVIEWING).values_list("pk", flat=True)
        )
        rebuild_all = mark.rebuilt <= now - REBUILD_EVERY
        if rebuild_all:
            rebuild = set(reviewing)
            touched: dict[int, set[datetime]] = {}
        else:
            pairs, judge_codes = _audit_changes(mark.audit_id, head)
            judged = PairJudgement.objects.filter(
                id__gt=mark.judgement_id - JUDGEMENT_ID_OVERLAP,
                id__lte=judgement_head,
                created__gte=mark.judged_since - SLACK,
            ).values_list("pair_id", flat=True)
            pairs.update(judged)
            rebuild = set(
                Rollout.objects.filter(code__in=judge_codes, pk__in=reviewing).values_list(
                    "pk", flat=True
                )
            )
            touched = {
                rollout_id: minutes
                for rollout_id, minutes in pair_minutes(pairs).items()
                if rollout_id in reviewing and rollout_id not in rebuild
            }
        failed = 0
        for rollout_id in sorted(rebuild | touched.keys()):
            try:
                if rollout_id in rebuild:
                    verdict_minutes_rebuild(rollout_id=rollout_id)
                else:
                    verdict_minutes_refresh(rollout_id=rollout_id, minutes=touched[rollout_id])
            except DatabaseError:
                log.exception("verdict minutes of rollout %s not refreshed", rollout_id)
                failed += 1
        if not failed:
            mark.audit_id = head
            mark.judgement_id = judgement_head
            mark.judged_since = now
            if rebuild_all:
                mark.rebuilt = now
            mark.save()
        return len(rebuild | touched.keys()) - failed
