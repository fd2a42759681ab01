"""Identical pairs: the same input and the same two outputs (and errors) hash to one key, so a
reviewer labels such a pair once and the label covers the others of the rollout."""

import hashlib
import json
from typing import Any


def group_key(
    *,
    messages: Any,
    baseline_output: str,
    candidate_output: str,
    baseline_error: str = "",
    candidate_error: str = "",
    candidate_tool_calls: Any = None,
) -> str:
    """A SHA-256 over a canonical JSON of what a reviewer judges. Latencies, tokens and the
    request id are left out: two pairs differing only there read the same to a human."""
    canonical = json.dumps(
        [
            messages,
            baseline_output,
            candidate_output,
            baseline_error,
            candidate_error,
            candidate_tool_calls or [],
        ],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def pair_group_key(pair: Any) -> str:
    """The key of a ShadowPair (or anything with its fields)."""
    return group_key(
        messages=pair.messages,
        baseline_output=pair.baseline_output,
        candidate_output=pair.candidate_output,
        baseline_error=pair.baseline_error,
        candidate_error=pair.candidate_error,
        candidate_tool_calls=pair.candidate_tool_calls,
    )
