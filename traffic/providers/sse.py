"""What a passed-through chat-completions stream said, assembled as its bytes go by.

The gateway relays a provider's server-sent events unchanged; this reads the same bytes to log
the call as it really ended: the text so far, the finish reason and token counts when the
provider sent them, and whether the stream failed (an error event from the provider, a broken
connection or the deadline, or the gateway's own client hanging up).

Bytes arrive in arbitrary pieces (a `data:` line may be split across two reads), so lines are
buffered until complete; nothing here does I/O.
"""

import json
import time
from dataclasses import dataclass, field
from typing import Any

from traffic.providers.base import (
    ERROR_TEXT_LIMIT,
    CallResult,
    ErrorKind,
    Outcome,
    optional_int,
    redact,
)

# A line longer than this without a newline is not SSE; stop buffering it (memory bound).
MAX_LINE = 1024 * 1024


@dataclass
class StreamSummary:
    """Fed every chunk of one stream; `result()` is the CallResult to log for it."""

    secret: str = ""  # the API key, so that error texts can be scrubbed of it
    started: float = field(default_factory=time.monotonic)
    parts: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    done: bool = False  # `data: [DONE]` seen
    error_kind: ErrorKind = ErrorKind.NONE
    error: str = ""
    bytes_seen: int = 0
    _pending: bytes = b""
    _data: list[str] = field(default_factory=list)
    _event: str = ""

    # --- feeding ------------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        self.bytes_seen += len(chunk)
        buffer = self._pending + chunk
        lines = buffer.splitlines(keepends=True)
        # A trailing "\r" may be the first half of "\r\n": wait for the next chunk to know.
        if lines and (not lines[-1].endswith((b"\n", b"\r")) or lines[-1].endswith(b"\r")):
            self._pending = lines.pop()
            if len(self._pending) > MAX_LINE:
                self._pending = b""
        else:
            self._pending = b""
        for line in lines:
            self._line(line.rstrip(b"\r\n").decode("utf-8", "replace"))

    def _line(self, line: str) -> None:
        if not line:
            self._dispatch()
        elif line.startswith(":"):
            return  # a comment (keep-alive)
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value

    def _dispatch(self) -> None:
        data, kind = "\n".join(self._data), self._event
        self._data, self._event = [], ""
        if not data:
            return
        if data == "[DONE]":
            self.done = True
            return
        try:
            payload = json.loads(data)
        except ValueError:
            payload = None
        if kind == "error" or (isinstance(payload, dict) and "error" in payload):
            self._provider_error(payload if isinstance(payload, dict) else {"error": data})
            return
        if isinstance(payload, dict):
            self._chunk(payload)

    def _chunk(self, payload: dict[str, Any]) -> None:
        usage = payload.get("usage")
        if isinstance(usage, dict):
            self.prompt_tokens = optional_int(usage.get("prompt_tokens"))
            self.completion_tokens = optional_int(usage.get("completion_tokens"))
        choices = payload.get("choices")
        if not isinstance(choices, list):
            return
        for choice in choices:
            # One output is logged per request: the first choice's (n > 1 is passed through).
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            if isinstance(choice.get("finish_reason"), str):
                self.finish_reason = choice["finish_reason"]
            delta = choice.get("delta")
            if not isinstance(delta, dict):
                continue
            if isinstance(delta.get("content"), str):
                self.parts.append(delta["content"])
            for call in delta.get("tool_calls") or []:
                if isinstance(call, dict):
                    self._tool_call(call)

    def _tool_call(self, piece: dict[str, Any]) -> None:
        index = piece.get("index", 0)
        call = self.tool_calls.setdefault(
            index if isinstance(index, int) else 0,
            {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
        )
        if isinstance(piece.get("id"), str):
            call["id"] = piece["id"]
        function = piece.get("function")
        if isinstance(function, dict):
            for key in ("name", "arguments"):
                if isinstance(function.get(key), str):
                    call["function"][key] += function[key]

    def _provider_error(self, payload: dict[str, Any]) -> None:
        error = payload.get("error")
        if isinstance(error, dict):
            message = error.get("message") or error.get("type") or json.dumps(error)
        else:
            message = str(error)
        self._fail(
            ErrorKind.STREAM_ERROR, f"The provider sent an error event mid-stream: {message}"
        )

    # --- how it ended -------------------------------------------------------------------------

    def _fail(self, kind: ErrorKind, error: str) -> None:
        if self.error_kind == ErrorKind.NONE:  # the first failure is the cause; later ones follow
            self.error_kind = kind
            self.error = redact(error, secret=self.secret)[:ERROR_TEXT_LIMIT]

    def broke(self, outcome: Outcome) -> None:
        """The connection failed or the deadline passed after the first byte."""
        self._fail(outcome.error_kind, outcome.error)

    def client_gone(self) -> None:
        """The caller hung up; an already finished stream stays a success."""
        if not self.done:
            self._fail(
                ErrorKind.CLIENT_DISCONNECTED,
                f"The client disconnected after {self.bytes_seen} bytes of the stream; "
                "the provider's stream was closed.",
            )

    def result(self, *, status_code: int | None = 200) -> CallResult:
        if self._pending:  # a last line without its line break
            pending, self._pending = self._pending, b""
            self._line(pending.rstrip(b"\r\n").decode("utf-8", "replace"))
        if self._data:
            self._dispatch()  # a last event without its blank line
        if self.error_kind == ErrorKind.NONE and not self.done and self.finish_reason is None:
            self._fail(
                ErrorKind.STREAM_ERROR,
                "The stream ended before the provider said it was finished (no finish reason, "
                "no [DONE]).",
            )
        return CallResult(
            output="".join(self.parts),
            finish_reason=self.finish_reason,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            latency_ms=(time.monotonic() - self.started) * 1000,
            error_kind=self.error_kind,
            error=self.error,
            status_code=status_code,
            attempts=1,
            tool_calls=[self.tool_calls[i] for i in sorted(self.tool_calls)],
            body=None,
        )
