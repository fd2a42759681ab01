"""The run page: permissions, live progress that stops polling once the run ends, pass rates
per dimension, failures first with the failed assertion and why, escaping, cancel, and a
query count that does not grow with the number of results."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evaluations.models import Case, CaseResult, Run, Suite
from registry.models import AuditEvent

S = CaseResult.Status


@pytest.fixture
def suite(feature) -> Suite:
    return Suite.objects.create(feature=feature, name="smoke")


def make_case(suite, name, *, dimension="accuracy", critical=False, weight=1.0) -> Case:
    return Case.objects.create(
        suite=suite,
        name=name,
        messages=[{"role": "user", "content": f"question for {name}"}],
        dimension=dimension,
        critical=critical,
        weight=weight,
    )


@pytest.fixture
def run(suite, make_config, release) -> Run:
    return Run.objects.create(
        suite=suite, config=make_config("candidate"), status=Run.Status.RUNNING, created_by=release
    )


def result(run, case, status, trial=0, **fields) -> CaseResult:
    return CaseResult.objects.create(run=run, case=case, trial=trial, status=status, **fields)


def url(run) -> str:
    return f"/evaluations/runs/{run.code}/"


def test_anonymous_visitors_are_sent_to_sign_in(client_for, run):
    for path in (url(run), url(run) + "cancel/"):
        response = (
            client_for(None).get(path) if "cancel" not in path else client_for(None).post(path)
        )
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_viewer_reads_the_run_but_cannot_cancel_it(client_for, run, suite):
    result(run, make_case(suite, "a"), S.PENDING)
    client = client_for("viewer")
    page = client.get(url(run)).content.decode()
    assert "candidate" in page and "gpt-4o-2024-08-06" in page
    assert "Cancel run" not in page
    assert client.post(url(run) + "cancel/").status_code == 403
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING


def test_a_release_manager_cancels_a_running_run(client_for, run, suite):
    done = result(run, make_case(suite, "a"), S.PASS)
    waiting = result(run, make_case(suite, "b"), S.PENDING)
    client = client_for("release")
    assert "Cancel run" in client.get(url(run)).content.decode()
    response = client.post(url(run) + "cancel/", follow=True)
    run.refresh_from_db()
    waiting.refresh_from_db()
    done.refresh_from_db()
    assert run.status == Run.Status.CANCELLED and run.cancelled_by.username == "release"
    assert (waiting.status, done.status) == (S.CANCELLED, S.PASS)
    assert AuditEvent.objects.filter(action="eval_run.cancel").exists()
    page = response.content.decode()
    assert "Cancel run" not in page and "1 cancelled" in page
    again = client.post(url(run) + "cancel/", follow=True)
    assert "cancelled already" in again.content.decode()


def test_the_progress_fragment_polls_while_running_and_stops_once_ended(client_for, run, suite):
    a, b = make_case(suite, "a"), make_case(suite, "b")
    result(run, a, S.PASS)
    result(run, b, S.RUNNING)
    client = client_for("viewer")
    page = client.get(url(run)).content.decode()
    assert 'hx-trigger="every 2s"' in page and f'hx-get="{url(run)}"' in page
    fragment = client.get(url(run), headers={"HX-Request": "true", "HX-Target": "run-live"})
    body = fragment.content.decode()
    assert "<html" not in body and 'id="run-live"' in body
    assert 'hx-trigger="every 2s"' in body
    assert "<strong>1</strong> of 2 results (50%)" in body
    assert 'max="2" value="1"' in body
    assert "HX-Refresh" not in fragment
    assert "HX-Request" in fragment["Vary"]

    CaseResult.objects.filter(run=run, case=b).update(status=S.FAIL)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.COMPLETED)
    ended = client.get(url(run), headers={"HX-Request": "true", "HX-Target": "run-live"})
    body = ended.content.decode()
    assert "hx-trigger" not in body and "hx-get" not in body
    assert "<strong>2</strong> of 2 results (100%)" in body
    assert ended["HX-Refresh"] == "true"  # the page reloads once to show the results
    assert "hx-trigger" not in client.get(url(run)).content.decode()


def test_pass_rates_per_dimension_are_weighted_and_leave_errors_out(client_for, run, suite):
    heavy = make_case(suite, "heavy", weight=3)
    light = make_case(suite, "light", weight=1)
    broken = make_case(suite, "broken")
    rude = make_case(suite, "rude", dimension="tone", critical=True)
    result(run, heavy, S.PASS)
    result(run, light, S.FAIL)
    result(run, broken, S.ERROR, error="provider down")
    result(run, rude, S.FAIL)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.COMPLETED)
    response = client_for("viewer").get(url(run))
    rates = {r.dimension: r for r in response.context["rates"]}
    assert rates["accuracy"].percent == 75.0 and rates["accuracy"].n == 2
    assert rates["accuracy"].errors == 1
    assert rates["tone"].percent == 0.0 and rates["tone"].critical_failed == 1
    page = response.content.decode()
    assert "75.0%" in page


def test_failures_come_first_then_errors_then_passes(client_for, run, suite):
    result(run, make_case(suite, "passing one"), S.PASS, output="fine")
    result(
        run,
        make_case(suite, "erroring one"),
        S.ERROR,
        error_kind="timeout",
        error="no answer in 30 s",
    )
    result(
        run,
        make_case(suite, "failing one"),
        S.FAIL,
        output="wrong answer",
        score=0.0,
        latency_ms=812.4,
        prompt_tokens=31,
        completion_tokens=7,
        cost=Decimal("0.00012300"),
        outcomes=[
            {"type": "icontains", "passed": True, "score": 1, "reason": "found", "weight": 1},
            {
                "type": "regex",
                "passed": False,
                "score": 0,
                "reason": "Output does not match /^Dear/",
                "weight": 1,
            },
        ],
    )
    Run.objects.filter(pk=run.pk).update(status=Run.Status.COMPLETED)
    response = client_for("viewer").get(url(run))
    page = response.content.decode()
    assert [r.case.name for r in response.context["failures"]] == ["failing one", "erroring one"]
    assert page.index("failing one") < page.index("erroring one") < page.index("passing one")
    failures = page[page.index('id="failures"') : page.index('id="passes"')]
    assert "Output does not match /^Dear/" in failures
    assert "found" not in failures  # passed assertions are not listed as failures
    assert "812 ms" in failures and "31 + 7 tokens" in failures and "$0.000123" in failures
    assert "timeout" in failures and "no answer in 30 s" in failures
    assert "<details>" in page[page.index('id="passes"') :]


def test_outputs_and_reasons_are_escaped(client_for, run, suite):
    result(
        run,
        make_case(suite, "x"),
        S.FAIL,
        output="<script>alert(1)</script>",
        outcomes=[{"type": "equals", "passed": False, "score": 0, "reason": "<img src=x>"}],
    )
    page = client_for("viewer").get(url(run)).content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)" in page
    assert "<img src=x>" not in page


def test_the_page_shows_at_most_200_failures_and_says_how_many_more(client_for, run, suite):
    case = make_case(suite, "flaky")
    Run.objects.filter(pk=run.pk).update(trials=20)
    cases = [case] + [make_case(suite, f"c{i}") for i in range(10)]
    CaseResult.objects.bulk_create(
        CaseResult(run=run, case=c, trial=t, status=S.FAIL) for c in cases for t in range(20)
    )
    response = client_for("viewer").get(url(run))
    assert len(response.context["failures"]) == 200
    assert "20 more not shown" in response.content.decode()


def test_the_run_page_does_not_query_per_result(client_for, run, suite):
    client = client_for("viewer")

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url(run)).status_code == 200
        return len(ctx)

    result(run, make_case(suite, "first"), S.FAIL, outcomes=[{"type": "equals", "passed": False}])
    result(run, make_case(suite, "second"), S.PASS)
    few = queries()
    for i in range(40):
        status = (S.FAIL, S.ERROR, S.PASS)[i % 3]
        result(run, make_case(suite, f"more {i}", dimension=("tone", "safety")[i % 2]), status)
    assert queries() == few
    assert few <= 14


def test_an_unknown_run_is_a_404(client_for, db):
    response = client_for("viewer").get("/evaluations/runs/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
