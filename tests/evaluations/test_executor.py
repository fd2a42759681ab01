"""Executing eval runs: results scored pass / fail / error, trials, the judge, the provider's
in-flight limit. The provider is an httpx.MockTransport (the process boundary); the database
work runs on the executor's own thread, hence transactional tests."""

import asyncio
import json
import threading
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest

from evaluations.executor import run_execute
from evaluations.models import Case, CaseResult, Run, Suite
from evaluations.services.runs import run_create, run_progress
from registry.models import ModelConfig, ModelVersion, Provider
from registry.services import registry

JUDGE_MODEL = "judge-model-2025-01-01"


def completion(text: str, *, prompt_tokens: int = 10, completion_tokens: int = 5) -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def last_user_text(request: httpx.Request) -> str:
    body = json.loads(request.content)
    return [m for m in body["messages"] if m["role"] == "user"][-1]["content"]


def is_judge(request: httpx.Request) -> bool:
    return json.loads(request.content)["model"] == JUDGE_MODEL


class Provider_:
    """A scripted provider: `answer(request)` gives the response; counts calls and the most
    calls in flight at once (each call takes `delay` seconds)."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response], delay: float = 0.0):
        self.answer, self.delay = answer, delay
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.started = threading.Event()
        self._lock = threading.Lock()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.calls += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.started.set()
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return self.answer(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


@pytest.fixture
def world(transactional_db, settings, monkeypatch):
    """A feature with a suite on a priced model version; runs are executed by the test."""
    monkeypatch.setattr("evaluations.services.runs._enqueue", lambda run: None)

    async def instant(seconds: float) -> None:  # provider retries without the backoff wait
        return None

    monkeypatch.setattr("traffic.providers._asleep", instant)
    settings.EVAL_PROVIDER_CONCURRENCY = 8
    provider = registry.provider_save(
        provider=Provider(
            name="Stub", api_style="openai_chat", base_url="http://127.0.0.1:9/v1", api_key_env=""
        ),
        actor=None,
    )
    version = registry.model_version_save(
        version=ModelVersion(
            provider=provider,
            model_id="gpt-4o-2024-08-06",
            input_price=Decimal("2.50"),
            output_price=Decimal("10.00"),
        ),
        actor=None,
    )
    config = registry.config_create(
        config=ModelConfig(name="v1", model_version=version, system_prompt="Help {customer}."),
        actor=None,
    )
    feature = registry.feature_create(
        key="support-reply", name="Support", served_config=config, actor=None
    )
    suite = Suite.objects.create(feature=feature, name="main", prompt="Q: {{question}}")
    return {"provider": provider, "config": config, "suite": suite}


def add_case(suite: Suite, name: str, question: str, assertions: list[dict], **kw) -> Case:
    return Case.objects.create(
        suite=suite,
        name=name,
        variables={"question": question, "customer": "Acme"},
        assertions=assertions,
        **kw,
    )


def start(world, trials: int = 1) -> Run:
    return run_create(suite=world["suite"], config=world["config"], actor=None, trials=trials)


def result_of(run: Run, name: str, trial: int = 0) -> CaseResult:
    return CaseResult.objects.get(run=run, case__name=name, trial=trial)


def test_it_scores_pass_fail_and_error_rows_and_completes_the_run(world):
    suite = world["suite"]
    add_case(suite, "capital", "capital of France?", [{"type": "contains", "value": "Paris"}])
    add_case(suite, "json", "give json", [{"type": "is-json"}])
    add_case(suite, "down", "anything", [{"type": "contains", "value": "x"}])

    def answer(request: httpx.Request) -> httpx.Response:
        text = last_user_text(request)
        if "France" in text:
            return httpx.Response(200, json=completion("Paris is the capital."))
        if "json" in text:
            return httpx.Response(200, json=completion("not json at all"))
        return httpx.Response(400, json={"error": {"message": "model overloaded for you"}})

    stub = Provider_(answer)
    run = start(world)
    run_execute(run.pk, transport=stub.transport)

    run.refresh_from_db()
    assert run.status == "completed" and run.started and run.finished
    progress = run_progress(run)
    assert (progress.total, progress.passed, progress.failed, progress.errors) == (3, 1, 1, 1)

    passed = result_of(run, "capital")
    assert passed.status == "pass" and passed.score == 1.0
    assert passed.output == "Paris is the capital."
    assert (passed.prompt_tokens, passed.completion_tokens) == (10, 5)
    # 10 x 2.50 + 5 x 10.00 USD per million tokens.
    assert passed.cost == Decimal("0.000075")
    assert passed.finish_reason == "stop" and passed.latency_ms is not None
    assert passed.outcomes[0]["type"] == "contains" and passed.outcomes[0]["passed"] is True
    assert passed.lease_until is None and passed.finished and passed.attempts == 1

    failed = result_of(run, "json")
    assert failed.status == "fail" and failed.score == 0.0
    assert failed.outcomes[0]["passed"] is False and failed.outcomes[0]["reason"]

    error = result_of(run, "down")
    assert error.status == "error" and error.score is None and error.outcomes == []
    assert error.error_kind == "client_error"
    assert "model overloaded for you" in error.error


def test_the_call_carries_the_configs_system_prompt_and_the_cases_prompt(world):
    add_case(world["suite"], "one", "where is my parcel?", [])
    seen: list[dict] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=completion("On its way."))

    run = start(world)
    run_execute(run.pk, transport=Provider_(answer).transport)
    assert seen[0]["model"] == "gpt-4o-2024-08-06"
    assert seen[0]["messages"] == [
        {"role": "system", "content": "Help Acme."},
        {"role": "user", "content": "Q: where is my parcel?"},
    ]
    # No assertions: a non-empty answer passes.
    assert result_of(run, "one").status == "pass"


@pytest.mark.parametrize(
    ("status", "kind"), [(500, "server_error"), (429, "rate_limited"), (503, "server_error")]
)
def test_a_provider_outage_marks_results_error_with_the_providers_message(world, status, kind):
    for n in range(3):
        add_case(world["suite"], f"c{n}", f"question {n}", [{"type": "contains", "value": "a"}])
    stub = Provider_(
        lambda request: httpx.Response(status, json={"error": {"message": "upstream is down"}})
    )
    run = start(world)
    run_execute(run.pk, transport=stub.transport)

    run.refresh_from_db()
    assert run.status == "completed"
    progress = run_progress(run)
    assert (progress.errors, progress.passed, progress.failed) == (3, 0, 0)
    for result in CaseResult.objects.filter(run=run):
        assert result.error_kind == kind
        assert "upstream is down" in result.error
        assert result.score is None and result.output == ""
    assert stub.calls == 9  # each case retried twice (transient), never more


def test_trials_give_one_row_per_case_and_trial(world):
    add_case(world["suite"], "a", "q a", [{"type": "icontains", "value": "yes"}])
    add_case(world["suite"], "b", "q b", [{"type": "icontains", "value": "yes"}])
    answers = iter(["Yes", "no", "YES", "yes", "nope", "yes"])
    lock = threading.Lock()

    def answer(request: httpx.Request) -> httpx.Response:
        with lock:
            return httpx.Response(200, json=completion(next(answers)))

    stub = Provider_(answer)
    run = start(world, trials=3)
    run_execute(run.pk, transport=stub.transport)

    rows = CaseResult.objects.filter(run=run)
    assert rows.count() == 6 and stub.calls == 6
    assert sorted(rows.values_list("case__name", "trial")) == [
        ("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1), ("b", 2)
    ]  # fmt: skip
    progress = run_progress(run)
    assert (progress.passed, progress.failed) == (4, 2)


def _judge_world(world) -> ModelConfig:
    version = registry.model_version_save(
        version=ModelVersion(provider=world["provider"], model_id=JUDGE_MODEL), actor=None
    )
    judge = registry.config_create(
        config=ModelConfig(name="judge", model_version=version, system_prompt=""), actor=None
    )
    Suite.objects.filter(pk=world["suite"].pk).update(judge_config=judge)
    return judge


RUBRIC = [{"type": "llm-rubric", "value": "The answer apologises."}]


def test_llm_rubric_is_graded_by_the_suites_judge(world):
    _judge_world(world)
    add_case(world["suite"], "sorry", "my order is late", RUBRIC)
    add_case(world["suite"], "rude", "my order is very late", RUBRIC)
    judged: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if is_judge(request):
            prompt = json.dumps(json.loads(request.content)["messages"])
            judged.append(prompt)
            apologetic = "We are sorry" in prompt
            grade = {"pass": apologetic, "score": 0.9 if apologetic else 0.1, "reasoning": "r"}
            return httpx.Response(200, json=completion(json.dumps(grade)))
        if "very" in last_user_text(request):
            return httpx.Response(200, json=completion("Wait like everyone else."))
        return httpx.Response(200, json=completion("We are sorry for the delay."))

    run = start(world)
    run_execute(run.pk, transport=Provider_(answer).transport)

    assert len(judged) == 2
    assert all("The answer apologises." in prompt for prompt in judged)
    sorry, rude = result_of(run, "sorry"), result_of(run, "rude")
    assert sorry.status == "pass" and rude.status == "fail"
    assert sorry.outcomes[0]["type"] == "llm-rubric"
    assert sorry.outcomes[0]["judge"]  # the judge's reasoning is kept with the outcome


def test_a_suite_without_a_judge_config_makes_rubric_cases_errors(world):
    add_case(world["suite"], "sorry", "my order is late", RUBRIC)
    run = start(world)
    run_execute(
        run.pk,
        transport=Provider_(lambda r: httpx.Response(200, json=completion("Sorry!"))).transport,
    )
    result = result_of(run, "sorry")
    assert result.status == "error"
    assert "suite has no judge config; set one on the suite" in result.error
    assert result.output == "Sorry!"  # what the model said is kept for the reader


def test_a_judge_that_fails_makes_the_result_an_error_not_a_fail(world):
    _judge_world(world)
    add_case(world["suite"], "sorry", "my order is late", RUBRIC)

    def answer(request: httpx.Request) -> httpx.Response:
        if is_judge(request):
            return httpx.Response(200, json=completion("I think it is fine?"))
        return httpx.Response(200, json=completion("Sorry!"))

    run = start(world)
    run_execute(run.pk, transport=Provider_(answer).transport)
    result = result_of(run, "sorry")
    assert result.status == "error" and result.error_kind == "judge_error"
    assert "judge" in result.error


@pytest.mark.parametrize(("cases", "limit", "expected"), [(12, 4, 4), (6, 16, 6)])
def test_calls_in_flight_reach_the_provider_limit_and_never_pass_it(
    world, settings, cases, limit, expected
):
    settings.EVAL_PROVIDER_CONCURRENCY = limit
    for n in range(cases):
        add_case(world["suite"], f"c{n}", f"q{n}", [])
    stub = Provider_(lambda r: httpx.Response(200, json=completion("ok")), delay=0.3)
    run = start(world)
    run_execute(run.pk, transport=stub.transport)
    assert stub.max_in_flight == expected
    assert run_progress(run).passed == cases


def test_a_stored_assertion_that_cannot_run_is_that_cases_error(world):
    add_case(world["suite"], "bad", "q", [{"type": "regex", "value": "(unclosed"}])
    add_case(world["suite"], "good", "q2", [{"type": "contains", "value": "ok"}])
    run = start(world)
    run_execute(
        run.pk, transport=Provider_(lambda r: httpx.Response(200, json=completion("ok"))).transport
    )
    bad = result_of(run, "bad")
    assert bad.status == "error" and bad.error_kind == "bad_assertion"
    assert "assertions[0]" in bad.error
    assert result_of(run, "good").status == "pass"


def test_an_empty_answer_fails_a_case_without_assertions(world):
    add_case(world["suite"], "silent", "q", [])
    run = start(world)
    run_execute(
        run.pk, transport=Provider_(lambda r: httpx.Response(200, json=completion(""))).transport
    )
    assert result_of(run, "silent").status == "fail"


def test_a_gate_run_tells_its_gate_once_it_completes(world, monkeypatch):
    from evaluations.models import Gate

    other = registry.config_create(
        config=ModelConfig(name="v2", model_version=world["config"].model_version), actor=None
    )

    told: list[int] = []
    monkeypatch.setattr(
        "evaluations.services.gates.gate_run_ended", lambda run: told.append(run.pk)
    )
    add_case(world["suite"], "c", "q", [])
    gate = Gate.objects.create(
        feature=world["suite"].feature, baseline=world["config"], candidate=other
    )
    run = run_create(
        suite=world["suite"], config=world["config"], actor=None, gate=gate, side="baseline"
    )
    stub = Provider_(lambda r: httpx.Response(200, json=completion("ok")))
    run_execute(run.pk, transport=stub.transport)
    run_execute(run.pk, transport=stub.transport)  # a redelivery does not tell it again
    assert told == [run.pk]
