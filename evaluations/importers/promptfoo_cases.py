"""The case fields a promptfoo test's metadata and threshold give: dimension, critical, weight,
reference, threshold.

Severity: promptfoo has no "critical" flag, and real suites mark their must-not-fail rows
with `metadata.severity` (`__metadata:severity` in a CSV), failing a high-severity row on a
single missed assertion. So `severity: high` or `critical` (any case) marks the case critical,
whose regression blocks a gate; `medium`, `low` and anything else do not. An explicit
`metadata.critical` wins either way (`critical: false` opts a high-severity row out).
"""

from typing import Any

from evaluations.importers import asserts
from evaluations.importers.plan import ImportPlan

CRITICAL_SEVERITIES = frozenset({"high", "critical"})
# Metadata keys that become case fields; any other key has nowhere to go on a case.
USED_METADATA = frozenset({"dimension", "critical", "weight", "reference", "severity"})


def truthy(value: object) -> bool:
    return value is True or (
        isinstance(value, str) and value.strip().lower() in {"true", "yes", "1"}
    )


def is_critical(metadata: dict[str, Any]) -> bool:
    if metadata.get("critical") is not None and metadata.get("critical") != "":
        return truthy(metadata["critical"])
    severity = metadata.get("severity")
    return isinstance(severity, str) and severity.strip().lower() in CRITICAL_SEVERITIES


def case_fields(
    plan: ImportPlan,
    where: str,
    metadata: dict[str, Any],
    assertions: list[dict[str, Any]],
    defaults: list[dict[str, Any]],
) -> dict[str, Any]:
    """Dimension from metadata.dimension, else the first metric naming one (the test's own
    assertions before defaultTest's); critical, weight and reference from metadata."""
    dimension = asserts.dimension_of(metadata.get("dimension"))
    if metadata.get("dimension") is not None and dimension is None:
        plan.warn(where, f"metadata.dimension {metadata['dimension']!r} is not one of format, "
                  "tone, accuracy, safety; the case is 'other'")  # fmt: skip
    if dimension is None:
        dimension = next(
            (d for a in assertions + defaults if (d := asserts.dimension_of(a.get("metric")))),
            "other",
        )
    weight = metadata.get("weight", 1.0)
    try:
        weight = float(weight)
        if weight < 0:
            raise ValueError
    except (TypeError, ValueError):
        plan.problem(where, f"metadata.weight {weight!r} must be a number of 0 or more")
        weight = 1.0
    reference = metadata.get("reference")
    if not isinstance(reference, str):
        reference = next(
            (
                a["value"]
                for a in defaults + assertions
                if a.get("type") in ("equals", "similar") and isinstance(a.get("value"), str)
            ),
            "",
        )
    return {
        "dimension": str(dimension),
        "critical": is_critical(metadata),
        "weight": weight,
        "reference": reference,
    }


def threshold_of(plan: ImportPlan, where: str, value: object) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        plan.problem(where, f"threshold {value!r} must be a number from 0 to 1")
        return None
    return float(value)


def report_metadata(plan: ImportPlan, metadata_keys: set[str], severity_critical: int) -> None:
    """Once per import: what metadata was not kept, and how many cases severity made critical
    (a release manager must see that a CSV column now blocks gates)."""
    unused = sorted(metadata_keys - USED_METADATA)
    if unused:
        plan.warn(
            "metadata",
            f"metadata keys {', '.join(unused)} are not kept: a case keeps only dimension, "
            "critical, weight, reference and severity (high or critical marks it critical)",
        )
    if severity_critical:
        plan.warn(
            "metadata.severity",
            f"{severity_critical} case(s) with severity high or critical are marked critical: a "
            "regression on any of them blocks the gate (set metadata.critical: false to opt out)",
        )
