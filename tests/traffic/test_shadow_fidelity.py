"""The candidate answers exactly what the baseline answered: the raw input and the request's
pass-through parameters reach the shadow call, while what is stored stays redacted, and the raw
input is gone once the shadow job ends. One builder, one shadow rule for the gateway and ingest."""

import json
from datetime import timedelta

import httpx
import pytest

from comparisons.models import ShadowPair
from comparisons.services.shadow import shadow_job_run, shadow_sweep
from registry.models import ModelConfig, ModelVersion, Provider, RequestLog, ShadowJob
from registry.services import registry
from registry.services.audit import db_now
from rollouts.services import rollouts
from tests.gates import pass_gate
from tests.live import wait_for
from tests.stub_provider import StubProvider, completion
from traffic.gateway.recorder import recorder
from traffic.ingest import PARAM_SHAPES, IngestError, ingest
from traffic.passthrough import REPLAYED
from traffic.requestlog import NOT_SHADOWED_ERRORS, shadowed
from traffic.routing import current_table, invalidate_local
from traffic.tokens import token_create

# A nonce that a broad phone pattern mistakes for a number, and real PII that must be redacted.
NONCE = "nonce-2484-49991424"
SAID = f"Reset my password, token {NONCE}, and mail jane.doe@example.com when done."
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "send_mail",
            "description": "Send an e-mail",
            "parameters": {"type": "object", "properties": {"to": {"type": "string"}}},
        },
    }
]
TOOL_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "send_mail", "arguments": json.dumps({"to": "jane.doe@example.com"})},
}


def _tool_answer() -> dict:
    answer = completion("")
    answer["choices"][0]["message"] = {"role": "assistant", "content": None}
    answer["choices"][0]["message"]["tool_calls"] = [TOOL_CALL]
    answer["choices"][0]["finish_reason"] = "tool_calls"
    return answer


# --- the gateway path, over real HTTP ----------------------------------------------------------


@pytest.fixture
def stub():
    # Every call (the baseline's through the gateway, then the candidate's from the shadow run)
    # is answered with a tool call, and recorded as the provider received it.
    with StubProvider(lambda body, n: [_tool_answer()]) as server:
        yield server


def _config(provider: Provider, model_id: str, name: str, **fields) -> ModelConfig:
    version = registry.model_version_save(
        version=ModelVersion(provider=provider, model_id=model_id), actor=None
    )
    fields.setdefault("system_prompt", "You help {customer}.")
    return registry.config_create(
        config=ModelConfig(name=name, model_version=version, **fields), actor=None
    )


@pytest.fixture
def shadowed_gateway(live, stub, settings, monkeypatch):
    settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    monkeypatch.delenv("MISSING_API_KEY", raising=False)
    provider = registry.provider_save(
        provider=Provider(
            name="Stub", api_style="openai_chat", base_url=stub.url, api_key_env="", timeout=5
        ),
        actor=None,
    )
    baseline = _config(provider, "gpt-4o-2024-08-06", "baseline")
    candidate = _config(provider, "gpt-4o-2024-11-20", "candidate")
    feature = registry.feature_create(
        key="support-reply", name="Support", served_config=baseline, actor=None
    )
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    _, token = token_create(name="app", features=[feature], actor=None)
    invalidate_local()
    return {
        "url": f"{live.url}/v1/chat/completions",
        "token": token,
        "provider": provider,
        "feature": feature,
        "rollout": rollout,
    }


def _send(gateway: dict, **extra) -> httpx.Response:
    body = {
        "model": "support-reply",
        "messages": [{"role": "user", "content": SAID}],
        "user": "unit-1",
        "metadata": {"customer": "Ann <ann@example.org>"},
    } | extra
    return httpx.post(
        gateway["url"],
        json=body,
        headers={"Authorization": f"Bearer {gateway['token']}"},
        timeout=20,
    )


def _logged(request_id: str) -> RequestLog:
    def find() -> RequestLog | None:
        recorder.flush()
        return RequestLog.objects.filter(request_id=request_id).first()

    row = wait_for(find, timeout=5)
    assert row is not None, "the call was never logged"
    return row


def test_the_candidate_gets_the_raw_input_and_the_parameters_the_baseline_got(
    shadowed_gateway, stub
):
    passed = {
        "tools": TOOLS,
        "tool_choice": "auto",
        "seed": 7,
        "stop": ["\n\nUser:"],
        # The configs leave the format open, so the request's own is forwarded and replayed.
        "response_format": {"type": "json_object"},
    }
    response = _send(shadowed_gateway, **passed)
    assert response.status_code == 200, response.text
    log = _logged(response.headers["X-Request-Id"])
    job = ShadowJob.objects.get(request=log)

    pair = shadow_job_run(job_id=job.pk)

    baseline_sent, candidate_sent = stub.requests
    assert (baseline_sent["model"], candidate_sent["model"]) == (
        "gpt-4o-2024-08-06",
        "gpt-4o-2024-11-20",
    )
    # Exactly the same question: the raw text (nonce and address intact), the same variables
    # in the prompt, the same tools and parameters.
    assert candidate_sent["messages"] == baseline_sent["messages"]
    assert candidate_sent["messages"][-1]["content"] == SAID
    assert candidate_sent["messages"][0]["content"] == "You help Ann <ann@example.org>."
    for name, value in passed.items():
        assert baseline_sent[name] == value, name
        assert candidate_sent[name] == value, name
    # What is kept is redacted: the log, its variables and tool calls, the pair.
    log.refresh_from_db()
    assert "jane.doe@example.com" not in json.dumps(log.messages)
    assert "[email]" in log.messages[0]["content"]
    assert log.variables == {"customer": "Ann <[email]>"}
    assert "jane.doe" not in json.dumps(log.tool_calls)
    assert log.tool_calls[0]["function"]["name"] == "send_mail"
    assert json.loads(log.tool_calls[0]["function"]["arguments"]) == {"to": "[email]"}
    assert log.params == passed
    assert pair is not None and pair.messages == log.messages
    assert "jane.doe" not in json.dumps(pair.candidate_tool_calls)
    # The raw input ended with the job.
    assert (log.raw_messages, log.raw_variables) == (None, None)
    assert ShadowJob.objects.get(pk=job.pk).status == "done"


def test_stream_options_are_forwarded_but_not_replayed(shadowed_gateway, stub):
    # Only a streamed call may carry stream_options; the shadow run is never streamed.
    response = _send(shadowed_gateway, seed=3, stream_options={"include_usage": True})
    log = _logged(response.headers["X-Request-Id"])
    assert stub.requests[0]["stream_options"] == {"include_usage": True}
    assert log.params == {"seed": 3}


def test_a_provider_failure_is_shadowed_a_call_that_never_reached_one_is_not(
    shadowed_gateway, stub
):
    def respond(body, n):
        return []  # no answer at all: uvicorn sends a 500, a provider-side failure

    stub.respond = respond
    failed = _send(shadowed_gateway)
    assert failed.status_code == 502
    log = _logged(failed.headers["X-Request-Id"])
    assert log.error_kind == "server_error"
    assert ShadowJob.objects.filter(request=log).count() == 1
    assert log.raw_messages is not None  # kept for the shadow run
    # A call refused before any model saw it: nothing to compare.
    Provider.objects.filter(pk=shadowed_gateway["provider"].pk).update(
        api_key_env="MISSING_API_KEY"
    )
    invalidate_local()
    refused = _send(shadowed_gateway)
    log = _logged(refused.headers["X-Request-Id"])
    assert log.error_kind == "no_api_key"
    assert not ShadowJob.objects.filter(request=log).exists()
    assert log.raw_messages is None


# --- the ingest path ----------------------------------------------------------------------------


def _openai_answer(text: str, tool_calls: list | None = None) -> httpx.Response:
    message: dict = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return httpx.Response(
        200,
        json={
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        },
    )


class Capture:
    """The candidate's provider: records each request body and answers."""

    def __init__(self, answer: httpx.Response | None = None) -> None:
        self.bodies: list[dict] = []
        self.answer = answer or _openai_answer("Candidate answer")

    def transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            self.bodies.append(json.loads(request.read()))
            return self.answer

        return httpx.MockTransport(handler)


@pytest.fixture
def shadowing(feature, make_config, make_version, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    candidate = make_config("support v2", make_version("gpt-4o-2024-11-20"))
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    invalidate_local()
    return rollout


def _ingest(request_id: str = "r1", **fields):
    record = {
        "feature": "support-reply",
        "request_id": request_id,
        "unit": "u1",
        "messages": [{"role": "user", "content": SAID}],
        "variables": {"customer": "jane.doe@example.com"},
        "output": "Done.",
        "latency_ms": 120,
    } | fields
    return ingest(record, table=current_table(), token=None)


def test_ingested_params_and_raw_input_reach_the_candidate(shadowing):
    params = {"tools": TOOLS, "tool_choice": "required", "seed": 11, "stop": "END"}
    _ingest(params=params)
    log = RequestLog.objects.get()
    assert log.params == params
    assert log.variables == {"customer": "[email]"}
    assert "jane.doe" not in json.dumps(log.messages)
    provider = Capture()

    shadow_job_run(job_id=ShadowJob.objects.get().pk, transport=provider.transport())

    (sent,) = provider.bodies
    assert sent["messages"][-1]["content"] == SAID
    assert sent["messages"][0]["content"] == "You help jane.doe@example.com."
    assert {name: sent[name] for name in params} == params
    log.refresh_from_db()
    assert (log.raw_messages, log.raw_variables) == (None, None)


def test_a_format_the_candidate_config_pins_wins_over_the_requests_own(
    feature, make_config, make_version, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    candidate = make_config(
        "json v2", make_version("gpt-4o-2024-11-20"), response_format="json_object"
    )
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    invalidate_local()
    _ingest(params={"response_format": {"type": "text"}, "seed": 1})
    provider = Capture()
    shadow_job_run(job_id=ShadowJob.objects.get().pk, transport=provider.transport())
    assert provider.bodies[0]["response_format"] == {"type": "json_object"}
    assert provider.bodies[0]["seed"] == 1


def test_the_candidates_tool_calls_are_stored_redacted(shadowing):
    _ingest()
    provider = Capture(_openai_answer("", tool_calls=[TOOL_CALL]))
    pair = shadow_job_run(job_id=ShadowJob.objects.get().pk, transport=provider.transport())
    assert pair is not None
    (call,) = pair.candidate_tool_calls
    assert call["id"] == "call_1" and call["function"]["name"] == "send_mail"
    assert json.loads(call["function"]["arguments"]) == {"to": "[email]"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"params": {"temperature": 0.2}}, "params.temperature"),
        ({"params": {"seed": 1, "model": "x"}}, "params.model"),
    ],
)
def test_an_unknown_pass_through_parameter_is_refused_naming_it(shadowing, body, field):
    with pytest.raises(IngestError) as info:
        _ingest(**body)
    assert info.value.status == 400
    assert [e["field"] for e in info.value.errors] == [field]
    assert "seed" in info.value.errors[0]["message"]  # names what is accepted
    assert RequestLog.objects.count() == 0


def test_in_a_batch_the_unknown_parameter_names_its_record(shadowing):
    good = {
        "feature": "support-reply",
        "request_id": "a",
        "messages": [{"role": "user", "content": "x"}],
    }
    body = {"records": [good, good | {"request_id": "b", "params": {"user": "u"}}]}
    with pytest.raises(IngestError) as info:
        ingest(body, table=current_table(), token=None)
    assert [e["field"] for e in info.value.errors] == ["records[1].params.user"]


def test_ingest_accepts_every_replayed_name_and_only_those():
    assert set(PARAM_SHAPES) == REPLAYED


# --- one rule for which calls are shadowed --------------------------------------------------


@pytest.mark.parametrize(
    ("error_kind", "expected"),
    [
        ("", True),
        ("server_error", True),
        ("timeout", True),
        ("rate_limited", True),
        ("connection", True),
        ("bad_response", True),
        ("app_error", True),
        ("client_error", False),
        ("no_api_key", False),
    ],
)
def test_ingest_shadows_a_failed_call_by_the_gateways_rule(shadowing, error_kind, expected):
    fields = {"error": "upstream said no", "output": ""} if error_kind else {}
    if error_kind and error_kind != "app_error":
        fields["error_kind"] = error_kind
    _ingest(**fields)
    log = RequestLog.objects.get()
    assert log.error_kind == error_kind
    assert ShadowJob.objects.filter(request=log).exists() is expected
    assert (log.raw_messages is not None) is expected
    assert shadowed(error_kind=error_kind) is expected
    assert (error_kind in NOT_SHADOWED_ERRORS) is not expected


# --- the raw input's lifetime ---------------------------------------------------------------


def test_a_call_that_gets_no_shadow_job_keeps_no_raw_input(feature, make_config, make_version):
    # Sampled out: the rollout shadows 0% of calls.
    candidate = make_config("support v2", make_version("gpt-4o-2024-11-20"))
    rollout = rollouts.rollout_create(
        feature=feature, candidate=candidate, actor=None, shadow_sample_percent=0
    )
    _ingest("before")  # draft rollout: not shadowing at all
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    invalidate_local()
    _ingest("sampled-out")
    assert ShadowJob.objects.count() == 0
    assert set(RequestLog.objects.values_list("raw_messages", flat=True)) == {None}


def test_raw_input_is_stored_as_sql_null_on_the_copy_path(shadowing):
    # 25 records: ingest writes them with COPY on PostgreSQL, raw input included.
    records = [
        {
            "feature": "support-reply",
            "request_id": f"b{n}",
            "messages": [{"role": "user", "content": SAID}],
        }
        for n in range(25)
    ]
    ingest({"records": records}, table=current_table(), token=None)
    assert RequestLog.objects.filter(raw_messages__isnull=False).count() == 25
    assert ShadowJob.objects.count() == 25
    ShadowJob.objects.update(status="failed")
    shadow_sweep()
    assert RequestLog.objects.filter(raw_messages__isnull=True).count() == 25


def test_raw_input_is_cleared_when_the_job_fails_for_good(shadowing):
    _ingest()
    job = ShadowJob.objects.get()
    # A worker claimed it and vanished, again and again: the sweep gives up on it.
    old = db_now() - timedelta(hours=2)
    ShadowJob.objects.filter(pk=job.pk).update(
        status="claimed", claimed_at=old, renudged=old, attempts=5
    )
    shadow_sweep()
    assert ShadowJob.objects.get(pk=job.pk).status == "failed"
    log = RequestLog.objects.get()
    assert (log.raw_messages, log.raw_variables) == (None, None)
    assert log.messages[0]["content"].endswith("mail [email] when done.")


def test_the_sweep_keeps_the_raw_input_of_open_jobs(shadowing):
    _ingest()
    shadow_sweep()
    assert RequestLog.objects.get().raw_messages is not None


def test_a_job_whose_raw_input_is_gone_fails_without_calling_the_candidate(shadowing):
    _ingest()
    RequestLog.objects.update(raw_messages=None, raw_variables=None)
    provider = Capture()
    job = ShadowJob.objects.get()
    assert shadow_job_run(job_id=job.pk, transport=provider.transport()) is None
    assert provider.bodies == []  # never the redacted text instead
    job.refresh_from_db()
    assert job.status == "failed" and "raw input" in job.error
    assert ShadowPair.objects.count() == 0


def test_the_admin_never_shows_raw_input(admin_user, rf):
    from rollouts.admin_site import admin_site

    for model, model_admin in admin_site._registry.items():
        if model is not RequestLog:
            continue
        request = rf.get("/")
        request.user = admin_user
        shown = set(model_admin.get_fields(request)) | set(model_admin.get_list_display(request))
        assert not shown & {"raw_messages", "raw_variables"}
    # Not editable either, so no model form (admin or other) carries them by default.
    assert not RequestLog._meta.get_field("raw_messages").editable
    assert not RequestLog._meta.get_field("raw_variables").editable
