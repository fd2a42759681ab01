"""Reads that join for the Evaluations pages: a fixed number of queries per page, never one
per result (a run may hold thousands of rows)."""

from dataclasses import dataclass
from typing import Any

from django.db.models import Case as Switch
from django.db.models import (
    Count,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from evaluations.models import CaseResult, Dimension, Run, Suite
from registry.models import Feature

_S = CaseResult.Status

# Failures first, then errors, then passes; what is still open or cancelled last.
RESULT_ORDER = Switch(
    When(status=_S.FAIL, then=Value(0)),
    When(status=_S.ERROR, then=Value(1)),
    When(status=_S.PASS, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)

# Failures (and errors) shown in full on the run page; the export has every row.
MAX_FAILURES_SHOWN = 200
# Passes listed collapsed, up to this many.
MAX_PASSES_SHOWN = 200


def run_counts() -> dict[str, Any]:
    """Annotations of a run's result counts by status."""
    return {
        "n_results": Count("results"),
        "n_pass": Count("results", filter=Q(results__status=_S.PASS)),
        "n_fail": Count("results", filter=Q(results__status=_S.FAIL)),
        "n_error": Count("results", filter=Q(results__status=_S.ERROR)),
    }


def features_with_suites() -> QuerySet[Feature]:
    """Every feature with its suites: case counts, the latest run and the latest gate verdict."""
    latest = Run.objects.filter(suite=OuterRef("pk")).order_by("-created", "-id")
    gated = latest.filter(gate__isnull=False)
    suites = Suite.objects.annotate(
        n_cases=Count("cases", filter=Q(cases__draft=False), distinct=True),
        n_drafts=Count("cases", filter=Q(cases__draft=True), distinct=True),
        last_run_code=Subquery(latest.values("code")[:1]),
        last_run_status=Subquery(latest.values("status")[:1]),
        last_run_created=Subquery(latest.values("created")[:1]),
        last_gate_verdict=Subquery(gated.values("gate__verdict")[:1]),
        last_gate_code=Subquery(gated.values("gate__code")[:1]),
    ).order_by("name")
    return Feature.objects.order_by("key").prefetch_related(Prefetch("suites", queryset=suites))


def suite_runs(suite: Suite, *, limit: int = 50) -> QuerySet[Run]:
    return (
        Run.objects.filter(suite=suite)
        .select_related("config__model_version", "created_by", "gate__rollout")
        .annotate(**run_counts())
        .order_by("-created", "-id")[:limit]
    )


@dataclass(frozen=True)
class DimensionRate:
    dimension: str
    label: str
    n: int  # scored results (pass + fail); errors never count either way
    passed: int
    errors: int
    weighted: float | None  # passed weight / scored weight, or None when nothing was scored
    critical_failed: int

    @property
    def percent(self) -> float | None:
        return None if self.weighted is None else round(100 * self.weighted, 1)


def dimension_rates(run: Run) -> list[DimensionRate]:
    """Pass rate per dimension, weighted by case weight, with n; in Dimension's order."""
    rows = (
        CaseResult.objects.filter(run=run)
        .values(dimension=F("case__dimension"))
        .annotate(
            n=Count("id", filter=Q(status__in=CaseResult.SCORED)),
            passed=Count("id", filter=Q(status=_S.PASS)),
            errors=Count("id", filter=Q(status=_S.ERROR)),
            critical_failed=Count("id", filter=Q(status=_S.FAIL, case__critical=True)),
            weight_scored=Coalesce(
                Sum("case__weight", filter=Q(status__in=CaseResult.SCORED)),
                Value(0.0),
                output_field=FloatField(),
            ),
            weight_passed=Coalesce(
                Sum("case__weight", filter=Q(status=_S.PASS)), Value(0.0), output_field=FloatField()
            ),
        )
    )
    by_dimension = {row["dimension"]: row for row in rows}
    rates = []
    for dimension in Dimension:
        row = by_dimension.get(dimension.value)
        if row is None:
            continue
        scored = row["weight_scored"]
        if row["n"] and scored:
            weighted: float | None = row["weight_passed"] / scored
        elif row["n"]:
            # Every scored case has weight 0: fall back to the plain share.
            weighted = row["passed"] / row["n"]
        else:
            weighted = None
        rates.append(
            DimensionRate(
                dimension=dimension.value,
                label=str(dimension.label),
                n=row["n"],
                passed=row["passed"],
                errors=row["errors"],
                weighted=weighted,
                critical_failed=row["critical_failed"],
            )
        )
    return rates


def _results(run: Run) -> QuerySet[CaseResult]:
    return (
        CaseResult.objects.filter(run=run)
        .select_related("case")
        .annotate(rank=RESULT_ORDER)
        .order_by("rank", "-case__critical", "case__position", "case_id", "trial")
    )


def run_failures(run: Run, *, limit: int = MAX_FAILURES_SHOWN) -> list[CaseResult]:
    """Failed then errored results, critical cases first within each."""
    return list(_results(run).filter(status__in=(_S.FAIL, _S.ERROR))[:limit])


def run_passes(run: Run, *, limit: int = MAX_PASSES_SHOWN) -> list[CaseResult]:
    return list(_results(run).filter(status=_S.PASS).defer("tool_calls")[:limit])


def run_results_ordered(run: Run) -> QuerySet[CaseResult]:
    """Every result, failures first: for the export (iterated, never held whole)."""
    return _results(run)


def failed_outcomes(result: CaseResult) -> list[dict[str, Any]]:
    """The assertions that failed and why, from the stored outcomes."""
    return [o for o in (result.outcomes or []) if isinstance(o, dict) and not o.get("passed")]
