"""Per-minute roll-ups of a rollout's traffic (registry MetricMinute): written as request logs
and feedback are stored, read by the canary charts and the guardrails, so neither ever scans the
request log.

- `record_minutes(rows)`: add freshly stored request-log rows to their minutes, in the caller's
  transaction (the gateway's write-behind batch, an ingest call).
- `record_feedback(request=, kind=, value=)`: add one feedback to its request's minute.
- `rollout_series`, `arm_totals`, `percentile_from_hist`: the reads.
"""

from .reads import (
    ArmTotals,
    MinuteView,
    arm_totals,
    merge_hist,
    percentile_from_hist,
    rollout_series,
)
from .rollup import minute_of, record_feedback, record_minutes

__all__ = [
    "ArmTotals",
    "MinuteView",
    "arm_totals",
    "merge_hist",
    "minute_of",
    "percentile_from_hist",
    "record_feedback",
    "record_minutes",
    "rollout_series",
]
