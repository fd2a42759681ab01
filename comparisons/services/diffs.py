"""A pair's diff and rendered outputs, computed once and kept on the pair (`ShadowPair.diff`).

Filled when the pair is scored (comparisons/services/scoring.py), so showing it costs a dict
lookup; a pair stored before this existed, or by an older version of the diff or the renderer,
gets it on its first view, written back with a conditional UPDATE (two first views racing write
the same value; the loser's UPDATE matches no row).
"""

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from comparisons.diffing import PairDiff, pair_diff
from comparisons.models import ShadowPair
from comparisons.rendering import render_markdown

# Bump when render_markdown's output changes: stored HTML of another version is re-rendered.
RENDER_VERSION = 1


@dataclass(frozen=True)
class StoredDiff:
    """The diff in baseline/candidate terms, and each output as sanitised HTML."""

    diff: PairDiff
    baseline_html: str
    candidate_html: str


def diff_compute(*, baseline: str, candidate: str) -> dict[str, Any]:
    """The JSON kept in `ShadowPair.diff` for these two outputs."""
    return pair_diff(baseline, candidate).as_json() | {
        "render_v": RENDER_VERSION,
        "html": [render_markdown(baseline), render_markdown(candidate)],
    }


def _load(data: Any, *, baseline: str, candidate: str) -> StoredDiff | None:
    diff = PairDiff.from_json(data, left=baseline, right=candidate)
    if diff is None or data.get("render_v") != RENDER_VERSION:
        return None
    html = data.get("html")
    if not (isinstance(html, list) and len(html) == 2):
        return None
    return StoredDiff(diff=diff, baseline_html=str(html[0]), candidate_html=str(html[1]))


def pair_diff_stored(*, pair: ShadowPair) -> StoredDiff:
    """The pair's stored diff, computed and kept first if it is missing or out of date."""
    baseline, candidate = pair.baseline_output, pair.candidate_output
    stored = _load(pair.diff, baseline=baseline, candidate=candidate)
    if stored is not None:
        return stored
    pair.diff = diff_compute(baseline=baseline, candidate=candidate)
    stale = Q(diff__isnull=True) | ~Q(diff__v=pair.diff["v"]) | ~Q(diff__render_v=RENDER_VERSION)
    ShadowPair.objects.filter(stale, pk=pair.pk).update(diff=pair.diff)
    diff = PairDiff.from_json(pair.diff, left=baseline, right=candidate)
    if diff is None:  # cannot happen: just computed from these very outputs
        raise ValueError("A diff computed for this pair does not match its outputs.")
    html = pair.diff["html"]
    return StoredDiff(diff=diff, baseline_html=html[0], candidate_html=html[1])
