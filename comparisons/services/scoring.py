"""Score a new shadow pair and decide whether (and how often) it enters the review queue."""

from comparisons.metrics import compare, flags
from comparisons.models import ShadowPair
from traffic.assignment import bucket

# Independent hash seeds: which pairs are sampled must not correlate with which get 2 labels.
SAMPLE_SEED = 0x5EED1
DOUBLE_SEED = 0x5EED2


def score_pair(
    pair: ShadowPair, *, similarity_below: float, review_sample_bp: int, double_review_bp: int
) -> ShadowPair:
    """Fill in the pair's metrics, flags and queue fields (the caller saves)."""
    metrics = compare(
        baseline=pair.baseline_output,
        candidate=pair.candidate_output,
        baseline_error=bool(pair.baseline_error),
        candidate_error=bool(pair.candidate_error),
        baseline_latency_ms=pair.baseline_latency_ms,
        candidate_latency_ms=pair.candidate_latency_ms,
    )
    pair.similarity = metrics.similarity
    pair.metrics = metrics.as_json()
    pair.flags = flags(metrics, similarity_below=similarity_below)
    pair.flagged = bool(pair.flags)
    pair.queued = pair.flagged or bucket(SAMPLE_SEED, pair.request_key) < review_sample_bp
    pair.labels_wanted = 2 if bucket(DOUBLE_SEED, pair.request_key) < double_review_bp else 1
    return pair
