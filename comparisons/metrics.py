"""Automatic comparison of a shadow pair: pure functions over the two outputs.

The rules that flag a pair for review (documented in the README, "Review"):
- the candidate failed (an error) or refused while the baseline did not;
- JSON structure changed: the baseline is JSON and the candidate is not, or keys were added,
  removed or changed type;
- the word-level similarity fell below the feature's threshold.
"""

import json
import re
from dataclasses import asdict, dataclass, field

from rapidfuzz.distance import Indel

# Refusals, as plainly worded by current models. Deliberately simple: a flag asks a human to
# look, it does not decide anything.
REFUSAL = re.compile(
    r"\b(?:I(?:'m| am) (?:sorry|afraid)[^.]{0,60}\b(?:can(?:no|')t|unable|not able)"
    r"|I can(?:no|')t (?:help|assist|comply|provide|do that)"
    r"|I(?:'m| am) (?:not able|unable) to (?:help|assist|comply|provide)"
    r"|as an AI(?: language model)?\b)",
    re.IGNORECASE,
)


# Every refusal above contains one of these: a substring test on the lowered text is ~20x
# cheaper than the regex, and most answers contain none of them.
_REFUSAL_HINTS = ("sorry", "afraid", "can't", "cannot", "unable", "not able", "as an ai")


def is_refusal(text: str) -> bool:
    lowered = text.lower()
    if not any(hint in lowered for hint in _REFUSAL_HINTS):
        return False
    return bool(REFUSAL.search(text))


@dataclass(frozen=True)
class Structure:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    type_changed: list[str] = field(default_factory=list)
    value_changed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.type_changed)


@dataclass(frozen=True)
class Metrics:
    similarity: float
    length_ratio: float | None
    exact: bool
    baseline_json: bool
    candidate_json: bool
    structure: Structure | None
    baseline_refusal: bool
    candidate_refusal: bool
    latency_delta_ms: float | None
    baseline_error: bool
    candidate_error: bool

    def as_json(self) -> dict:
        return asdict(self)


def parse_json(text: str):
    """The JSON value in `text`, or None. Only whole-text JSON counts: fenced JSON is a format
    change an application's parser would trip on, which is exactly what should be flagged."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        return None


def _walk(value, prefix: str, out: dict) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out[path] = item
            _walk(item, path, out)


def structure_diff(baseline, candidate) -> Structure:
    """Key-level differences between two parsed JSON values (nested keys as dotted paths)."""
    a: dict[str, str] = {}
    b: dict[str, str] = {}
    _walk(baseline, "", a)
    _walk(candidate, "", b)
    common = a.keys() & b.keys()
    return Structure(
        added=sorted(b.keys() - a.keys()),
        removed=sorted(a.keys() - b.keys()),
        type_changed=sorted(k for k in common if type(a[k]) is not type(b[k])),
        value_changed=sorted(
            k
            for k in common
            if type(a[k]) is type(b[k]) and not isinstance(a[k], dict) and a[k] != b[k]
        ),
    )


def compare(
    *,
    baseline: str,
    candidate: str,
    baseline_error: bool = False,
    candidate_error: bool = False,
    baseline_latency_ms: float | None = None,
    candidate_latency_ms: float | None = None,
) -> Metrics:
    a_json, b_json = parse_json(baseline), parse_json(candidate)
    return Metrics(
        similarity=round(Indel.normalized_similarity(baseline.split(), candidate.split()), 4),
        length_ratio=round(len(candidate) / len(baseline), 4) if baseline else None,
        exact=baseline == candidate,
        baseline_json=a_json is not None,
        candidate_json=b_json is not None,
        structure=structure_diff(a_json, b_json)
        if a_json is not None and b_json is not None
        else None,
        baseline_refusal=is_refusal(baseline),
        candidate_refusal=is_refusal(candidate),
        latency_delta_ms=(
            round(candidate_latency_ms - baseline_latency_ms, 1)
            if candidate_latency_ms is not None and baseline_latency_ms is not None
            else None
        ),
        baseline_error=baseline_error,
        candidate_error=candidate_error,
    )


def flags(metrics: Metrics, *, similarity_below: float) -> list[str]:
    """Why this pair deserves a reviewer's eyes first (empty: it looks like the normal case)."""
    reasons = []
    if metrics.candidate_error and not metrics.baseline_error:
        reasons.append("candidate_error")
    if metrics.candidate_refusal and not metrics.baseline_refusal:
        reasons.append("candidate_refusal")
    if metrics.baseline_json and not metrics.candidate_json and not metrics.candidate_error:
        reasons.append("json_broken")
    if metrics.structure is not None and metrics.structure.changed:
        reasons.append("structure_changed")
    both_answered = not (metrics.baseline_error or metrics.candidate_error)
    if both_answered and metrics.similarity < similarity_below:
        reasons.append("low_similarity")
    return reasons
