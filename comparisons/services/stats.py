"""Review statistics of one rollout: the single source for the rollout page and, later, the
approval page."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

import krippendorff
import numpy as np
from scipy.stats import binomtest

from comparisons.models import Label, ShadowPair
from registry.models import Rollout

VERDICTS = [v for v, _ in Label.Verdict.choices]
# The rollout page lists the newest critical findings; the pair list filters the rest.
CRITICAL_SHOWN = 50


@dataclass(frozen=True)
class Rate:
    count: int
    total: int
    low: float  # 95% Wilson interval
    high: float

    @property
    def rate(self) -> float:
        return self.count / self.total if self.total else 0.0


def wilson(count: int, total: int) -> Rate:
    if total == 0:
        return Rate(0, 0, 0.0, 1.0)
    interval = binomtest(count, total).proportion_ci(confidence_level=0.95, method="wilson")
    return Rate(count, total, round(interval.low, 4), round(interval.high, 4))


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


@dataclass
class ReviewStats:
    labels: int
    pairs_labelled: int
    verdicts: dict[str, Rate]
    by_dimension: dict[str, dict[str, Rate]]
    critical: list[Label]
    kappa: float | None
    alpha: float | None
    double_labelled: int
    throughput: dict[str, int]  # reviewer -> labels
    per_day: dict[date, Counter] = field(default_factory=dict)

    @property
    def win(self) -> Rate:
        return self.verdicts["better"]

    @property
    def loss(self) -> Rate:
        return self.verdicts["worse"]


def rollout_review_stats(rollout: Rollout) -> ReviewStats:
    # Only the columns the figures need: a label row, not its pair's two full outputs.
    rows = list(
        Label.objects.filter(pair__rollout=rollout)
        .order_by("id")
        .values_list("pair_id", "verdict", "dimensions", "created", "reviewer__username")
    )
    total = len(rows)
    counts = Counter(verdict for _, verdict, _, _, _ in rows)
    verdicts = {v: wilson(counts[v], total) for v in VERDICTS}
    by_dimension = {}
    for dimension in Label.DIMENSIONS:
        sub = Counter(verdict for _, verdict, dims, _, _ in rows if dimension in dims)
        if sub:
            tagged = sum(sub.values())
            by_dimension[dimension] = {v: wilson(sub[v], tagged) for v in VERDICTS}
    per_pair: dict[int, list[str]] = defaultdict(list)
    per_day: dict[date, Counter] = defaultdict(Counter)
    for pair_id, verdict, _, created, _ in rows:
        per_pair[pair_id].append(verdict)
        per_day[created.date()][verdict] += 1
    two = [(r[0], r[1]) for r in per_pair.values() if len(r) == 2]
    critical = (
        Label.objects.filter(pair__rollout=rollout, critical=True)
        .select_related("reviewer", "pair")
        .only("verdict", "dimensions", "comment", "reviewer__username", "pair__code")
        .order_by("-id")[:CRITICAL_SHOWN]
    )
    return ReviewStats(
        labels=total,
        pairs_labelled=len(per_pair),
        verdicts=verdicts,
        by_dimension=by_dimension,
        critical=list(critical),
        kappa=cohen_kappa(two),
        alpha=krippendorff_alpha(list(per_pair.values())),
        double_labelled=sum(len(r) >= 2 for r in per_pair.values()),
        throughput=dict(Counter(row[4] for row in rows).most_common()),
        per_day=dict(sorted(per_day.items())),
    )


def similarity_values(rollout: Rollout) -> dict[str, list[float]]:
    """Similarity of labelled pairs by verdict, for the distribution chart."""
    out: dict[str, list[float]] = defaultdict(list)
    rows = Label.objects.filter(pair__rollout=rollout, pair__similarity__isnull=False)
    for verdict, similarity in rows.values_list("verdict", "pair__similarity"):
        if similarity is not None:
            out[verdict].append(similarity)
    unlabelled = ShadowPair.objects.filter(rollout=rollout, label_count=0, similarity__isnull=False)
    out["unlabelled"] = [
        s for s in unlabelled.values_list("similarity", flat=True)[:5000] if s is not None
    ]
    return dict(out)
