"""The judge on a rollout's shadow pairs, and how far it agrees with the reviewers.

Judgements are PairJudgement rows, one per (pair, judge config), never Labels: the review
statistics (comparisons/services/stats.py) read only Labels and Adjudications, so the judge
cannot tilt them. The judge is compared with the reviewers instead (`judge_summary`).

Agreement uses each pair's human verdict as the review statistics derive it (`pair_outcomes`:
single, agreed or adjudicated; disagreements have none and are left out). A human "both bad" is
left out too: the judge is asked which answer is better and has no "both bad" answer, so counting
those pairs as either a match or a miss would measure the question, not the judge.
"""

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
from django.db.models import QuerySet

from comparisons.models import Label, ShadowPair
from comparisons.services.stats import AGREEMENT_MIN_PAIRS, Rate, cohen_kappa, pair_outcomes, wilson
from evaluations.judge import PairVerdict, ajudge_pair
from registry.models import Rollout
from rollouts.models import PairJudgement
from rollouts.verdict_rollup import verdict_minutes_refresh_pairs
from traffic.providers import pool
from traffic.routing import config_view

VERDICTS = [v for v, _ in PairJudgement.Verdict.choices]
# Pairs judged concurrently (two calls each, one per order) before their rows are written: a
# worker lost mid-batch loses at most this many judgements, which the next run redoes.
BATCH = 16


def question_text(messages: object) -> str:
    """The conversation a pair answered, as the judge reads it: one "role: text" block per
    message (text parts joined; anything else shown as JSON would be noise, so skipped)."""
    blocks = []
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(
                p.get("text", "")
                for p in content
                if isinstance(p, dict) and p.get("type") == "text"
            )
        if isinstance(content, str) and content.strip():
            blocks.append(f"{message.get('role', 'user')}: {content}")
    return "\n\n".join(blocks)


def pending_pairs(rollout: Rollout) -> QuerySet[ShadowPair]:
    """Pairs the rollout's judge has not judged yet. A pair with an error on either side is not
    judged: an empty answer says nothing about quality, and the pair's error flag shows it."""
    if rollout.judge_config_id is None:
        return ShadowPair.objects.none()
    done = PairJudgement.objects.filter(judge_id=rollout.judge_config_id).values("pair_id")
    return (
        ShadowPair.objects.filter(rollout=rollout, baseline_error="", candidate_error="")
        .exclude(pk__in=done)
        .order_by("id")
    )


def _row(*, pair_id: int, judge_id: int, result: PairVerdict) -> PairJudgement:
    if result.error:
        status, verdict = PairJudgement.Status.ERROR, ""
    else:
        status, verdict = PairJudgement.Status.DONE, result.verdict or ""
    return PairJudgement(
        pair_id=pair_id,
        judge_id=judge_id,
        status=status,
        verdict=verdict,
        orders=result.orders,
        error=result.error,
    )


def judge_rollout_pairs(
    *, rollout: Rollout, limit: int = 200, transport: httpx.AsyncBaseTransport | None = None
) -> int:
    """Judge up to `limit` pending pairs in both orders; returns how many judgements were stored.

    1. Read a batch of pending pairs (id, input, both outputs).
    2. Judge them concurrently, off the database (asyncio, two calls per pair).
    3. Store the batch with ignore_conflicts: the unique (pair, judge) constraint makes a rerun,
       or two workers on one rollout, store each judgement once (the loser's calls are wasted,
       never duplicated).
    """
    if rollout.judge_config_id is None:
        return 0
    judge_config = rollout.judge_config
    assert judge_config is not None  # noqa: S101 - narrowed by the id check above
    judge = config_view(judge_config)
    stored = 0
    while stored < limit:
        batch = list(
            pending_pairs(rollout).values_list(
                "id", "messages", "baseline_output", "candidate_output"
            )[: min(BATCH, limit - stored)]
        )
        if not batch:
            break

        async def run(rows: list[tuple[int, Any, str, str]] = batch) -> list[PairVerdict]:
            try:
                return await asyncio.gather(
                    *(
                        ajudge_pair(
                            judge=judge,
                            question=question_text(messages),
                            baseline=baseline,
                            candidate=candidate,
                            transport=transport,
                        )
                        for _id, messages, baseline, candidate in rows
                    )
                )
            finally:
                # The pooled connections belong to this loop, which ends with the batch.
                await pool.aclose_async_clients()

        results = asyncio.run(run())
        rows = [
            _row(pair_id=pair_id, judge_id=judge.id, result=result)
            for (pair_id, *_), result in zip(batch, results, strict=True)
        ]
        before = PairJudgement.objects.filter(judge_id=judge.id, pair__rollout=rollout).count()
        PairJudgement.objects.bulk_create(rows, ignore_conflicts=True)
        # The canary chart's judge line, now; the minute beat task is the safety net.
        verdict_minutes_refresh_pairs(pair_ids=[row.pair_id for row in rows])
        after = PairJudgement.objects.filter(judge_id=judge.id, pair__rollout=rollout).count()
        if after == before:
            break  # another worker stored this batch first; it will carry on from here
        stored += after - before
    return stored


# --- the summary the rollout page shows -------------------------------------------------------


@dataclass(frozen=True)
class JudgeAgreement:
    pairs: int  # pairs with both a judge verdict and a human verdict other than both bad
    matches: int
    both_bad_left_out: int
    minimum: int
    kappa: float | None  # None below the minimum, or when undefined

    @property
    def too_few(self) -> bool:
        return self.pairs < self.minimum


def judge_summary(
    rollout: Rollout, *, agreement_min_pairs: int = AGREEMENT_MIN_PAIRS
) -> dict[str, Any]:
    """The judge card's figures: the judge's own verdict rates (95% Wilson), its errors, what is
    still pending, and Cohen's kappa against the reviewers on the pairs both have judged."""
    config = rollout.judge_config
    if config is None:
        return {"config": None}
    rows = PairJudgement.objects.filter(judge=config, pair__rollout=rollout)
    by_pair = dict(rows.filter(status=PairJudgement.Status.DONE).values_list("pair_id", "verdict"))
    errors = rows.filter(status=PairJudgement.Status.ERROR).count()
    counts = Counter(by_pair.values())
    rates: dict[str, Rate] = {v: wilson(counts[v], len(by_pair)) for v in VERDICTS}
    shared: list[tuple[str, str]] = []
    both_bad = 0
    for pair_id, outcome in pair_outcomes(rollout).items():
        if pair_id not in by_pair or outcome.verdict is None:
            continue
        if outcome.verdict == Label.Verdict.BOTH_BAD:
            both_bad += 1
            continue
        shared.append((outcome.verdict, by_pair[pair_id]))
    enough = len(shared) >= agreement_min_pairs
    agreement = JudgeAgreement(
        pairs=len(shared),
        matches=sum(human == judged for human, judged in shared),
        both_bad_left_out=both_bad,
        minimum=agreement_min_pairs,
        kappa=cohen_kappa(shared) if enough else None,
    )
    return {
        "config": config,
        "model_id": config.model_version.model_id,
        "judged": len(by_pair),
        "errors": errors,
        "pending": pending_pairs(rollout).count(),
        "rates": rates,
        "agreement": agreement,
    }
