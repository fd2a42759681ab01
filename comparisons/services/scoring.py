"""Score a new shadow pair and decide whether (and how often) it enters the review queue."""

from comparisons.flags import priority_score
from comparisons.grouping import pair_group_key
from comparisons.metrics import DEFAULT_LENGTH_BOUNDS, compare, flags
from comparisons.models import ShadowPair
from comparisons.services.diffs import diff_compute
from registry.models import ModelConfig
from traffic.assignment import bucket

# Independent hash seeds: which pairs are sampled must not correlate with which get 2 labels.
SAMPLE_SEED = 0x5EED1
DOUBLE_SEED = 0x5EED2


def _expects_json(config: ModelConfig | None) -> tuple[dict | None, bool]:
    """(the config's JSON Schema or None, whether it asks for JSON at all)."""
    if config is None:
        return None, False
    schema = config.json_schema if isinstance(config.json_schema, dict) else None
    asks = config.response_format != ModelConfig.ResponseFormat.TEXT or schema is not None
    return schema, asks


def score_pair(
    pair: ShadowPair,
    *,
    similarity_below: float,
    review_sample_bp: int,
    double_review_bp: int,
    length_ratio_bounds: tuple[float, float] | None = None,
) -> ShadowPair:
    """Fill in the pair's metrics, flags, priority and queue fields (the caller saves).

    The length-ratio bounds default to the rollout's feature settings; the JSON expectations
    and schemas come from the pair's two configs."""
    if length_ratio_bounds is None:
        feature = pair.rollout.feature if pair.rollout_id else None
        length_ratio_bounds = (
            (feature.flag_length_ratio_min, feature.flag_length_ratio_max)
            if feature is not None
            else DEFAULT_LENGTH_BOUNDS
        )
    a_schema, a_json = _expects_json(pair.baseline_config if pair.baseline_config_id else None)
    b_schema, b_json = _expects_json(pair.candidate_config if pair.candidate_config_id else None)
    metrics = compare(
        baseline=pair.baseline_output,
        candidate=pair.candidate_output,
        baseline_error=bool(pair.baseline_error),
        candidate_error=bool(pair.candidate_error),
        baseline_latency_ms=pair.baseline_latency_ms,
        candidate_latency_ms=pair.candidate_latency_ms,
        baseline_finish_reason=pair.baseline_finish_reason,
        candidate_finish_reason=pair.candidate_finish_reason,
        baseline_tool_calls=pair.baseline_tool_calls,
        candidate_tool_calls=pair.candidate_tool_calls,
        baseline_schema=a_schema,
        candidate_schema=b_schema,
        baseline_json_expected=a_json,
        candidate_json_expected=b_json,
    )
    pair.similarity = metrics.similarity
    pair.metrics = metrics.as_json()
    pair.flags = flags(
        metrics,
        similarity_below=similarity_below,
        length_ratio_min=length_ratio_bounds[0],
        length_ratio_max=length_ratio_bounds[1],
    )
    pair.flagged = bool(pair.flags)
    pair.priority = priority_score(flags=pair.flags, similarity=metrics.similarity)
    pair.queued = pair.flagged or bucket(SAMPLE_SEED, pair.request_key) < review_sample_bp
    pair.labels_wanted = 2 if bucket(DOUBLE_SEED, pair.request_key) < double_review_bp else 1
    pair.diff = diff_compute(baseline=pair.baseline_output, candidate=pair.candidate_output)  # R2
    pair.group_key = pair_group_key(pair)  # identical pairs are labelled once (R3)
    return pair


def score_rollout_pair(pair: ShadowPair) -> ShadowPair:
    """`score_pair` with the settings of the pair's rollout and feature: how shadow, replayed
    and imported pairs are all scored (the caller saves)."""
    rollout = pair.rollout
    return score_pair(
        pair,
        similarity_below=rollout.feature.flag_similarity_below,
        review_sample_bp=rollout.review_sample_bp,
        double_review_bp=rollout.double_review_bp,
    )
