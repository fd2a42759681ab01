"""A scripted OpenAI-compatible provider on a real port (uvicorn in a thread), for faults the
simulator does not make: error events mid-stream, streams that stall, calls that hang.

`respond(body, n)` gets the n-th request's JSON body (1-based) and returns the steps to play:
  bytes  -> one chunk of a server-sent event stream (headers go out with the first one)
  float  -> a pause in seconds, cut short if the caller hangs up
  dict   -> a complete JSON answer (HTTP 200), ending the response
"""

import asyncio
import json
import threading
import time
from collections.abc import Callable

import uvicorn

from tests.live import free_port

Step = bytes | float | dict


def completion(text: str, *, completion_tokens: int = 4) -> dict:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 0,
        "model": "stub",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 7,
            "completion_tokens": completion_tokens,
            "total_tokens": 7 + completion_tokens,
        },
    }


def delta(content: str, finish_reason: str | None = None) -> bytes:
    choice = {"index": 0, "delta": {"content": content}, "finish_reason": finish_reason}
    return b"data: " + json.dumps({"object": "chat.completion.chunk", "choices": [choice]}).encode()


def event(payload: bytes | dict) -> bytes:
    data = payload if isinstance(payload, bytes) else b"data: " + json.dumps(payload).encode()
    return data + b"\n\n"


class StubProvider:
    def __init__(self, respond: Callable[[dict, int], list[Step]]) -> None:
        self.respond = respond
        self.requests: list[dict] = []
        self.hung_up = threading.Event()  # a caller went away while a response was playing
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            interface="asgi3",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def app(self, scope, receive, send) -> None:
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests.append(json.loads(raw or b"{}"))
        steps = self.respond(self.requests[-1], len(self.requests))
        gone = asyncio.ensure_future(receive())  # the next message can only be a disconnect
        started = False
        try:
            for step in steps:
                if isinstance(step, float | int) and not isinstance(step, bool):
                    await asyncio.wait({gone}, timeout=float(step))
                    if gone.done():
                        self.hung_up.set()
                        return
                elif isinstance(step, bytes):
                    if not started:
                        await send(
                            {
                                "type": "http.response.start",
                                "status": 200,
                                "headers": [(b"content-type", b"text/event-stream")],
                            }
                        )
                        started = True
                    await send({"type": "http.response.body", "body": step, "more_body": True})
                elif isinstance(step, dict):
                    body = json.dumps(step).encode()
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [(b"content-type", b"application/json")],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
            if started:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.cancel()

    def __enter__(self) -> "StubProvider":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the stub provider did not start within 10 s")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
