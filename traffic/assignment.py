"""Sticky assignment of units (users, sessions) to the baseline or the candidate.

A unit's bucket is a stable hash of (feature salt, unit key) into 10,000 buckets; the candidate
serves buckets [0, candidate_bp). So a unit in the candidate at 5% stays in it at 10%, and only
the percentage decides how many units see the candidate. The decision is a pure function over a
Route snapshot: no I/O, well under a microsecond.
"""

import hashlib
from dataclasses import dataclass, field

import mmh3

from traffic.redaction import Redactor

BUCKETS = 10_000
BASELINE = "baseline"
CANDIDATE = "candidate"


def seed_for(salt: str) -> int:
    """The 32-bit hash seed of a feature, from its salt."""
    return int(hashlib.sha256(salt.encode()).hexdigest()[:8], 16)


def bucket(seed: int, unit_key: str) -> int:
    return mmh3.hash(unit_key, seed, signed=False) % BUCKETS


@dataclass(frozen=True, slots=True)
class ProviderView:
    name: str
    api_style: str
    base_url: str
    api_key_env: str
    timeout: float
    is_simulator: bool


@dataclass(frozen=True, slots=True)
class ConfigView:
    """What a process needs to run a config, without touching the database."""

    id: int
    code: str
    name: str
    model_id: str
    model_version_code: str
    provider: ProviderView
    system_prompt: str
    params: dict = field(hash=False)


@dataclass(frozen=True, slots=True)
class Route:
    feature_id: int
    feature_key: str
    seed: int
    baseline: ConfigView
    candidate: ConfigView | None
    candidate_bp: int
    rollout_id: int | None
    rollout_status: str | None
    shadowing: bool
    etag: str
    redactor: Redactor = field(hash=False, compare=False)
    no_shadow_tool_calls: bool = False

    def choose(self, unit_key: str) -> tuple[str, ConfigView]:
        if self.candidate_bp and bucket(self.seed, unit_key) < self.candidate_bp:
            return CANDIDATE, self.candidate  # type: ignore[return-value]
        return BASELINE, self.baseline

    def other(self, variant: str) -> ConfigView | None:
        """The config a shadow run uses for a request served by `variant`."""
        if not self.shadowing or self.candidate is None:
            return None
        return self.baseline if variant == CANDIDATE else self.candidate
