"""The record format of imported pairs (POST /api/v1/rollouts/<code>/pairs, and the JSONL and
CSV files of the import page and command): one JSON Schema, validated against by
comparisons/services/importing.py and published by traffic/views/openapi.py. It lives here, with
the API's other contracts, so the OpenAPI description uses it without importing the layer above.
"""

from typing import Any

from traffic.requestids import MAX_LENGTH, PATTERN

MAX_API_RECORDS = 200  # per API call (and the 5 MB body limit)
MAX_TEXT = 200_000  # characters per output or message
_TEXT = {"type": "string", "maxLength": MAX_TEXT}
# Bounded by what the columns hold (a PositiveIntegerField is 32-bit on PostgreSQL) and by
# ingest's rule for latencies (at most a day): a larger number is a 400, never a 500.
_LATENCY = {"type": ["number", "null"], "minimum": 0, "maximum": 86_400_000}
_TOKENS = {"type": ["integer", "null"], "minimum": 0, "maximum": 2_147_483_647}
_MODEL = {"type": "string", "minLength": 1, "maxLength": 200}
_ERROR = {"type": "string", "maxLength": 300}
# OpenAI's vocabulary (stop, length, tool_calls, content_filter): "length" flags truncation.
_FINISH = {"type": "string", "maxLength": 32}

PAIR_RECORD: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["baseline_output", "baseline_model", "candidate_output", "candidate_model"],
    "oneOf": [{"required": ["input"]}, {"required": ["messages"]}],
    "properties": {
        "request_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_LENGTH,
            "pattern": PATTERN,
        },
        "input": {**_TEXT, "minLength": 1},
        "messages": {
            "type": "array",
            "minItems": 1,
            "maxItems": 200,
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {
                    "role": {"enum": ["system", "user", "assistant", "tool"]},
                    "content": _TEXT,
                },
            },
        },
        "baseline_output": _TEXT,
        "baseline_model": _MODEL,
        "baseline_latency_ms": _LATENCY,
        "baseline_tokens": _TOKENS,
        "baseline_error": _ERROR,
        "baseline_finish_reason": _FINISH,
        "candidate_output": _TEXT,
        "candidate_model": _MODEL,
        "candidate_latency_ms": _LATENCY,
        "candidate_tokens": _TOKENS,
        "candidate_error": _ERROR,
        "candidate_finish_reason": _FINISH,
        "metadata": {"type": "object"},
    },
}
PAIR_BATCH: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["records"],
    "properties": {
        "records": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_API_RECORDS,
            "items": PAIR_RECORD,
        }
    },
}
