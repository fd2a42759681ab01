"""The simulator's staged regression (traffic/simulator/regressions.py) and its switch,
`manage.py simulator_regression on|off|status`."""

import json
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from registry.models import SimulatorRegression
from traffic.simulator import regressions
from traffic.simulator.behaviours import BEHAVIOURS, REFUSAL
from traffic.simulator.regressions import DEMO_MODEL, Regression, applied

URL = "/simulator/v1/chat/completions"
JAN = "sim-chat-2025-01-15"
INPUTS = 200


@pytest.fixture
def sim(db, settings) -> Client:
    settings.SIMULATOR_ENABLED = True
    settings.SIMULATOR_LATENCY_SCALE = 0
    regressions.invalidate_local()
    yield Client()
    # The test's rows roll back; the process's read of them must not outlive the test.
    regressions.invalidate_local()


def _answers(client: Client, model: str) -> dict[str, int]:
    counts = {"ok": 0, "refused": 0, "500": 0}
    for n in range(INPUTS):
        body = {"model": model, "messages": [{"role": "user", "content": f"Order {n} is late."}]}
        response = client.post(URL, data=json.dumps(body), content_type="application/json")
        if response.status_code == 500:
            error = response.json()["error"]
            assert error["type"] == "server_error" and error["code"] == "server_error"
            counts["500"] += 1
        else:
            assert response.status_code == 200, response.content
            content = response.json()["choices"][0]["message"]["content"]
            counts["refused" if content == REFUSAL else "ok"] += 1
    return counts


def _switch(*args: str) -> str:
    out = StringIO()
    call_command("simulator_regression", *args, stdout=out)
    return out.getvalue()


def test_on_the_regressed_model_fails_a_quarter_of_inputs_with_openai_500s_and_off_ends_it(sim):
    before = _answers(sim, DEMO_MODEL)
    assert before["500"] <= INPUTS * 0.03 and before["refused"] == 0

    out = _switch("on")
    assert "sim-chat-2025-06-01: ON, 25% of inputs fail with HTTP 500, +300 ms" in out
    during = _answers(sim, DEMO_MODEL)
    assert INPUTS * 0.18 < during["500"] < INPUTS * 0.32
    assert 0 < during["refused"] < INPUTS * 0.1
    # Only that model version: the incumbent answers as before.
    assert _answers(sim, JAN)["500"] <= INPUTS * 0.03

    assert "Switched off" in _switch("off")
    assert _answers(sim, DEMO_MODEL) == before


def test_a_switch_from_another_process_is_seen_within_two_seconds(sim):
    # Written straight to the table, as another process's switch would be: no local reset.
    regressions.active()  # this process has read the table (nothing on) just now
    SimulatorRegression.objects.create(model_id=DEMO_MODEL, on=True, failure_rate=1.0)
    body = {"model": DEMO_MODEL, "messages": [{"role": "user", "content": "Where is my parcel?"}]}

    def status() -> int:
        return sim.post(URL, data=json.dumps(body), content_type="application/json").status_code

    assert status() == 200  # still the cached read
    time.sleep(regressions.CACHE_SECONDS + 0.1)
    assert status() == 500


def test_the_regression_adds_to_the_behaviour_and_never_lowers_a_rate():
    jun = BEHAVIOURS[DEMO_MODEL]
    assert applied(jun, None) is jun
    worse = applied(jun, Regression(model_id=DEMO_MODEL))
    assert (worse.failure_rate, worse.failure_status, worse.refusal_rate) == (0.25, 500, 0.05)
    assert worse.latency_ms == jun.latency_ms + 300
    assert worse.tone == jun.tone and worse.verbosity == jun.verbosity
    flaky = BEHAVIOURS["sim-flaky-2025-01-01"]
    assert applied(flaky, Regression(model_id="x", failure_rate=0.1)).failure_rate == 1.0


def test_values_given_with_on_are_kept_for_the_next_time(sim):
    _switch("on", "--model", JAN, "--failure-rate", "0.5", "--failure-status", "503")
    _switch("off", "--model", JAN)
    out = _switch("on", "--model", JAN)
    assert f"{JAN}: ON, 50% of inputs fail with HTTP 503" in out
    status = _switch("status")
    assert f"{JAN}: ON" in status and f"{DEMO_MODEL}: off" in status  # the demo's, never used


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--failure-rate", "1.5"], "--failure-rate must be between 0 and 1, not 1.5"),
        (["--refusal-rate", "-0.1"], "--refusal-rate must be between 0 and 1"),
        (["--failure-status", "404"], "--failure-status must be one of 429, 500, 503"),
        (["--extra-latency-ms", "-5"], "--extra-latency-ms must be 0 or more"),
        (["--model", "gpt-4o"], "--model: 'gpt-4o' is not a simulated model id"),
    ],
)
def test_bad_values_are_refused_naming_the_option_and_change_nothing(sim, args, message):
    with pytest.raises(CommandError, match=message):
        _switch("on", *args)
    assert not SimulatorRegression.objects.filter(on=True).exists()


def test_off_takes_no_values(sim):
    with pytest.raises(CommandError, match="`off` takes only --model"):
        _switch("off", "--failure-rate", "0.5")


def test_it_refuses_without_the_simulator(db, settings):
    settings.SIMULATOR_ENABLED = False
    with pytest.raises(CommandError, match="SIMULATOR_ENABLED=true"):
        _switch("on")
    assert not SimulatorRegression.objects.exists()
