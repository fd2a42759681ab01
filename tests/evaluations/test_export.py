"""Exports: a run's results as CSV (guarded against CSV injection) and JSON, a suite's cases
as JSONL in the format the JSONL import reads."""

import csv
import io
import json
from decimal import Decimal

import pytest

from evaluations.models import Case, CaseResult, Run, Suite

S = CaseResult.Status


@pytest.fixture
def suite(feature) -> Suite:
    return Suite.objects.create(feature=feature, name="smoke")


@pytest.fixture
def run(suite, make_config) -> Run:
    run = Run.objects.create(
        suite=suite, config=make_config("candidate"), status=Run.Status.COMPLETED, trials=2
    )
    good = Case.objects.create(
        suite=suite, name="greets", messages=[{"role": "user", "content": "hi"}], dimension="tone"
    )
    bad = Case.objects.create(
        suite=suite,
        name="=cmd|' /C calc'!A0",
        messages=[{"role": "user", "content": "x"}],
        critical=True,
    )
    CaseResult.objects.create(
        run=run,
        case=good,
        trial=0,
        status=S.PASS,
        output="Hello there",
        score=1.0,
        latency_ms=120.5,
        prompt_tokens=12,
        completion_tokens=3,
        cost=Decimal("0.00001250"),
    )
    CaseResult.objects.create(
        run=run,
        case=bad,
        trial=1,
        status=S.FAIL,
        output='=HYPERLINK("http://evil.example","click")',
        score=0.0,
        outcomes=[
            {"type": "icontains", "passed": True, "score": 1, "reason": "found 'x'"},
            {"type": "max-length", "passed": False, "score": 0, "reason": "42 > 10 characters"},
        ],
    )
    CaseResult.objects.create(
        run=run, case=good, trial=1, status=S.ERROR, error_kind="http_5xx", error="+provider 503"
    )
    return run


def read_csv(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_exports_need_sign_in_and_are_open_to_viewers(client_for, run, suite):
    urls = [
        f"/evaluations/runs/{run.code}/export.csv",
        f"/evaluations/runs/{run.code}/export.json",
        f"/evaluations/suites/{suite.code}/cases.jsonl",
    ]
    for url in urls:
        response = client_for(None).get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
        assert client_for("viewer").get(url).status_code == 200, url


def test_the_csv_has_every_result_failures_first(client_for, run):
    response = client_for("viewer").get(f"/evaluations/runs/{run.code}/export.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = read_csv(response)
    assert [r["status"] for r in rows] == ["fail", "error", "pass"]
    failed, error, passed = rows
    assert failed["failed_assertions"] == "max-length: 42 > 10 characters"
    assert failed["critical"] == "True" and failed["trial"] == "2"
    assert passed["case"] == "greets" and passed["dimension"] == "tone"
    assert passed["latency_ms"] == "120.5" and passed["cost"] == "0.00001250"
    assert (passed["prompt_tokens"], passed["completion_tokens"]) == ("12", "3")
    assert error["error_kind"] == "http_5xx"


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(client_for, run):
    rows = read_csv(client_for("viewer").get(f"/evaluations/runs/{run.code}/export.csv"))
    failed, error, _ = rows
    assert failed["output"] == '\'=HYPERLINK("http://evil.example","click")'
    assert failed["case"] == "'=cmd|' /C calc'!A0"
    assert error["error"] == "'+provider 503"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value


def test_the_json_export_keeps_values_exact(client_for, run):
    response = client_for("viewer").get(f"/evaluations/runs/{run.code}/export.json")
    data = json.loads(b"".join(response.streaming_content))
    assert data["run"] == str(run.code) and data["model_version"] == "gpt-4o-2024-08-06"
    results = data["results"]
    assert [r["status"] for r in results] == ["fail", "error", "pass"]
    assert results[0]["output"].startswith("=HYPERLINK")  # JSON is data, never a formula
    assert results[0]["failed_assertions"] == [
        {"type": "max-length", "reason": "42 > 10 characters", "metric": ""}
    ]
    assert results[2]["cost"] == "0.00001250" and results[2]["score"] == 1.0


def test_an_empty_run_exports_a_header_and_an_empty_list(client_for, suite, make_config):
    run = Run.objects.create(suite=suite, config=make_config("other"))
    client = client_for("viewer")
    assert read_csv(client.get(f"/evaluations/runs/{run.code}/export.csv")) == []
    data = json.loads(
        b"".join(client.get(f"/evaluations/runs/{run.code}/export.json").streaming_content)
    )
    assert data["results"] == []


def test_cases_export_as_jsonl_in_the_import_format(client_for, suite):
    Case.objects.create(
        suite=suite,
        name="with messages",
        messages=[{"role": "user", "content": "Où est mon colis ?"}],
        assertions=[{"type": "icontains", "value": "colis"}],
        dimension="accuracy",
        critical=True,
        weight=2,
        threshold=0.5,
        position=1,
    )
    Case.objects.create(
        suite=suite,
        name="with vars",
        variables={"ticket": "late parcel"},
        prompt="Summarise: {{ticket}}",
        reference="A parcel is late.",
        position=2,
    )
    Case.objects.create(suite=suite, name="a draft", variables={"t": "x"}, draft=True, position=3)
    response = client_for("viewer").get(f"/evaluations/suites/{suite.code}/cases.jsonl")
    assert response["Content-Disposition"] == 'attachment; filename="support-reply-smoke.jsonl"'
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert lines == [
        {
            "name": "with messages",
            "messages": [{"role": "user", "content": "Où est mon colis ?"}],
            "prompt": "",
            "reference": "",
            "assert": [{"type": "icontains", "value": "colis"}],
            "dimension": "accuracy",
            "critical": True,
            "weight": 2.0,
            "threshold": 0.5,
        },
        {
            "name": "with vars",
            "vars": {"ticket": "late parcel"},
            "prompt": "Summarise: {{ticket}}",
            "reference": "A parcel is late.",
            "assert": [],
            "dimension": "other",
            "critical": False,
            "weight": 1.0,
            "threshold": None,
        },
    ]
    with_drafts = client_for("viewer").get(f"/evaluations/suites/{suite.code}/cases.jsonl?drafts=1")
    assert len(b"".join(with_drafts.streaming_content).splitlines()) == 3
