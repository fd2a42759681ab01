# ruff: noqa: F811 (`world` is the executor tests' fixture, imported; pytest passes it by name)
"""Eval runs while the provider's circuit is open: the cases wait for it rather than become
errors the config did not make, and the run completes once the provider is back."""

import httpx
import pytest

from evaluations.executor import run_execute
from evaluations.models import CaseResult
from tests.evaluations.test_executor import (  # noqa: F401 (world is a fixture)
    Provider_,
    add_case,
    completion,
    start,
    world,
)


@pytest.fixture
def sequential(world, settings):
    settings.BREAKER_CONSECUTIVE = 3
    settings.BREAKER_COOLDOWN_SECONDS = 1
    settings.BREAKER_REFRESH_SECONDS = 0
    settings.EVAL_PROVIDER_CONCURRENCY = 1  # one case at a time: the order is known
    return world


def test_cases_wait_for_an_open_circuit_instead_of_failing(sequential):
    world = sequential
    for n in range(3):
        add_case(world["suite"], f"c{n}", f"question {n}", [{"type": "contains", "value": "a"}])
    answers = iter([503, 503, 503])

    def answer(request: httpx.Request) -> httpx.Response:
        code = next(answers, 200)
        if code != 200:
            return httpx.Response(code, json={"error": {"message": "overloaded"}})
        return httpx.Response(200, json=completion("a fine answer"))

    stub = Provider_(answer)
    run = start(world)
    run_execute(run.pk, transport=stub.transport)
    run.refresh_from_db()
    assert run.status == "completed"
    results = list(CaseResult.objects.filter(run=run).order_by("case__name"))
    # The first case's three attempts opened the circuit: that failure is real and recorded.
    assert [r.error_kind for r in results] == ["server_error", "", ""]
    assert [r.status for r in results][1:] == ["pass", "pass"]
    assert stub.calls == 3 + 2  # the waiting cases reached the provider only after it
