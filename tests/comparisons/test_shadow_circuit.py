# ruff: noqa: F811 (`shadowing` is the shadow tests' fixture, imported; pytest passes it by name)
"""Shadow jobs while the candidate's provider circuit is open: deferred, never a pair with a
candidate error (which reviewers would read as a loss); run once the circuit closes."""

from datetime import timedelta

import httpx
import pytest
import time_machine

from comparisons.models import ShadowPair
from comparisons.services.shadow import shadow_job_run
from registry.models import ShadowJob
from tests.comparisons.test_shadow import _ingest, _openai_answer, shadowing  # noqa: F401
from traffic import providers


@pytest.fixture(autouse=True)
def _fast(settings, monkeypatch):
    settings.BREAKER_CONSECUTIVE = 3
    settings.BREAKER_REFRESH_SECONDS = 0
    monkeypatch.setattr(providers, "_sleep", lambda seconds: None)


def test_a_job_waits_for_an_open_circuit_then_runs(shadowing):
    calls = []
    answer = {"status": 503}

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if answer["status"] != 200:
            return httpx.Response(503, json={"error": {"message": "overloaded"}})
        return _openai_answer("Candidate answer")

    transport = httpx.MockTransport(handler)
    with time_machine.travel(0, tick=True) as clock:
        first = _ingest("r1")
        shadow_job_run(job_id=first.pk, transport=transport)  # three 503s open the circuit
        assert ShadowPair.objects.get(request__request_id="r1").candidate_error.startswith(
            "server_error"
        )
        job = _ingest("r2")
        assert shadow_job_run(job_id=job.pk, transport=transport) is None
        job.refresh_from_db()
        assert job.status == ShadowJob.Status.QUEUED and job.attempts == 0
        assert job.error.startswith("deferred: ") and "circuit" in job.error
        assert len(calls) == 3  # the deferred job never reached the provider
        assert not ShadowPair.objects.filter(request__request_id="r2").exists()

        clock.shift(timedelta(seconds=31))
        answer["status"] = 200
        pair = shadow_job_run(job_id=job.pk, transport=transport)
    assert pair is not None and pair.candidate_output == "Candidate answer"
    assert pair.candidate_error == ""
    job.refresh_from_db()
    assert job.status == ShadowJob.Status.DONE and job.error == ""
