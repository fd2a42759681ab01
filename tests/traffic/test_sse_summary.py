"""The stream reader behind the gateway's log of a stream: what it assembles from SSE bytes cut
at arbitrary places, and how it names the way a stream ended."""

import json

import pytest

from traffic.providers.base import ErrorKind, Outcome
from traffic.providers.sse import StreamSummary


def _event(payload: dict | str, *, name: str = "", newline: bytes = b"\n") -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    head = f"event: {name}".encode() + newline if name else b""
    return head + b"data: " + data.encode() + newline + newline


def _delta(content: str | None = None, finish: str | None = None, **extra) -> dict:
    delta = {"content": content} if content is not None else {}
    return {"choices": [{"index": 0, "delta": delta | extra, "finish_reason": finish}]}


STREAM = (
    _event(_delta("", role="assistant"))
    + _event(_delta("Héllo, "))
    + _event(_delta("world"))
    + _event(_delta(finish="stop"))
    + _event({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 3}})
    + _event("[DONE]")
)


def _fed(data: bytes, cuts: list[int]) -> StreamSummary:
    summary = StreamSummary()
    start = 0
    for cut in [*cuts, len(data)]:
        summary.feed(data[start:cut])
        start = cut
    return summary


@pytest.mark.parametrize("size", [1, 2, 7, 64, len(STREAM)])
def test_a_stream_cut_anywhere_is_read_the_same(size):
    # Cuts land inside "data:", inside the JSON, inside a two-byte UTF-8 letter, between \n\n.
    result = _fed(STREAM, list(range(size, len(STREAM), size))).result()
    assert result.ok, result.error
    assert result.output == "Héllo, world"
    assert result.finish_reason == "stop"
    assert (result.prompt_tokens, result.completion_tokens) == (11, 3)


def test_crlf_line_endings_split_between_cr_and_lf():
    data = STREAM.replace(b"\n", b"\r\n")
    cuts = [i + 1 for i in range(len(data)) if data[i : i + 1] == b"\r"]
    result = _fed(data, cuts).result()
    assert result.ok and result.output == "Héllo, world"


def test_an_error_event_is_a_stream_error_keeping_the_text_so_far():
    data = _event(_delta("Partial ")) + _event(
        {"error": {"message": "Rate limit reached mid-stream", "type": "rate_limit"}}
    )
    result = _fed(data, []).result()
    assert result.error_kind == ErrorKind.STREAM_ERROR
    assert "Rate limit reached mid-stream" in result.error
    assert result.output == "Partial "


def test_a_named_error_event_counts_too():
    result = _fed(_event("upstream overloaded", name="error"), []).result()
    assert result.error_kind == ErrorKind.STREAM_ERROR
    assert "upstream overloaded" in result.error


def test_a_stream_that_just_stops_is_not_a_success():
    result = _fed(_event(_delta("Half an ans")), []).result()
    assert result.error_kind == ErrorKind.STREAM_ERROR
    assert result.output == "Half an ans"


def test_the_first_failure_is_the_one_recorded_and_keys_are_scrubbed():
    summary = StreamSummary(secret="sk-live-123")
    summary.feed(_event(_delta("Hi")))
    summary.broke(Outcome(error_kind=ErrorKind.CONNECTION, error="reset, key sk-live-123"))
    summary.client_gone()
    result = summary.result()
    assert result.error_kind == ErrorKind.CONNECTION
    assert "sk-live-123" not in result.error and "[redacted]" in result.error


def test_a_client_leaving_after_the_end_leaves_a_success():
    summary = _fed(STREAM, [])
    summary.client_gone()
    assert summary.result().ok


def test_streamed_tool_calls_are_assembled():
    call = {"index": 0, "id": "call_1", "function": {"name": "refund", "arguments": '{"or'}}
    rest = {"index": 0, "function": {"arguments": 'der": 42}'}}
    data = (
        _event(_delta(tool_calls=[call]))
        + _event(_delta(tool_calls=[rest]))
        + _event(_delta(finish="tool_calls"))
        + _event("[DONE]")
    )
    result = _fed(data, [5, 40]).result()
    assert result.ok and result.finish_reason == "tool_calls"
    assert result.tool_calls == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "refund", "arguments": '{"order": 42}'},
        }
    ]
