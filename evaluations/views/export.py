"""Exports: a run's every result as CSV or JSON, a suite's cases as JSONL (the format the
JSONL import reads back). Streamed, so a run of thousands of rows never sits in memory."""

import csv
import json
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from django.views.decorators.http import require_GET

from evaluations.models import Case, CaseResult, Run
from evaluations.selectors import failed_outcomes, run_results_ordered
from registry.http import HtmxHttpRequest

from .access import get_run_for_user, get_suite_for_user

COLUMNS = (
    "case",
    "dimension",
    "critical",
    "trial",
    "status",
    "score",
    "output",
    "failed_assertions",
    "latency_ms",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "error_kind",
    "error",
)

# A cell starting with one of these is a formula to a spreadsheet (CSV injection): model
# outputs are untrusted text, so such cells are prefixed with a quote and read as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def result_row(result: CaseResult) -> dict[str, Any]:
    failed = [
        {"type": o.get("type", ""), "reason": o.get("reason", ""), "metric": o.get("metric", "")}
        for o in failed_outcomes(result)
    ]
    return {
        "case": result.case.name,
        "dimension": result.case.dimension,
        "critical": result.case.critical,
        "trial": result.trial + 1,  # 1-based, as on the run page
        "status": result.status,
        "score": result.score,
        "output": result.output,
        "failed_assertions": failed,
        "latency_ms": result.latency_ms,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "cost": result.cost,
        "error_kind": result.error_kind,
        "error": result.error,
    }


def _rows(run: Run) -> Iterator[dict[str, Any]]:
    for result in run_results_ordered(run).iterator(chunk_size=500):
        yield result_row(result)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for row in rows:
        failed = "; ".join(f"{f['type']}: {f['reason']}" for f in row["failed_assertions"])
        cells = {**row, "failed_assertions": failed}
        yield writer.writerow([csv_safe(cells[name]) for name in COLUMNS])


def _filename(run: Run, ext: str) -> str:
    return f"run-{run.suite.feature.key}-{str(run.code)[:8]}.{ext}"


@require_GET
@login_required
def run_export_csv(request: HtmxHttpRequest, code: UUID) -> StreamingHttpResponse:
    run = get_run_for_user(request, code)
    response = StreamingHttpResponse(_csv_lines(_rows(run)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(run, "csv")}"'
    return response


def _json_chunks(run: Run) -> Iterator[str]:
    head = {
        "run": str(run.code),
        "suite": run.suite.name,
        "feature": run.suite.feature.key,
        "config": run.config.name,
        "model_version": run.config.model_version.model_id,
        "trials": run.trials,
        "status": run.status,
        "created": run.created,
        "finished": run.finished,
    }
    opening = json.dumps(head, cls=DjangoJSONEncoder)[:-1]
    yield opening + ', "results": ['
    for index, row in enumerate(_rows(run)):
        if isinstance(row["cost"], Decimal):
            row["cost"] = str(row["cost"])  # exact, as stored
        yield ("," if index else "") + json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False)
    yield "]}"


@require_GET
@login_required
def run_export_json(request: HtmxHttpRequest, code: UUID) -> StreamingHttpResponse:
    run = get_run_for_user(request, code)
    response = StreamingHttpResponse(_json_chunks(run), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{_filename(run, "json")}"'
    return response


def case_line(case: Case) -> dict[str, Any]:
    """One case in the JSONL format (promptfoo's test keys where they exist: vars, assert)."""
    line: dict[str, Any] = {"name": case.name}
    if case.messages:
        line["messages"] = case.messages
    if case.variables or not case.messages:
        # Both when a case has both: the messages' `{{ var }}` placeholders are filled.
        line["vars"] = case.variables
    line.update(
        {
            "prompt": case.prompt,
            "reference": case.reference,
            "assert": case.assertions,
            "dimension": case.dimension,
            "critical": case.critical,
            "weight": case.weight,
            "threshold": case.threshold,
        }
    )
    return line


@require_GET
@login_required
def suite_cases_jsonl(request: HtmxHttpRequest, code: UUID) -> StreamingHttpResponse:
    """Published cases; `?drafts=1` adds the drafts (they come back as ordinary cases)."""
    suite = get_suite_for_user(request, code)
    cases = suite.cases.order_by("position", "id")
    if request.GET.get("drafts") != "1":
        cases = cases.filter(draft=False)
    lines = (json.dumps(case_line(c), ensure_ascii=False) + "\n" for c in cases.iterator())
    response = StreamingHttpResponse(lines, content_type="application/jsonl; charset=utf-8")
    # Only safe characters in a header (a suite name may hold quotes, newlines, any script).
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{suite.feature.key}-{suite.name}").strip("-")
    response["Content-Disposition"] = f'attachment; filename="{name}.jsonl"'
    return response
