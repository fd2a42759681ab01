"""The built-in simulated LLM provider: OpenAI-shaped, deterministic, and off unless enabled.

The simulator reads one table, its staged regressions (traffic/simulator/regressions.py), so the
tests have the database; none of them switches a regression on (test_simulator_regression.py
does). Most tests go through Django's test client; the concurrency and streaming-over-HTTP tests
start a real uvicorn server on a free port.
"""

import asyncio
import dataclasses
import json
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from traffic.simulator import behaviours
from traffic.simulator.behaviours import BEHAVIOURS, REFUSAL, Behaviour, Message, Prompt

pytestmark = pytest.mark.django_db

URL = "/simulator/v1/chat/completions"
JAN, JUN, OCT = "sim-chat-2025-01-15", "sim-chat-2025-06-01", "sim-chat-2025-10-01"
FAST, FLAKY = "sim-fast-2025-01-01", "sim-flaky-2025-01-01"
SUPPORT_PROMPT = "You are the support assistant of Acme. Answer the customer's question politely."
SUMMARY_PROMPT = "Summarise the support ticket for an engineer in at most five bullet points."
INTENT_PROMPT = (
    'Classify the message. Reply with JSON only: {"intent": one of "billing", "bug", "account", '
    '"other", "confidence": a number from 0 to 1}.'
)
TICKET = (
    "Hi team, I was charged twice on my last invoice. The app crashed when I tried to download "
    "the receipt. Can you refund the duplicate charge? My colleague cannot log in either, and "
    "the password reset email never arrives."
)


@pytest.fixture
def sim(settings) -> Client:
    settings.SIMULATOR_ENABLED = True
    settings.SIMULATOR_LATENCY_SCALE = 0
    return Client()


@pytest.fixture
def steady(monkeypatch):
    """The demo versions with their format and wording quirks but no failures or refusals, so
    behaviour tests do not depend on which inputs happen to fail."""
    for model in (JAN, JUN, OCT):
        calm = dataclasses.replace(BEHAVIOURS[model], failure_rate=0.0, refusal_rate=0.0)
        monkeypatch.setitem(BEHAVIOURS, model, calm)


def body(model: str, text: str, system: str | None = None, /, **extra) -> dict:
    messages = [{"role": "system", "content": system}] if system else []
    return {"model": model, "messages": [*messages, {"role": "user", "content": text}], **extra}


def post(client: Client, payload: dict | bytes | str, **headers):
    data = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    return client.post(URL, data=data, content_type="application/json", headers=headers)


def content_of(response) -> str:
    assert response.status_code == 200, response.content
    return response.json()["choices"][0]["message"]["content"]


def prompt(model: str, user: str, system: str | None = None, fmt: str = "text") -> Prompt:
    messages = ((Message("system", system),) if system else ()) + (Message("user", user),)
    return Prompt(model=model, messages=messages, response_format=fmt)


def assert_openai_error(response, status: int, param: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str)
    assert "code" in error
    if param:
        assert error["param"] == param
        assert param in error["message"]
    return error


# --- Off by default -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", URL),
        ("get", "/simulator/v1/models"),
        ("get", f"/simulator/v1/models/{FAST}"),
        ("get", "/simulator/v1/no-such-endpoint"),
    ],
)
def test_off_unless_enabled_every_url_is_a_json_404(settings, method, path):
    settings.SIMULATOR_ENABLED = False
    client = Client()
    response = post(client, body(FAST, "hi")) if method == "post" else client.get(path)
    assert assert_openai_error(response, 404)["code"] == "simulator_disabled"


# --- OpenAI shape ---------------------------------------------------------------------------


def test_a_completion_has_the_openai_shape(sim):
    response = post(sim, body(FAST, "How do I export my data?", SUPPORT_PROMPT, user="u-1"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert data["id"].startswith("simcmpl-") and len(data["id"]) > len("simcmpl-")
    int(data["id"].removeprefix("simcmpl-"), 16)  # hex
    assert data["object"] == "chat.completion"
    assert isinstance(data["created"], int)
    assert data["model"] == FAST
    [choice] = data["choices"]
    assert choice["index"] == 0
    assert choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str) and choice["message"]["content"]
    assert choice["finish_reason"] == "stop"
    usage = data["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    words = len(choice["message"]["content"].split())
    assert usage["completion_tokens"] == pytest.approx(words * 1.3, abs=1)
    prompt_words = len(SUPPORT_PROMPT.split()) + len(["How", "do", "I", "export", "my", "data?"])
    assert usage["prompt_tokens"] == pytest.approx(prompt_words * 1.3, abs=2)


def test_authorization_is_ignored_and_csrf_is_not_required(settings):
    settings.SIMULATOR_ENABLED = True
    settings.SIMULATOR_LATENCY_SCALE = 0
    strict = Client(enforce_csrf_checks=True)
    payload = body(FAST, "Where is my order?")
    without = post(strict, payload)
    with_key = post(strict, payload, Authorization="Bearer sk-anything")
    assert without.status_code == with_key.status_code == 200
    assert without.content == with_key.content


def test_content_as_text_parts_is_the_same_as_a_string(sim):
    as_string = post(sim, body(FAST, "My app crashes on start."))
    parts = [{"type": "text", "text": "My app crashes "}, {"type": "text", "text": "on start."}]
    as_parts = post(sim, {"model": FAST, "messages": [{"role": "user", "content": parts}]})
    assert content_of(as_string) == content_of(as_parts)


def test_models_lists_every_simulated_version(sim):
    response = sim.get("/simulator/v1/models")
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "list"
    assert {m["id"] for m in data["data"]} == set(BEHAVIOURS)
    assert {JAN, JUN, OCT, FAST, FLAKY} <= {m["id"] for m in data["data"]}
    for model in data["data"]:
        assert model["object"] == "model"
        assert "simulator" in model["owned_by"]
        assert isinstance(model["created"], int)
    detail = sim.get(f"/simulator/v1/models/{OCT}")
    assert detail.status_code == 200 and detail.json()["id"] == OCT
    assert_openai_error(sim.get("/simulator/v1/models/gpt-4o-2024-08-06"), 404, "model")


def test_unknown_model_is_a_404_saying_it_does_not_exist(sim):
    error = assert_openai_error(post(sim, body("gpt-4o-2024-08-06", "hi")), 404, "model")
    assert "does not exist" in error["message"]
    assert "gpt-4o-2024-08-06" in error["message"]
    assert error["code"] == "model_not_found"


def test_wrong_method_and_unknown_path_are_json(sim):
    response = sim.get(URL)
    assert_openai_error(response, 405)
    assert response["Allow"] == "POST"
    assert_openai_error(sim.post("/simulator/v1/models"), 405)
    assert_openai_error(sim.get("/simulator/v1/completions"), 404)


# --- Per-version behaviours -----------------------------------------------------------------


def test_oct_fences_json_and_renames_intent_jun_does_neither(sim, steady):
    request = dict(response_format={"type": "json_object"})
    jun = content_of(post(sim, body(JUN, "I was charged twice", INTENT_PROMPT, **request)))
    oct_ = content_of(post(sim, body(OCT, "I was charged twice", INTENT_PROMPT, **request)))

    parsed = json.loads(jun)  # plain JSON, no fence
    assert parsed["intent"] == "billing"
    assert 0.5 <= parsed["confidence"] <= 0.99

    assert oct_.startswith("```json\n") and oct_.endswith("\n```")
    fenced = json.loads(oct_.removeprefix("```json\n").removesuffix("\n```"))
    assert "intent" not in fenced
    assert fenced["label"] == "billing"


def test_json_is_also_detected_from_the_system_prompt(sim, steady):
    answer = json.loads(content_of(post(sim, body(JAN, "My app keeps crashing", INTENT_PROMPT))))
    assert answer["intent"] == "bug"
    other = json.loads(content_of(post(sim, body(JAN, "Hello?", "Reply in JSON."))))
    assert isinstance(other["answer"], str) and other["answer"]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Why is there an extra charge on my invoice?", "billing"),
        ("I want a refund", "billing"),
        ("The export button shows an error and then the app crashed", "bug"),
        ("The dashboard is broken", "bug"),
        ("I forgot my password", "account"),
        ("Login does not work with my new email", "account"),
        ("What are your opening hours?", "other"),
        ("", "other"),
    ],
)
def test_intent_is_chosen_by_keywords(text, intent):
    assert behaviours.classify_intent(text) == intent
    data = json.loads(behaviours.answer(prompt(FAST, text, INTENT_PROMPT), Behaviour()))
    assert data["intent"] == intent
    assert 0.5 <= data["confidence"] <= 0.99
    assert round(data["confidence"], 2) == data["confidence"]


def test_verbosity_terse_normal_chatty():
    question = prompt(FAST, "My invoice shows a double charge, can you help?", SUPPORT_PROMPT)
    lengths = {
        v: len(behaviours.answer(question, Behaviour(verbosity=v)))
        for v in ("terse", "normal", "chatty")
    }
    assert lengths["terse"] < lengths["normal"] < lengths["chatty"]
    terse = behaviours.answer(question, Behaviour(verbosity="terse"))
    assert "Thank" not in terse and "regards" not in terse  # no pleasantries
    chatty = behaviours.answer(question, Behaviour(verbosity="chatty"))
    assert chatty.startswith(behaviours.PREAMBLES["formal"])
    assert chatty.endswith(behaviours.SIGN_OFFS["formal"])


def test_chatty_oct_is_longer_than_normal_jun_over_http(sim, steady):
    for index in range(10):
        question = f"My invoice number {index} shows a double charge, can you help?"
        jun = content_of(post(sim, body(JUN, question, SUPPORT_PROMPT)))
        oct_ = content_of(post(sim, body(OCT, question, SUPPORT_PROMPT)))
        assert len(oct_) > len(jun)


def test_tone_changes_the_wording():
    question = prompt(FAST, "I cannot sign in to my account.", SUPPORT_PROMPT)
    formal = behaviours.answer(question, Behaviour(tone="formal"))
    casual = behaviours.answer(question, Behaviour(tone="casual"))
    assert formal != casual
    assert any(formal.startswith(o.split("{")[0]) for o in behaviours.OPENERS["formal"])
    assert any(casual.startswith(o.split("{")[0]) for o in behaviours.OPENERS["casual"])


def test_the_reply_echoes_the_topic_of_the_question():
    reply = behaviours.answer(prompt(FAST, TICKET, SUPPORT_PROMPT), Behaviour())
    assert '"I was charged twice on my last invoice"' in reply


@pytest.mark.parametrize(("verbosity", "count"), [("terse", 3), ("normal", 4), ("chatty", 5)])
def test_summaries_are_3_to_5_bullets_taken_from_the_text(verbosity, count):
    behaviour = Behaviour(verbosity=verbosity)
    summary = behaviours.answer(prompt(FAST, TICKET, SUMMARY_PROMPT), behaviour)
    bullets = [line[2:] for line in summary.splitlines() if line.startswith("- ")]
    assert len(bullets) == count
    for bullet in bullets:
        first_words = bullet.rstrip(".?").split()[:3]
        assert " ".join(first_words).lower() in TICKET.lower()


def test_a_short_text_still_gets_at_least_3_bullets():
    summary = behaviours.answer(prompt(FAST, "Printer broken.", SUMMARY_PROMPT), Behaviour())
    assert len(summary.splitlines()) == 3


def test_refusals_hit_about_5_percent_of_inputs_on_oct_and_none_on_jan():
    inputs = [f"Question number {i}: how do I change my plan?" for i in range(400)]

    def refused(model: str) -> int:
        return sum(
            behaviours.answer(prompt(model, text), BEHAVIOURS[model]) == REFUSAL for text in inputs
        )

    assert 0.025 * 400 <= refused(OCT) <= 0.075 * 400
    assert refused(JAN) == 0


def test_a_refusal_over_http_is_a_normal_200_with_the_refusal_text(sim, monkeypatch):
    monkeypatch.setitem(BEHAVIOURS, OCT, Behaviour(refusal_rate=1.0))
    assert content_of(post(sim, body(OCT, "Anything at all"))) == REFUSAL


def test_failures_hit_the_configured_fraction_of_distinct_inputs(sim, monkeypatch):
    monkeypatch.setitem(BEHAVIOURS, "sim-test-2025-01-01", Behaviour(failure_rate=0.2))
    statuses = [
        post(sim, body("sim-test-2025-01-01", f"Request {i}")).status_code for i in range(500)
    ]
    assert set(statuses) == {200, 500}
    assert 0.15 <= statuses.count(500) / 500 <= 0.25


def test_the_demo_failure_rates_hold_over_many_inputs():
    for model, rate in ((JAN, 0.01), (JUN, 0.01), (OCT, 0.03)):
        behaviour = BEHAVIOURS[model]
        failed = sum(behaviours.fails(prompt(model, f"q{i}"), behaviour) for i in range(4000))
        assert rate * 0.5 <= failed / 4000 <= rate * 1.5


def test_failure_depends_on_model_and_messages_not_on_response_format():
    behaviour = Behaviour(failure_rate=0.5)
    for i in range(50):
        text = f"q{i}"
        as_text = behaviours.fails(prompt(FAST, text), behaviour)
        assert as_text == behaviours.fails(prompt(FAST, text, fmt="json_object"), behaviour)


@pytest.mark.parametrize(("status", "retry_after"), [(503, "1"), (429, "1"), (500, None)], ids=str)
def test_failure_status_and_retry_after(sim, monkeypatch, status, retry_after):
    monkeypatch.setitem(BEHAVIOURS, FLAKY, Behaviour(failure_rate=1.0, failure_status=status))
    response = post(sim, body(FLAKY, "hello"))
    error = assert_openai_error(response, status)
    assert "simulated" in error["message"]
    assert response.get("Retry-After") == retry_after


def test_the_seeded_flaky_model_always_fails_with_503(sim):
    for i in range(5):
        response = post(sim, body(FLAKY, f"attempt {i}"))
        assert_openai_error(response, 503)
        assert response["Retry-After"] == "1"


def test_behaviour_rejects_bad_settings():
    for bad in (
        {"failure_rate": 1.5},
        {"refusal_rate": -0.1},
        {"failure_status": 404},
        {"latency_ms": -1},
        {"verbosity": "loud"},
        {"tone": "rude"},
    ):
        with pytest.raises(ValueError):
            Behaviour(**bad)


# --- Determinism ----------------------------------------------------------------------------


def test_the_same_input_gets_a_byte_identical_body(sim, settings):
    settings.SIMULATOR_LATENCY_SCALE = 0.01  # jitter included, still deterministic
    for model in (JAN, JUN, OCT):
        payload = body(model, TICKET, SUPPORT_PROMPT)
        first, second = post(sim, payload), post(sim, payload)
        assert first.status_code == second.status_code
        assert first.content == second.content


def test_a_different_model_gets_a_different_answer(sim, steady):
    jan = content_of(post(sim, body(JAN, TICKET, SUPPORT_PROMPT)))
    oct_ = content_of(post(sim, body(OCT, TICKET, SUPPORT_PROMPT)))
    assert jan != oct_
    differ = sum(
        content_of(post(sim, body(JAN, f"Ticket {i}: {TICKET}", SUPPORT_PROMPT)))
        != content_of(post(sim, body(JUN, f"Ticket {i}: {TICKET}", SUPPORT_PROMPT)))
        for i in range(20)
    )
    assert differ >= 15  # same tone and verbosity, so only the seeded wording differs


def test_latency_is_base_plus_a_deterministic_jitter():
    behaviour = Behaviour(latency_ms=300, latency_jitter_ms=100)
    delays = [behaviours.latency_ms(prompt(FAST, f"q{i}"), behaviour) for i in range(200)]
    assert all(300 <= d <= 400 for d in delays)
    assert len(set(delays)) > 20
    assert delays == [behaviours.latency_ms(prompt(FAST, f"q{i}"), behaviour) for i in range(200)]


def test_latency_is_scaled_by_the_setting(sim, settings, monkeypatch):
    monkeypatch.setitem(BEHAVIOURS, "sim-slow-2025-01-01", Behaviour(latency_ms=10_000))
    settings.SIMULATOR_LATENCY_SCALE = 0.02  # 200 ms
    started = time.monotonic()
    assert post(sim, body("sim-slow-2025-01-01", "hi")).status_code == 200
    assert 0.2 <= time.monotonic() - started < 5


# --- Streaming ------------------------------------------------------------------------------


def stream(payload: dict) -> tuple[object, list[str]]:
    """POST through the async test client and split the SSE body into its data payloads."""

    async def go():
        client = AsyncClient()
        response = await client.post(URL, json.dumps(payload), content_type="application/json")
        raw = b"".join([part async for part in response.streaming_content])
        return response, raw

    response, raw = async_to_sync(go)()
    text = raw.decode()
    assert text.endswith("\n\n")
    events = text.split("\n\n")[:-1]
    assert all(event.startswith("data: ") for event in events)
    return response, [event.removeprefix("data: ") for event in events]


def joined(events: list[str]) -> tuple[str, list[dict]]:
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    return text, chunks


@pytest.mark.parametrize("model", [JAN, OCT, FAST])
def test_a_stream_concatenates_to_the_non_streamed_content(sim, steady, model):
    payload = body(model, TICKET, SUMMARY_PROMPT)
    plain = post(sim, payload).json()
    response, events = stream({**payload, "stream": True})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    text, chunks = joined(events)
    assert text == plain["choices"][0]["message"]["content"]
    assert len(chunks) > 3
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert {c["id"] for c in chunks} == {plain["id"]}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])


def test_a_stream_can_end_with_usage(sim):
    payload = body(FAST, TICKET, stream=True, stream_options={"include_usage": True})
    _response, events = stream(payload)
    _text, chunks = joined(events)
    assert chunks[-1]["choices"] == []
    plain = post(sim, body(FAST, TICKET)).json()
    assert chunks[-1]["usage"] == plain["usage"]


def test_a_failing_stream_is_a_plain_json_error(sim):
    response = post(sim, body(FLAKY, "hi", stream=True))
    assert_openai_error(response, 503)


def test_max_tokens_cuts_the_answer_and_says_length(sim):
    full = content_of(post(sim, body(FAST, TICKET, SUPPORT_PROMPT)))
    cut = post(sim, body(FAST, TICKET, SUPPORT_PROMPT, max_tokens=10)).json()
    content = cut["choices"][0]["message"]["content"]
    assert cut["choices"][0]["finish_reason"] == "length"
    assert full.startswith(content) and len(content.split()) == 7
    assert cut["usage"]["completion_tokens"] <= 10
    _response, events = stream(body(FAST, TICKET, SUPPORT_PROMPT, max_tokens=10, stream=True))
    text, chunks = joined(events)
    assert text == content
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    roomy = post(sim, body(FAST, TICKET, SUPPORT_PROMPT, max_completion_tokens=10_000)).json()
    assert roomy["choices"][0]["finish_reason"] == "stop"


def test_pieces_always_join_back_to_the_text():
    for text in ("", " ", "a", " lead and trail ", "line\nbreak\n\n", "tabs\tand  doubles  "):
        assert "".join(behaviours.pieces(text)) == text


# --- Bad input ------------------------------------------------------------------------------

OK_MESSAGES = [{"role": "user", "content": "hi"}]


def with_fields(**fields) -> dict:
    return {"model": FAST, "messages": OK_MESSAGES, **fields}


def with_message(**message) -> dict:
    return {"model": FAST, "messages": [message]}


def deep_list(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


DEEP_BODY = b'{"model": "m", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize(
    ("payload", "status", "param"),
    [
        (b"{not json", 400, None),
        (b"", 400, None),
        (b"\xff\xfe", 400, None),
        (b"[]", 400, None),
        (b'{"model": "sim-fast-2025-01-01", "messages": [], "temperature": NaN}', 400, None),
        (DEEP_BODY, 400, None),
        ({"messages": OK_MESSAGES}, 400, "model"),
        ({"model": 5, "messages": OK_MESSAGES}, 400, "model"),
        ({"model": " ", "messages": OK_MESSAGES}, 400, "model"),
        ({"model": FAST}, 400, "messages"),
        ({"model": FAST, "messages": "hi"}, 400, "messages"),
        ({"model": FAST, "messages": []}, 400, "messages"),
        ({"model": FAST, "messages": ["hi"]}, 400, "messages[0]"),
        (with_message(role="user"), 400, "messages[0].content"),
        (with_message(content="x"), 400, "messages[0].role"),
        (with_message(role="wizard", content="x"), 400, "messages[0].role"),
        (with_message(role="user", content="a\x00b"), 400, "messages[0].content"),
        (with_message(role="user", content=7), 400, "messages[0].content"),
        (with_message(role="user", content=deep_list(500)), 400, "messages[0].content[0]"),
        (with_message(role="user", content={"a": {"b": {}}}), 400, "messages[0].content"),
        (with_fields(temperature="hot"), 400, "temperature"),
        (with_fields(temperature=3), 400, "temperature"),
        (with_fields(max_tokens=0), 400, "max_tokens"),
        (with_fields(max_tokens=True), 400, "max_tokens"),
        (with_fields(max_tokens=1.5), 400, "max_tokens"),
        (with_fields(stream="yes"), 400, "stream"),
        (with_fields(user=42), 400, "user"),
        (with_fields(response_format="json"), 400, "response_format"),
        (with_fields(response_format={"type": "xml"}), 400, "response_format"),
        (with_fields(stream_options=[]), 400, "stream_options"),
    ],
)
def test_bad_input_is_a_4xx_json_error_naming_the_field(sim, payload, status, param):
    error = assert_openai_error(post(sim, payload), status, param)
    if param is None:
        assert "body" in error["message"]


def test_a_lone_surrogate_is_refused_not_crashed_on(sim):
    raw = b'{"model": "sim-fast-2025-01-01", "messages": [{"role": "user", "content": "\\ud800"}]}'
    assert_openai_error(post(sim, raw), 400, "messages[0].content")


def test_an_oversized_body_is_a_413(sim, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    assert_openai_error(post(sim, body(FAST, "x" * 2_000)), 413)


@pytest.mark.parametrize("system", [SUMMARY_PROMPT, SUPPORT_PROMPT, INTENT_PROMPT])
def test_a_huge_message_is_answered_quickly(sim, system):
    # Long whitespace runs once made a phrase-splitting regex quadratic.
    huge = "Refund my invoice" + " " * 1_000_000 + "and the app crashed, " * 20_000
    started = time.monotonic()
    response = post(sim, body(FAST, huge, system))
    assert response.status_code == 200
    assert response.json()["usage"]["prompt_tokens"] > 60_000  # the whole prompt is counted
    assert time.monotonic() - started < 3


def test_optional_fields_and_extra_keys_are_accepted(sim):
    payload = body(
        FAST,
        "hi",
        temperature=0.7,
        max_tokens=50,
        user="someone",
        stream=False,
        response_format={"type": "text"},
        n=1,
        seed=3,
    )
    payload["messages"].insert(0, {"role": "assistant", "content": None, "tool_calls": []})
    assert post(sim, payload).status_code == 200


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


# The `sim` fixture only sets settings and builds a client, so sharing it across examples is safe.
fuzz = hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@given(messages=json_values, extra=st.dictionaries(st.text(max_size=20), json_values, max_size=4))
@fuzz
def test_no_json_input_gets_a_server_error(sim, messages, extra):
    response = post(sim, {**extra, "model": FAST, "messages": messages})
    assert response.status_code in (200, 400), response.content
    assert "error" in response.json() or response.json()["object"] == "chat.completion"


@given(text=st.text())
@fuzz
def test_any_user_text_gets_an_answer_or_a_400(sim, text):
    response = post(sim, body(FAST, text, SUMMARY_PROMPT))
    if "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        assert_openai_error(response, 400, "messages[1].content")
    else:
        assert isinstance(content_of(response), str)


# --- Over real HTTP (uvicorn) ---------------------------------------------------------------


@pytest.fixture
def live(settings, live_url) -> str:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
    settings.SIMULATOR_ENABLED = True
    settings.SIMULATOR_LATENCY_SCALE = 0
    return live_url


@pytest.fixture(scope="module")
def live_url():
    """The project's ASGI app under uvicorn on a free port, in a background thread."""
    from rollout_site.asgi import application

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(application, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/simulator/v1"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def test_slow_requests_overlap_under_uvicorn(live, settings, monkeypatch):
    settings.SIMULATOR_LATENCY_SCALE = 1
    monkeypatch.setitem(BEHAVIOURS, "sim-slow-2025-01-01", Behaviour(latency_ms=500))
    count = 40

    async def run() -> list[int]:
        limits = httpx.Limits(max_connections=count)
        async with httpx.AsyncClient(base_url=live, limits=limits, timeout=30) as client:
            calls = [
                client.post("/chat/completions", json=body("sim-slow-2025-01-01", f"q{i}"))
                for i in range(count)
            ]
            return [r.status_code for r in await asyncio.gather(*calls)]

    started = time.monotonic()
    statuses = asyncio.run(run())
    assert statuses == [200] * count
    # One after another this would take 20 s; awaited sleeps overlap.
    assert time.monotonic() - started < 8


def test_streaming_over_real_http(live):
    payload = body(FAST, TICKET, SUPPORT_PROMPT)
    with httpx.Client(base_url=live, timeout=30) as client:
        plain = client.post("/chat/completions", json=payload).json()
        with client.stream("POST", "/chat/completions", json={**payload, "stream": True}) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            lines = [line for line in resp.iter_lines() if line]
    events = [line.removeprefix("data: ") for line in lines]
    text, _chunks = joined(events)
    assert text == plain["choices"][0]["message"]["content"]
