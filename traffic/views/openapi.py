"""The API's OpenAPI 3.1 description, built from the same JSON schemas the API validates with.

The schema is the contract: tests/traffic/test_api_contract.py runs schemathesis against it on a
live server, so a status, body or rule the server has and this file lacks (or the reverse) fails
the fast test tier.
"""

import copy

from django.http import HttpRequest, JsonResponse
from django.urls import NoReverseMatch, reverse

from traffic.ingest import BATCH, MAX_BATCH, RECORD
from traffic.jsonbody import MAX_BODY_BYTES, MAX_DEPTH
from traffic.pairformat import MAX_API_RECORDS, PAIR_BATCH, PAIR_RECORD
from traffic.requestids import MAX_LENGTH, PATTERN
from traffic.views.apiauth import api_methods

REF = "#/components/schemas/"
# Gateway request ids and ingest request ids share one rule (traffic/requestids.py).
REQUEST_ID = {"type": "string", "minLength": 1, "maxLength": MAX_LENGTH, "pattern": PATTERN}
# Text in a query string: Django decodes it, NUL is refused like in bodies.
QUERY_TEXT = "^[^\\u0000]{1,200}$"

FIELD_ERROR = {
    "type": "object",
    "required": ["field", "message"],
    "properties": {
        "field": {"type": "string", "description": "Where: `messages[0].role`, `(body)`"},
        "message": {"type": "string"},
    },
}
ERROR = {
    "type": "object",
    "description": "Every rejection of the /api/v1/ endpoints.",
    "required": ["code", "message"],
    "properties": {
        "code": {
            "type": "string",
            "description": "Stable, for programs: `bad_request`, `unauthenticated`, `forbidden`, "
            "`token_required`, `not_found`, `method_not_allowed`, `conflict`, `body_too_large`, "
            "`unsupported_media_type`, `invalid`, `rate_limited`, `unavailable`",
        },
        "message": {"type": "string", "description": "For people: what is wrong and the fix"},
        "field": {"type": "string", "description": "The field, parameter or header to fix"},
        "errors": {
            "type": "array",
            "description": "Ingest and pair import: every problem found (at most 20)",
            "items": {"$ref": REF + "FieldError"},
        },
        "error_count": {
            "type": "integer",
            "description": "Pair import: how many problems in all",
        },
        "error": {
            "type": "string",
            "deprecated": True,
            "description": "A copy of `message`, for clients of the first version",
        },
    },
}
# The gateway speaks OpenAI's protocol, errors included: OpenAI SDKs read `error.message`.
GATEWAY_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {
                    "type": "string",
                    "description": "`invalid_request_error`, `authentication_error`, "
                    "`permission_error`, `provider_error`, ...",
                },
                "param": {"type": ["string", "null"], "description": "The field to fix"},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
RETRY_AFTER = {
    "description": "Seconds to wait before retrying",
    "schema": {"type": "integer", "minimum": 0},
}


def _resp(description: str, schema: dict | None = None, **extra) -> dict:
    out: dict = {"description": description, **extra}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def _ref(name: str) -> dict:
    return {"$ref": REF + name}


def _err(description: str, **extra) -> dict:
    return _resp(description, _ref("Error"), **extra)


def _gw_err(description: str, **extra) -> dict:
    return _resp(description, _ref("GatewayError"), **extra)


# Every /api/v1/ operation may answer these.
COMMON = {
    "401": _err("Missing, invalid or revoked API token"),
    "429": _err(
        "The token's per-minute rate limit is spent; retry after `Retry-After` seconds",
        headers={"Retry-After": {**RETRY_AFTER, "required": True}},
    ),
    "503": _err(
        "The database is unreachable; retry after `Retry-After` seconds",
        headers={"Retry-After": {**RETRY_AFTER, "required": True}},
    ),
}
BODY_ERRORS = {
    "400": _err("Bad input; `field` names what to fix"),
    "413": _err(f"The body is larger than {MAX_BODY_BYTES} bytes"),
    "415": _err("The body is not sent as `Content-Type: application/json`"),
}


def _json_body(schema: dict, *, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _obj(required: list[str], **properties) -> dict:
    return {"type": "object", "required": required, "properties": properties}


def _documented_record() -> dict:
    """ingest's RECORD, plus what the server checks in code rather than in the schema."""
    record = copy.deepcopy(RECORD)
    started = record["properties"].get("started_at")
    if started is not None:
        started.setdefault("format", "date-time")
    return record


def _documented_pair_batch() -> dict:
    batch = copy.deepcopy(PAIR_BATCH)
    batch["properties"]["records"]["items"] = _ref("PairRecord")
    return batch


def _documented_batch() -> dict:
    batch = copy.deepcopy(BATCH)
    batch["properties"]["records"]["items"] = _ref("IngestRecord")
    return batch


FEATURE_KEY = {
    "name": "key",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]{1,64}$"},
}
ROLLOUT_CODE = {
    "name": "code",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
PROVIDER = _obj(
    ["name", "api_style"],
    name={"type": "string"},
    api_style={"type": "string"},
    base_url={"type": "string", "description": "Only for signed-in people, never for tokens"},
)
ASSIGNMENT = _obj(
    ["feature", "unit", "variant", "config", "model_version", "provider", "parameters"],
    feature={"type": "string"},
    unit={"type": "string"},
    variant={"enum": ["baseline", "candidate"]},
    config={"type": "string", "format": "uuid"},
    config_name={"type": "string"},
    model_version={"type": "string"},
    provider=PROVIDER,
    prompt_template={"type": "string"},
    parameters={"type": "object"},
    rollout={"type": ["object", "null"]},
)
SERVED = _obj(
    ["feature", "at", "configs"],
    feature={"type": "string"},
    at={"type": "string", "format": "date-time"},
    since={"type": ["string", "null"], "format": "date-time"},
    event_id={"type": ["integer", "null"]},
    configs={
        "type": "array",
        "items": _obj(
            ["config", "variant", "percent"],
            config={"type": "string", "format": "uuid"},
            config_name={"type": "string"},
            model_version={"type": "string"},
            provider={"type": "string"},
            variant={"type": "string"},
            percent={"type": "number"},
        ),
    },
)
OUTCOME = _obj(
    ["feature", "request_id", "id", "status"],
    feature={"type": "string"},
    request_id={"type": "string"},
    id={"type": "integer"},
    status={"enum": ["stored", "duplicate"]},
)
OUTCOMES = {"oneOf": [OUTCOME, _obj(["results"], results={"type": "array", "items": OUTCOME})]}
_FEEDBACK_COMMON = {
    "feature": {"type": "string", "pattern": "^[-a-zA-Z0-9_]{1,64}$"},
    "request_id": REQUEST_ID,
    "comment": {"type": "string", "maxLength": 5000},
}
FEEDBACK = {
    "description": "Exactly one of `thumbs` or `score`",
    "oneOf": [
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["feature", "request_id", "thumbs"],
            "properties": {**_FEEDBACK_COMMON, "thumbs": {"enum": ["up", "down"]}},
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["feature", "request_id", "score"],
            "properties": {
                **_FEEDBACK_COMMON,
                "score": {"type": "integer", "minimum": 1, "maximum": 5},
            },
        },
    ],
}
ROLLOUT = _obj(
    ["rollout", "feature", "status", "baseline", "candidate", "candidate_percent"],
    rollout={"type": "string", "format": "uuid"},
    feature={"type": "string"},
    status={"type": "string"},
    baseline={"type": "object"},
    candidate={"type": "object"},
    candidate_percent={"type": "number"},
    shadow_sample_percent={"type": "number"},
    created={"type": "string", "format": "date-time"},
    ended={"type": ["string", "null"], "format": "date-time"},
)
GATE_VERDICT = {"enum": ["running", "passed", "needs_ack", "blocked", "incomplete", "cancelled"]}
GATE_START = {
    **_obj(
        ["feature", "candidate"],
        feature={"type": "string", "pattern": "^[-a-zA-Z0-9_]{1,64}$", "description": "Its key"},
        candidate={"type": "string", "format": "uuid", "description": "The config's code"},
        trials={"type": "integer", "minimum": 1, "maximum": 20, "default": 1},
    ),
}
GATE = _obj(
    ["code", "feature", "verdict", "finished", "baseline_run", "candidate_run", "regressed"],
    code={"type": "string", "format": "uuid"},
    feature={"type": "string"},
    rollout={"type": ["string", "null"], "format": "uuid"},
    verdict=GATE_VERDICT,
    clears={"type": "boolean", "description": "Passed, or needs_ack and acknowledged"},
    created={"type": "string", "format": "date-time"},
    finished={"type": ["string", "null"], "format": "date-time"},
    baseline={"type": "string", "format": "uuid"},
    candidate={"type": "string", "format": "uuid"},
    trials={"type": "integer"},
    baseline_run={"type": ["string", "null"], "description": "The first suite's baseline run"},
    candidate_run={"type": ["string", "null"], "description": "The first suite's candidate run"},
    runs={"type": "array", "items": {"type": "object"}, "description": "Every suite's runs"},
    reasons={"type": "array", "items": {"type": "string"}},
    regressed={
        "type": "array",
        "description": "Cases that block (critical) or regressed, blocking ones first",
        "items": _obj(
            ["case", "suite", "reason"],
            case={"type": "string"},
            suite={"type": "string"},
            reason={"type": "string"},
        ),
    },
    dimensions={
        "type": "array",
        "description": "Per suite and dimension: pass rates, delta and 95% interval in points",
        "items": {"type": "object"},
    },
)
_TEXT_PART = _obj(["type", "text"], type={"const": "text"}, text={"type": "string"})
CHAT_MESSAGE = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": {
            "oneOf": [
                {"type": "string"},
                {"type": "array", "items": _TEXT_PART},
                {"type": "null"},
            ]
        },
        "name": {"type": "string"},
    },
    # Only an assistant turn (one that only made tool calls) may come without text.
    "if": {"properties": {"role": {"not": {"const": "assistant"}}}},
    "then": {
        "required": ["content"],
        "properties": {"content": {"type": ["string", "array"]}},
    },
}
CHAT_REQUEST = {
    "type": "object",
    "description": "OpenAI's chat-completions body. `temperature`, `max_tokens` and "
    "`response_format` are pinned by the served config (a request's own values are ignored); the "
    "pass-through parameters below go to the provider as sent, which judges them (its 4xx is "
    "relayed).",
    "required": ["model", "messages"],
    "properties": {
        "model": {"type": "string", "minLength": 1, "description": "The feature key"},
        "messages": {"type": "array", "minItems": 1, "items": CHAT_MESSAGE},
        "user": {"type": "string", "maxLength": 200, "description": "The unit (sticky key)"},
        "metadata": {
            "type": ["object", "null"],
            "additionalProperties": {"type": "string"},
            "description": "The prompt template's variables",
        },
        "stream": {"type": "boolean"},
        "stream_options": _obj([], include_usage={"type": "boolean"}),
        "stop": {
            "oneOf": [
                {"type": "string"},
                {"type": "array", "maxItems": 4, "items": {"type": "string"}},
            ]
        },
        "seed": {"type": "integer"},
        "n": {"type": "integer", "minimum": 1, "maximum": 1},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "presence_penalty": {"type": "number", "minimum": -2, "maximum": 2},
        "frequency_penalty": {"type": "number", "minimum": -2, "maximum": 2},
        "parallel_tool_calls": {"type": "boolean"},
        "tools": {"type": "array", "items": {"type": "object"}},
        "tool_choice": {
            "oneOf": [{"enum": ["none", "auto", "required"]}, {"type": "object"}],
        },
        "logit_bias": {"type": "object", "additionalProperties": {"type": "number"}},
    },
}
CHAT_COMPLETION = {
    "type": "object",
    "description": "The provider's chat.completion, as OpenAI defines it",
    "required": ["choices"],
    "properties": {"choices": {"type": "array"}, "model": {"type": "string"}},
}


def _gateway_paths() -> dict:
    gateway_common = {
        "401": _gw_err("Missing, invalid or revoked API token"),
        "503": _gw_err(
            "No routing table yet (the database has not been reachable since start)",
            headers={"Retry-After": RETRY_AFTER},
        ),
    }
    return {
        "/v1/chat/completions": {
            "post": {
                "summary": "OpenAI-compatible gateway: `model` is the feature key, `user` the "
                "unit; `metadata` fills the prompt template's variables",
                "parameters": [
                    {
                        "name": "X-Request-Id",
                        "in": "header",
                        "required": False,
                        "description": "Your id for this call (the log key); made up if absent",
                        "schema": REQUEST_ID,
                    }
                ],
                "requestBody": _json_body(CHAT_REQUEST),
                "responses": {
                    "200": {
                        "description": "The provider's answer, or its SSE stream with "
                        "`stream: true`",
                        "headers": {
                            "X-Request-Id": {"schema": {"type": "string"}, "required": True},
                            "X-Rollout-Model-Version": {"schema": {"type": "string"}},
                            "X-Rollout-Variant": {"schema": {"enum": ["baseline", "candidate"]}},
                        },
                        "content": {
                            "application/json": {"schema": CHAT_COMPLETION},
                            # One server-sent event: `data` is a chat.completion.chunk as
                            # JSON text, the last one `[DONE]`.
                            "text/event-stream": {
                                "schema": _obj(["data"], data={"type": "string"})
                            },
                        },
                    },
                    "400": _gw_err("Bad body or `X-Request-Id`; `param` names what to fix"),
                    "403": _gw_err("The token is not scoped to this feature"),
                    "404": _gw_err("No feature with that key (`model`)"),
                    "405": _gw_err("Use POST"),
                    "409": _gw_err("This `X-Request-Id` was already used with another body"),
                    "413": _gw_err(f"The body is larger than {MAX_BODY_BYTES} bytes"),
                    "415": _gw_err("A `Content-Type` other than `application/json`"),
                    "429": _gw_err(
                        "The token's per-minute rate limit (`code` `rate_limited`), or the "
                        "provider's; retry after `Retry-After` seconds",
                        headers={"Retry-After": RETRY_AFTER},
                    ),
                    "4XX": _gw_err("The provider refused the call; its status is relayed"),
                    "502": _gw_err("The provider failed or could not be reached"),
                    "504": _gw_err("The provider gave no complete answer within its timeout"),
                    **gateway_common,
                },
            }
        },
        "/v1/models": {
            "get": {
                "summary": "The features this token may call, as OpenAI model objects",
                "responses": {
                    "200": _resp(
                        "The list",
                        _obj(
                            ["object", "data"],
                            object={"const": "list"},
                            data={
                                "type": "array",
                                "items": _obj(["id", "object"], id={"type": "string"}),
                            },
                        ),
                    ),
                    **gateway_common,
                },
            }
        },
    }


HEALTH = _obj(
    ["status", "database"],
    status={"enum": ["ok", "degraded"]},
    database={"enum": ["ok", "unreachable"]},
    dead_letters=_obj(
        ["total"],
        total={"type": ["integer", "null"]},
        newest={"type": ["string", "null"], "format": "date-time"},
    ),
    recorder={"type": "object", "description": "This process's write-behind buffer"},
)


def _health_path() -> dict:
    """The health endpoint, documented once it is routed."""
    try:
        path = reverse("api_health")
    except NoReverseMatch:
        return {}
    return {
        path: {
            "get": {
                "summary": "Is this process able to serve: database, routing table age, "
                "log backlog and dead letters",
                "security": [],
                "responses": {
                    "200": _resp("Healthy", HEALTH),
                    "503": _resp(
                        "Degraded: the database is unreachable or gateway logs wait to be written",
                        HEALTH,
                        headers={"Retry-After": RETRY_AFTER},
                    ),
                },
            }
        }
    }


def build_schema() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Rollout Desk application API",
            "version": "1",
            "description": (
                f"Bodies are JSON, at most {MAX_BODY_BYTES} bytes (413 above), at most "
                f"{MAX_DEPTH} levels deep, without NUL characters or lone surrogates in any "
                "string (400). Authenticate with `Authorization: Bearer rdk_...`; writes take a "
                "token, a signed-in session may only read. Every rejection of /api/v1/ is an "
                "`Error`; the gateway's are OpenAI-shaped (`GatewayError`)."
            ),
        },
        "components": {
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
            },
            "schemas": {
                "Error": ERROR,
                "FieldError": FIELD_ERROR,
                "GatewayError": GATEWAY_ERROR,
                "IngestRecord": _documented_record(),
                "IngestBatch": _documented_batch(),
                "PairRecord": copy.deepcopy(PAIR_RECORD),
                "PairBatch": _documented_pair_batch(),
            },
        },
        "security": [{"token": []}],
        "paths": {
            "/api/v1/features/{key}/assignment": {
                "get": {
                    "summary": "Which config serves this unit now (sticky)",
                    "parameters": [
                        FEATURE_KEY,
                        {
                            "name": "unit",
                            "in": "query",
                            "required": True,
                            "description": "The user or session key",
                            "schema": {"type": "string", "pattern": QUERY_TEXT},
                        },
                        {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": _resp(
                            "The assignment",
                            ASSIGNMENT,
                            headers={"ETag": {"schema": {"type": "string"}, "required": True}},
                        ),
                        "304": _resp("Unchanged since the ETag sent in If-None-Match"),
                        "400": _err("No unit, or a unit longer than 200 characters"),
                        "403": _err("The token is not scoped to this feature"),
                        "404": _err("No feature with that key"),
                        **COMMON,
                    },
                }
            },
            "/api/v1/features/{key}/served": {
                "get": {
                    "summary": "Which config(s) served the feature at an instant",
                    "parameters": [
                        FEATURE_KEY,
                        {
                            "name": "at",
                            "in": "query",
                            "description": "ISO 8601; no offset means UTC; default now",
                            "schema": {"type": "string", "format": "date-time"},
                        },
                    ],
                    "responses": {
                        "200": _resp("Configs with percentages", SERVED),
                        "400": _err("`at` is not an ISO 8601 instant"),
                        "403": _err("The token is not scoped to this feature"),
                        "404": _err("No feature with that key"),
                        **COMMON,
                    },
                }
            },
            "/api/v1/ingest": {
                "post": {
                    "summary": f"Report production calls: one record or up to {MAX_BATCH} "
                    "as {records: [...]}, all stored or none. The same request id again with "
                    "the same body is idempotent (200, the stored id); with another body, 409.",
                    "requestBody": _json_body(
                        {"oneOf": [_ref("IngestRecord"), _ref("IngestBatch")]}
                    ),
                    "responses": {
                        "201": _resp(
                            "Stored (a record, or `results` in the batch's order)",
                            {
                                "oneOf": [
                                    OUTCOME,
                                    _obj(["results"], results={"type": "array", "items": OUTCOME}),
                                ]
                            },
                        ),
                        "200": _resp(
                            "All duplicates",
                            {
                                "oneOf": [
                                    OUTCOME,
                                    _obj(["results"], results={"type": "array", "items": OUTCOME}),
                                ]
                            },
                        ),
                        **BODY_ERRORS,
                        "403": _err("Not a token, or not scoped to the record's feature"),
                        "404": _err("No feature with that key"),
                        "409": _err("A request id already stored with a different body"),
                        "422": _err("The config or model version does not match the feature"),
                        **COMMON,
                    },
                }
            },
            "/api/v1/feedback": {
                "post": {
                    "summary": "End-user feedback on a request: thumbs up/down or a 1-5 score",
                    "requestBody": _json_body(FEEDBACK),
                    "responses": {
                        "201": _resp(
                            "Stored",
                            _obj(
                                ["id", "request_id", "kind", "value"],
                                id={"type": "integer"},
                                request_id={"type": "string"},
                                kind={"type": "string"},
                                value={"type": "integer"},
                            ),
                        ),
                        **BODY_ERRORS,
                        "403": _err("Not a token, or not scoped to this feature"),
                        "404": _err("No such feature, or no such request of it"),
                        **COMMON,
                    },
                }
            },
            "/api/v1/rollouts/{code}": {
                "get": {
                    "summary": "A rollout's state",
                    "security": [{"token": []}, {"session": []}],
                    "parameters": [ROLLOUT_CODE],
                    "responses": {
                        "200": _resp("The rollout", ROLLOUT),
                        "404": _err("No such rollout (or not of this token's features)"),
                        **COMMON,
                    },
                }
            },
            "/api/v1/rollouts/{code}/rollback": {
                "post": {
                    "summary": "Roll back at once: a signed-in release manager, with a reason "
                    "(send X-CSRFToken); tokens are refused",
                    "security": [{"session": []}],
                    "parameters": [ROLLOUT_CODE],
                    "requestBody": _json_body(
                        _obj(["reason"], reason={"type": "string", "pattern": "\\S"})
                    ),
                    "responses": {
                        "200": _resp("Rolled back", ROLLOUT),
                        **BODY_ERRORS,
                        "403": _err("Not a signed-in release manager (or no CSRF token)"),
                        "404": _err("No such rollout (or not of this token's features)"),
                        "409": _err("The rollout is not active"),
                        **COMMON,
                    },
                }
            },
            "/api/v1/rollouts/{code}/pairs": {
                "post": {
                    "summary": f"Import pairs produced elsewhere into a rollout or an offline "
                    f"comparison: up to {MAX_API_RECORDS} records, all imported or none. A model "
                    "id that is not pinned is imported as is and counted as `unpinned`.",
                    "parameters": [ROLLOUT_CODE],
                    "requestBody": _json_body(_ref("PairBatch")),
                    "responses": {
                        "201": _resp(
                            "Imported: the pairs are scored and queued like shadow pairs",
                            _obj(
                                [
                                    "import",
                                    "rollout",
                                    "records",
                                    "pairs",
                                    "flagged",
                                    "queued",
                                    "unpinned",
                                ],
                                **{"import": {"type": "string", "format": "uuid"}},
                                rollout={"type": "string", "format": "uuid"},
                                records={"type": "integer"},
                                pairs={"type": "integer"},
                                flagged={"type": "integer"},
                                queued={"type": "integer"},
                                unpinned={"type": "integer"},
                            ),
                        ),
                        **BODY_ERRORS,
                        "400": _err(
                            "A record is refused (`field`: `records[i].name`); nothing imported"
                        ),
                        "403": _err("Not a token (a session may not write)"),
                        "404": _err("No such rollout (or not of this token's features)"),
                        "409": _err(
                            "A request id is given twice or already paired in the rollout "
                            "(`field`: `records[i].request_id`), or the rollout has ended; "
                            "nothing imported"
                        ),
                        **COMMON,
                    },
                }
            },
            "/api/v1/gates": {
                "post": {
                    "summary": "Start an eval gate for a feature and a candidate config (a "
                    "deployment pipeline's gate); poll `url` for the verdict. The gate belongs "
                    "to the feature's draft or gate rollout of that candidate, if there is one.",
                    "requestBody": _json_body(GATE_START),
                    "responses": {
                        "202": _resp(
                            "Started: the runs are queued",
                            _obj(
                                ["code", "verdict", "url"],
                                code={"type": "string", "format": "uuid"},
                                verdict={"const": "running"},
                                url={"type": "string"},
                            ),
                        ),
                        **BODY_ERRORS,
                        "403": _err("Not a token, or not scoped to this feature"),
                        "404": _err("No such feature or config"),
                        "409": _err(
                            "The feature has no eval suite with cases, or its rollout's gate "
                            "cannot run again (running, blocked: change the candidate)"
                        ),
                        "422": _err(
                            "The candidate is the feature's baseline, archived, or another "
                            "feature's config"
                        ),
                        **COMMON,
                    },
                }
            },
            "/api/v1/gates/{code}": {
                "get": {
                    "summary": "A gate's verdict and report",
                    "security": [{"token": []}, {"session": []}],
                    "parameters": [{**ROLLOUT_CODE}],
                    "responses": {
                        "200": _resp("The gate", GATE),
                        "404": _err("No such gate (or not of this token's features)"),
                        **COMMON,
                    },
                }
            },
            **_health_path(),
            **_gateway_paths(),
        },
    }


@api_methods("GET")
def schema(request: HttpRequest) -> JsonResponse:
    return JsonResponse(build_schema())
