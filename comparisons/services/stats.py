"""Review statistics of one rollout, counted per pair: the single source for the rollout page
and, later, the approval page.

A pair is the unit of evidence, not a label: a pair labelled twice is one observation, not two.
Each labelled pair gets one outcome (`pair_outcomes`):
  - an adjudicated verdict, when a third person settled it (it wins over the labels);
  - the agreed verdict, when every label on it says the same;
  - the single label's verdict, when only one reviewer labelled it;
  - otherwise a *disagreement*, awaiting adjudication: shown and counted as such, never as a
    verdict, so it cannot tilt a rate either way until someone decides it.
Every rate is over the pairs with a verdict, and carries both n pairs and n labels.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import krippendorff
import numpy as np
from django.db.models import QuerySet
from scipy.stats import binomtest

from comparisons.models import Adjudication, Label, ShadowPair
from registry.models import Rollout

VERDICTS = [v for v, _ in Label.Verdict.choices]
# The rollout page lists the newest critical findings; the pair list filters the rest.
CRITICAL_SHOWN = 50
# Agreement (Cohen's kappa, Krippendorff's alpha) is shown only from this many pairs labelled by
# two or more reviewers. Below it the page says "too few" with the n: with 2 pairs both statistics
# are 1.0 or undefined by chance alone (one disagreement in 10 pairs already moves kappa by
# ~0.2), so a number would read as evidence it is not.
AGREEMENT_MIN_PAIRS = 10


class Source:
    """Where a pair's verdict comes from."""

    SINGLE = "single"
    AGREED = "agreed"
    ADJUDICATED = "adjudicated"
    DISAGREEMENT = "disagreement"  # no verdict: awaiting adjudication


@dataclass(frozen=True)
class Rate:
    count: int
    total: int  # pairs with a verdict (the denominator)
    low: float  # 95% Wilson interval
    high: float
    labels: int = 0  # labels behind those pairs, shown next to n pairs

    @property
    def rate(self) -> float:
        return self.count / self.total if self.total else 0.0


def wilson(count: int, total: int, *, labels: int = 0) -> Rate:
    if total == 0:
        return Rate(0, 0, 0.0, 1.0, labels)
    interval = binomtest(count, total).proportion_ci(confidence_level=0.95, method="wilson")
    return Rate(count, total, round(interval.low, 4), round(interval.high, 4), labels)


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Agreement of two ratings per item beyond chance (None without enough data)."""
    if len(pairs) < 2:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[c] * second[c] for c in VERDICTS) / (n * n)
    if expected == 1:
        return 1.0 if observed == 1 else None
    return round((observed - expected) / (1 - expected), 4)


def krippendorff_alpha(ratings: list[list[str]]) -> float | None:
    """Nominal alpha for items with any number of ratings (None without enough data)."""
    items = [r for r in ratings if len(r) >= 2]
    if len(items) < 2:
        return None
    width = max(len(r) for r in items)
    code = {v: i for i, v in enumerate(VERDICTS)}
    matrix = np.full((width, len(items)), np.nan)
    for column, item in enumerate(items):
        for row, verdict in enumerate(item):
            matrix[row, column] = code[verdict]
    if len({v for item in items for v in item}) < 2:
        return 1.0  # everyone always agreed on one value: alpha is undefined, agreement total
    return round(
        float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")), 4
    )


@dataclass(frozen=True)
class PairOutcome:
    pair_id: int
    source: str  # a Source value
    verdict: str | None  # None for a disagreement
    labels: tuple[str, ...]  # the labels' verdicts, oldest first
    dimensions: frozenset[str]  # tagged by any of its labels
    decided: datetime  # when the verdict (or the disagreement) came about


@dataclass(frozen=True)
class Agreement:
    pairs: int  # pairs labelled by two or more reviewers
    minimum: int
    kappa: float | None  # None below the minimum, or when undefined
    alpha: float | None

    @property
    def too_few(self) -> bool:
        return self.pairs < self.minimum


@dataclass
class ReviewStats:
    labels: int
    pairs_labelled: int
    pairs_with_verdict: int
    by_source: dict[str, int]  # Source value -> pairs
    verdicts: dict[str, Rate]
    by_dimension: dict[str, dict[str, Rate]]
    critical: list[Label]
    agreement: Agreement
    throughput: dict[str, int]  # reviewer -> labels
    per_day: dict[date, Counter] = field(default_factory=dict)  # verdicts decided that day
    worse_cumulative: list[tuple[date, Rate]] = field(default_factory=list)

    @property
    def disagreements(self) -> int:
        """Pairs whose reviewers disagree and that nobody has adjudicated yet."""
        return self.by_source.get(Source.DISAGREEMENT, 0)

    @property
    def double_labelled(self) -> int:
        return self.agreement.pairs

    @property
    def win(self) -> Rate:
        return self.verdicts["better"]

    @property
    def loss(self) -> Rate:
        return self.verdicts["worse"]


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _judgements(rollout: Rollout) -> QuerySet[Label]:
    """The labels that are judgements of their own. A label copied onto identical pairs
    (comparisons/grouping.py, `covered_by`) repeats one judgement, so an identical group counts
    once: as many pairs as the reviewer actually read, never inflated n or agreement."""
    return Label.objects.filter(pair__rollout=rollout, covered_by__isnull=True)


def settled_verdict(verdicts: Sequence[str], adjudicated: str | None) -> str | None:
    """A pair's verdict: the adjudication's, else its labels' when they all agree; None while
    reviewers disagree (or nobody labelled it)."""
    if adjudicated is not None:
        return adjudicated
    return verdicts[0] if len(set(verdicts)) == 1 else None


def pair_outcomes(rollout: Rollout) -> dict[int, PairOutcome]:
    """One outcome per labelled pair of the rollout (see the module docstring)."""
    # Only the columns the figures need: a label row, not its pair's two full outputs.
    rows = (
        _judgements(rollout)
        .order_by("id")
        .values_list("pair_id", "verdict", "dimensions", "created")
    )
    labels: dict[int, list[tuple[str, list[str], datetime]]] = defaultdict(list)
    for pair_id, given, dims, created in rows:
        labels[pair_id].append((given, dims or [], created))
    adjudicated = {
        pair_id: (verdict, created)
        for pair_id, verdict, created in Adjudication.objects.filter(
            pair__rollout=rollout
        ).values_list("pair_id", "verdict", "created")
    }
    out: dict[int, PairOutcome] = {}
    for pair_id, items in labels.items():
        verdicts = tuple(v for v, _, _ in items)
        dims = frozenset(d for _, ds, _ in items for d in ds)
        # The verdict exists from the label that completed it (a later label could have broken it).
        latest = max(created for _, _, created in items)
        adjudication = adjudicated.get(pair_id)
        verdict = settled_verdict(verdicts, adjudication[0] if adjudication else None)
        source: str
        if adjudication is not None:
            decided, source = adjudication[1], Source.ADJUDICATED
        elif verdict is not None:
            decided = latest
            source = Source.SINGLE if len(verdicts) == 1 else Source.AGREED
        else:
            decided, source = latest, Source.DISAGREEMENT
        out[pair_id] = PairOutcome(pair_id, source, verdict, verdicts, dims, decided)
    # An adjudication whose labels were since undone still stands: it was a decision on the pair.
    for pair_id, (verdict, decided) in adjudicated.items():
        if pair_id not in out:
            out[pair_id] = PairOutcome(
                pair_id, Source.ADJUDICATED, verdict, (), frozenset(), decided
            )
    return out


def _rates(outcomes: list[PairOutcome]) -> dict[str, Rate]:
    decided = [o for o in outcomes if o.verdict is not None]
    counts = Counter(o.verdict for o in decided)
    labels = sum(len(o.labels) for o in decided)
    return {v: wilson(counts[v], len(decided), labels=labels) for v in VERDICTS}


def _worse_cumulative(outcomes: list[PairOutcome]) -> list[tuple[date, Rate]]:
    """Candidate-worse rate over the pairs decided up to each day, with its interval.

    Built from today's outcomes, dated when each was decided: a pair whose second label broke the
    agreement leaves the series, so the line is what the current evidence says about each day.
    """
    per_day: dict[date, list[PairOutcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.verdict is not None:
            per_day[_day(outcome.decided)].append(outcome)
    points, worse, total, labels = [], 0, 0, 0
    for day in sorted(per_day):
        worse += sum(o.verdict == Label.Verdict.WORSE for o in per_day[day])
        total += len(per_day[day])
        labels += sum(len(o.labels) for o in per_day[day])
        points.append((day, wilson(worse, total, labels=labels)))
    return points


def rollout_review_stats(
    rollout: Rollout, *, agreement_min_pairs: int = AGREEMENT_MIN_PAIRS
) -> ReviewStats:
    outcomes = list(pair_outcomes(rollout).values())
    decided = [o for o in outcomes if o.verdict is not None]
    by_dimension = {}
    for dimension in Label.DIMENSIONS:
        tagged = [o for o in decided if dimension in o.dimensions]
        if tagged:
            by_dimension[dimension] = _rates(tagged)
    per_day: dict[date, Counter] = defaultdict(Counter)
    for outcome in decided:
        per_day[_day(outcome.decided)][outcome.verdict] += 1
    multi = [list(o.labels) for o in outcomes if len(o.labels) >= 2]
    enough = len(multi) >= agreement_min_pairs
    # Kappa compares two ratings per pair: the first two labels of each pair labelled twice or
    # more. Alpha takes every label.
    agreement = Agreement(
        pairs=len(multi),
        minimum=agreement_min_pairs,
        kappa=cohen_kappa([(r[0], r[1]) for r in multi]) if enough else None,
        alpha=krippendorff_alpha(multi) if enough else None,
    )
    critical = (
        _judgements(rollout)
        .filter(critical=True)
        .select_related("reviewer", "pair")
        .only("verdict", "dimensions", "comment", "reviewer__username", "pair__code")
        .order_by("-id")[:CRITICAL_SHOWN]
    )
    throughput = Counter(_judgements(rollout).values_list("reviewer__username", flat=True))
    return ReviewStats(
        labels=sum(len(o.labels) for o in outcomes),
        pairs_labelled=sum(bool(o.labels) for o in outcomes),
        pairs_with_verdict=len(decided),
        by_source=dict(Counter(o.source for o in outcomes)),
        verdicts=_rates(outcomes),
        by_dimension=by_dimension,
        critical=list(critical),
        agreement=agreement,
        throughput=dict(throughput.most_common()),
        per_day=dict(sorted(per_day.items())),
        worse_cumulative=_worse_cumulative(outcomes),
    )


def similarity_values(rollout: Rollout) -> dict[str, list[float]]:
    """Similarity of pairs by their verdict (one value per pair, disagreements apart), plus the
    unlabelled pairs, for the distribution chart."""
    outcomes = pair_outcomes(rollout)
    out: dict[str, list[float]] = defaultdict(list)
    rows = ShadowPair.objects.filter(pk__in=list(outcomes), similarity__isnull=False)
    for pair_id, similarity in rows.values_list("id", "similarity"):
        if similarity is not None:
            out[outcomes[pair_id].verdict or Source.DISAGREEMENT].append(similarity)
    unlabelled = ShadowPair.objects.filter(rollout=rollout, label_count=0, similarity__isnull=False)
    unlabelled = unlabelled.filter(adjudication__isnull=True)
    out["unlabelled"] = [
        s for s in unlabelled.values_list("similarity", flat=True)[:5000] if s is not None
    ]
    return dict(out)
