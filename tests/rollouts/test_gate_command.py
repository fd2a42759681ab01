"""`manage.py gate`: a pipeline's gate, with exit codes (0 passed, 1 blocked, 2 otherwise).

The runs execute here (--run-here) against the built-in simulator on a live server: the real
executor, real HTTP, no mocks."""

import pytest
from django.core.management import CommandError, call_command

from evaluations import executor
from evaluations.models import Gate
from registry.models import ModelConfig
from registry.services import registry
from rollouts.services import rollouts
from tests.gates import make_suite
from traffic.simulator.behaviours import BEHAVIOURS, Behaviour

CASES = [
    {"name": "refund intent is JSON", "dimension": "format", "critical": True},
    {"name": "order status is JSON", "dimension": "accuracy", "critical": False},
]


@pytest.fixture
def world(simulated, monkeypatch):
    # A candidate that fences its JSON in Markdown: not JSON any more.
    monkeypatch.setitem(BEHAVIOURS, "sim-fence-2025-01-01", Behaviour(json_fence=True))

    def config(model_id: str, name: str) -> ModelConfig:
        made = simulated(model_id, name)
        ModelConfig.objects.filter(pk=made.pk).update(response_format="json_object")
        made.refresh_from_db()
        return made

    baseline = config("sim-fast-2025-01-01", "intent v1")
    feature = registry.feature_create(
        key="intent-json", name="Intent", served_config=baseline, actor=None
    )
    cases = [c | {"variables": {"question": c["name"], "company": "Acme"}} for c in CASES]
    make_suite(feature, "Intents", cases=cases)
    yield {"feature": feature, "config": config}
    # --run-here runs on the executor's process-wide loop, whose pooled aiohttp connections
    # to the live server outlive the test: closed here, not by the garbage collector at exit
    # ("Unclosed client session").
    executor.shutdown()


def _gate(*args: str) -> tuple[int, str]:
    from io import StringIO

    out = StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("gate", *args, "--run-here", "--timeout", "30", stdout=out, stderr=out)
    return exc.value.code, out.getvalue()


def test_a_good_candidate_passes_with_exit_code_0(world):
    good = world["config"]("sim-chat-2025-06-01", "intent v2")
    code, out = _gate("--feature", "intent-json", "--candidate", str(good.code))
    assert code == 0, out
    assert "Verdict: Passed (passed)" in out
    assert Gate.objects.get().verdict == "passed"


def test_a_critical_regression_exits_1_and_prints_the_regressed_cases(world):
    world["config"]("sim-fence-2025-01-01", "intent fenced")
    code, out = _gate("--feature", "intent-json", "--candidate", "intent fenced", "--trials", "2")
    assert code == 1, out
    assert "Verdict: Blocked (blocked)" in out
    assert "  - critical refund intent is JSON (format)" in out
    assert "Critical case 'refund intent is JSON' passed on the baseline and fails" in out
    assert Gate.objects.get().trials == 2


def test_an_outage_on_the_candidate_is_incomplete_with_exit_code_2(world):
    world["config"]("sim-flaky-2025-01-01", "intent down")
    code, out = _gate("--feature", "intent-json", "--candidate", "intent down")
    assert code == 2, out
    assert "Verdict: Incomplete (incomplete)" in out
    assert "no scored result on the candidate" in out


def test_it_gates_a_rollout_and_a_timeout_exits_2(world):
    good = world["config"]("sim-chat-2025-06-01", "intent v2")
    rollout = rollouts.rollout_create(feature=world["feature"], candidate=good, actor=None)
    out_args = ("--feature", "intent-json", "--candidate", str(good.code))
    from io import StringIO

    out = StringIO()
    # Without --run-here nobody executes the runs in this test: the wait times out.
    with pytest.raises(SystemExit) as exc:
        call_command(
            "gate", *out_args, "--rollout", str(rollout.code), "--timeout", "0", stderr=out
        )
    assert exc.value.code == 2
    assert "Timed out" in out.getvalue()
    gate = Gate.objects.get()
    rollout.refresh_from_db()
    assert (gate.rollout, rollout.status) == (rollout, "gate")


@pytest.mark.django_db
def test_bad_arguments_name_the_option(feature, candidate):
    with pytest.raises(CommandError, match="--feature: no feature 'nope'"):
        call_command("gate", "--feature", "nope", "--candidate", "x")
    with pytest.raises(CommandError, match="--candidate: no config"):
        call_command("gate", "--feature", "support-reply", "--candidate", "x")
    with pytest.raises(CommandError, match="--candidate: 'support v1' is the baseline"):
        call_command(
            "gate", "--feature", "support-reply", "--candidate", feature.served_config.name
        )
    with pytest.raises(CommandError, match="no eval suite with cases"):
        call_command("gate", "--feature", "support-reply", "--candidate", str(candidate.code))
    with pytest.raises(CommandError, match="--rollout: no rollout"):
        call_command(
            "gate", "--feature", "support-reply", "--candidate", "support v2", "--rollout", "x"
        )
