"""A scriptable faulty provider: a real HTTP server on loopback that speaks just enough of the
OpenAI chat-completions protocol, and answers each request with the next fault in its script.

    with FaultProvider() as fp:
        fp.script(rate_limited(retry_after=1), ok("hello"))
        ...  # call fp.base_url: the first call gets a 429, its retry "hello"

An empty script answers ok(). Faults: a status with any body and headers (429 with Retry-After,
401/403, quota, 5xx), `hang` (headers, then nothing), `drip` (a valid answer one byte a
second), `reset` (half a body, then a TCP reset). `closed_port()` is a port nobody listens on.
"""

import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def completion(text: str = "hello from the fault provider") -> dict[str, Any]:
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }


@dataclass(frozen=True)
class Fault:
    kind: str  # "status" | "hang" | "drip" | "reset"
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 1.0  # drip: between bytes


def ok(text: str = "hello from the fault provider") -> Fault:
    return Fault("status", 200, json.dumps(completion(text)).encode())


def status(
    http_status: int, message: str = "", headers: dict[str, str] | None = None, **error: str
) -> Fault:
    """Any status with an OpenAI-style error body; `error` adds fields such as type and code."""
    body = {"error": {"message": message or f"simulated {http_status}", **error}}
    body["error"].setdefault("type", "server_error")
    return Fault("status", http_status, json.dumps(body).encode(), headers or {})


def rate_limited(retry_after: float | str = 1) -> Fault:
    return status(
        429,
        "Rate limit reached for requests",
        {"Retry-After": str(retry_after)},
        type="requests",
        code="rate_limit_exceeded",
    )


def quota() -> Fault:
    # OpenAI's wording and shape for an account out of credit: a 429 that no wait will cure.
    return status(
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        type="insufficient_quota",
        code="insufficient_quota",
    )


def bad_key(code: int = 401) -> Fault:
    return status(
        code, "Incorrect API key provided.", type="invalid_request_error", code="invalid_api_key"
    )


def hang() -> Fault:
    return Fault("hang")


def drip(seconds: float = 1.0, text: str = "dripping") -> Fault:
    return Fault("drip", 200, json.dumps(completion(text)).encode(), seconds=seconds)


def reset() -> Fault:
    return Fault("reset", 200, json.dumps(completion("cut short")).encode())


def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet in test output
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        owner = self.server.owner
        fault = owner._next(self.path)
        if fault.kind == "status":
            self._head(fault.status, len(fault.body), fault.headers)
            self.wfile.write(fault.body)
        elif fault.kind == "hang":
            self._head(200, 1000, {})
            self.wfile.flush()
            owner._stopped.wait(30)  # never answers while the test lasts
            self.close_connection = True
        elif fault.kind == "drip":
            self._head(200, len(fault.body), {})
            for i in range(len(fault.body)):
                if owner._stopped.wait(fault.seconds):
                    break
                try:
                    self.wfile.write(fault.body[i : i + 1])
                    self.wfile.flush()
                except OSError:
                    break
            self.close_connection = True
        elif fault.kind == "reset":
            self._head(200, len(fault.body), {})
            self.wfile.write(fault.body[: len(fault.body) // 2])
            self.wfile.flush()
            # SO_LINGER with a zero timeout: close() sends RST, not FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True

    def _head(self, code: int, length: int, headers: dict[str, str]) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: "FaultProvider"


class FaultProvider:
    """The server; `requests` counts what reached it, `times` when (monotonic)."""

    def __init__(self, default: Callable[[], Fault] = ok) -> None:
        self._faults: deque[Fault] = deque()
        self._default = default
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self.requests = 0
        self.times: list[float] = []
        self.paths: list[str] = []
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.owner = self
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def script(self, *faults: Fault) -> "FaultProvider":
        with self._lock:
            self._faults.extend(faults)
        return self

    def always(self, fault: Fault) -> "FaultProvider":
        self._default = lambda: fault
        return self

    def _next(self, path: str) -> Fault:
        with self._lock:
            self.requests += 1
            self.times.append(time.monotonic())
            self.paths.append(path)
            return self._faults.popleft() if self._faults else self._default()

    def __enter__(self) -> "FaultProvider":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self.server.shutdown()
        self.server.server_close()
