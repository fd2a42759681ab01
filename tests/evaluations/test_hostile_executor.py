# ruff: noqa: F811 (`world` is the executor tests' fixture, imported; pytest passes it by name)
"""The executor against a hostile or odd provider: a provider that echoes the API key in its
error, answers with HTML, speaks Anthropic's API; a config without a system prompt. The key
never reaches a stored result, an export or an audit event, and one odd case is that case's
error, never the run's end."""

import json

import httpx
import pytest

from evaluations.executor import run_execute
from evaluations.models import Suite
from registry.models import AuditEvent, ModelConfig, ModelVersion, Provider
from registry.services import registry
from tests.evaluations.test_executor import (  # noqa: F401 (world is a fixture)
    Provider_,
    add_case,
    completion,
    result_of,
    start,
    world,
)

SECRET = "sk-live-0123456789abcdef-hostile"


@pytest.fixture
def keyed(world, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", SECRET)
    Provider.objects.filter(pk=world["provider"].pk).update(api_key_env="STUB_API_KEY")
    return world


def test_a_provider_echoing_the_key_never_gets_it_stored_or_exported(keyed, client_for):
    add_case(keyed["suite"], "one", "hello", [{"type": "contains", "value": "x"}])

    def answer(request: httpx.Request) -> httpx.Response:
        sent = request.headers.get("authorization", "")
        return httpx.Response(401, json={"error": {"message": f"Bad key: {sent}"}})

    run = start(keyed)
    run_execute(run.pk, transport=Provider_(answer).transport)
    result = result_of(run, "one")
    assert result.status == "error"
    assert "Bad key" in result.error and SECRET not in result.error
    client = client_for("viewer")
    for url in (
        f"/evaluations/runs/{run.code}/",
        f"/evaluations/runs/{run.code}/export.csv",
        f"/evaluations/runs/{run.code}/export.json",
    ):
        response = client.get(url)
        assert response.status_code == 200
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert SECRET.encode() not in body, url
    for event in AuditEvent.objects.all():
        assert SECRET not in json.dumps([event.before, event.after, event.reason])


def test_a_judge_error_echoing_the_key_is_scrubbed(keyed):
    suite: Suite = keyed["suite"]
    judge = registry.config_create(
        config=ModelConfig(
            name="judge",
            model_version=registry.model_version_save(
                version=ModelVersion(provider=keyed["provider"], model_id="judge-model-2025-01-01"),
                actor=None,
            ),
        ),
        actor=None,
    )
    Suite.objects.filter(pk=suite.pk).update(judge_config=judge)
    add_case(suite, "graded", "hello", [{"type": "llm-rubric", "value": "is polite"}])

    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["model"] == "judge-model-2025-01-01":
            sent = request.headers.get("authorization", "")
            return httpx.Response(403, json={"error": {"message": f"denied for {sent}"}})
        return httpx.Response(200, json=completion("Hello there!"))

    run = start(keyed)
    run_execute(run.pk, transport=Provider_(answer).transport)
    result = result_of(run, "graded")
    assert result.status == "error"
    stored = json.dumps([result.error, result.outcomes])
    assert SECRET not in stored


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>gateway</html>", headers={"content-type": "text/html"}),
        httpx.Response(200, json=[1, 2]),
        httpx.Response(200, json={"choices": []}),
        httpx.Response(200, json={"choices": [{"message": None}]}),
        httpx.Response(200, json={"choices": [{"message": {"content": 5}}]}),
    ],
    ids=["html", "list", "no-choices", "null-message", "number-content"],
)
def test_an_unreadable_answer_is_that_cases_error_and_the_run_completes(world, response):
    add_case(world["suite"], "odd", "hello", [{"type": "contains", "value": "x"}])
    add_case(world["suite"], "fine", "France?", [{"type": "contains", "value": "Paris"}])

    def answer(request: httpx.Request) -> httpx.Response:
        if "France" in json.loads(request.content)["messages"][-1]["content"]:
            return httpx.Response(200, json=completion("Paris"))
        return response

    run = start(world)
    run_execute(run.pk, transport=Provider_(answer).transport)
    run.refresh_from_db()
    assert run.status == "completed"
    assert result_of(run, "fine").status == "pass"
    odd = result_of(run, "odd")
    assert odd.status in ("error", "fail")
    if odd.status == "error":
        assert odd.error


def test_an_anthropic_config_is_called_in_anthropics_shape(world):
    anthropic = registry.provider_save(
        provider=Provider(
            name="Anthropic",
            api_style=Provider.ApiStyle.ANTHROPIC_MESSAGES,
            base_url="http://127.0.0.1:9/v1",
            api_key_env="",
        ),
        actor=None,
    )
    version = registry.model_version_save(
        version=ModelVersion(provider=anthropic, model_id="claude-sonnet-4-5-20250929"),
        actor=None,
    )
    config = registry.config_create(
        config=ModelConfig(name="claude", model_version=version, system_prompt="Help {customer}."),
        actor=None,
    )
    add_case(world["suite"], "one", "where is my parcel?", [{"type": "contains", "value": "on"}])
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5-20250929",
                "content": [{"type": "text", "text": "It is on its way."}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 7, "output_tokens": 5},
            },
        )

    from evaluations.services.runs import run_create

    run = run_create(suite=world["suite"], config=config, actor=None)
    run_execute(run.pk, transport=Provider_(answer).transport)
    assert result_of(run, "one").status == "pass"
    (request,) = seen
    body = json.loads(request.content)
    assert request.url.path.endswith("/messages")
    assert body["system"] == "Help Acme."
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert body["max_tokens"] >= 1  # Anthropic refuses a call without it


def test_a_config_without_a_system_prompt_sends_no_empty_system_message(world):
    world["config"] = registry.config_create(
        config=ModelConfig(
            name="bare", model_version=world["config"].model_version, system_prompt=""
        ),
        actor=None,
    )
    add_case(world["suite"], "one", "hello", [])
    seen: list[dict] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=completion("hi"))

    run = start(world)
    run_execute(run.pk, transport=Provider_(answer).transport)
    assert result_of(run, "one").status == "pass"
    assert [m["role"] for m in seen[0]["messages"]] == ["user"]


def test_a_case_whose_stored_messages_are_not_valid_is_that_cases_error(world):
    # Stored before validation existed (or written by the admin's raw JSON): not a list of
    # {role, content}. The run goes on.
    add_case(world["suite"], "fine", "France?", [{"type": "contains", "value": "Paris"}])
    bad = add_case(world["suite"], "bad", "x", [])
    type(bad).objects.filter(pk=bad.pk).update(messages={"role": "user"}, variables={})

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=completion("Paris"))

    run = start(world)
    run_execute(run.pk, transport=Provider_(answer).transport)
    run.refresh_from_db()
    assert run.status == "completed"
    assert result_of(run, "fine").status == "pass"
    broken = result_of(run, "bad")
    assert (broken.status, broken.error_kind) == ("error", "bad_case")
    assert "fix its messages" in broken.error
