"""A minimal OpenAI-compatible stub provider for benchmarks: fixed answer, optional delay.

    python bench/stub.py PORT [DELAY_SECONDS]

Raw ASGI under uvicorn, so the stub itself costs as little as possible.
"""

import asyncio
import json
import sys

import uvicorn

ANSWER = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": "stub-model",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "A fixed answer from the stub."},
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 7, "total_tokens": 17},
    }
).encode()
DELAY = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    if DELAY:
        await asyncio.sleep(DELAY)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": ANSWER})


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        lifespan="off",
        backlog=4096,
    )
