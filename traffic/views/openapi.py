"""The API's OpenAPI 3.1 description, built from the same JSON schemas the API validates with."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from traffic.ingest import MAX_BATCH, RECORD
from traffic.views.apiauth import MAX_BODY_BYTES

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "field": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}


def _resp(description: str, schema: dict | None = None) -> dict:
    out: dict = {"description": description}
    if schema:
        out["content"] = {"application/json": {"schema": schema}}
    return out


ERRORS = {
    "400": _resp("Bad input; `field` names what to fix", ERROR),
    "401": _resp("Missing or invalid API token", ERROR),
    "403": _resp("The token is not scoped to this feature", ERROR),
    "404": _resp("Unknown feature, request or rollout", ERROR),
}
KEY = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}


def build_schema() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Rollout Desk application API",
            "version": "1",
            "description": (
                f"Bodies are JSON, at most {MAX_BODY_BYTES} bytes (413 above), at most 32 levels "
                "deep, without NUL characters. Authenticate with `Authorization: Bearer rdk_...`."
            ),
        },
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR, "IngestRecord": RECORD},
        },
        "security": [{"token": []}],
        "paths": {
            "/api/v1/features/{key}/assignment": {
                "get": {
                    "summary": "Which config serves this unit now (sticky)",
                    "parameters": [
                        KEY,
                        {
                            "name": "unit",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "maxLength": 200},
                        },
                    ],
                    "responses": {
                        "200": _resp("The assignment; ETag for If-None-Match"),
                        "304": _resp("Unchanged"),
                        **ERRORS,
                    },
                }
            },
            "/api/v1/features/{key}/served": {
                "get": {
                    "summary": "Which config(s) served the feature at an instant",
                    "parameters": [
                        KEY,
                        {
                            "name": "at",
                            "in": "query",
                            "schema": {"type": "string", "format": "date-time"},
                        },
                    ],
                    "responses": {"200": _resp("Configs with percentages"), **ERRORS},
                }
            },
            "/api/v1/ingest": {
                "post": {
                    "summary": f"Report production calls: one record or up to {MAX_BATCH} as "
                    "{records: [...]}, all stored or none; duplicate request ids are idempotent",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/IngestRecord"},
                                        {
                                            "type": "object",
                                            "properties": {
                                                "records": {
                                                    "type": "array",
                                                    "maxItems": MAX_BATCH,
                                                    "items": {
                                                        "$ref": "#/components/schemas/IngestRecord"
                                                    },
                                                }
                                            },
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _resp("Stored"),
                        "200": _resp("All duplicates"),
                        "413": _resp("Body too large", ERROR),
                        "415": _resp("Not JSON", ERROR),
                        "422": _resp("Config does not match", ERROR),
                        **ERRORS,
                    },
                }
            },
            "/api/v1/feedback": {
                "post": {
                    "summary": "End-user feedback on a request: thumbs up/down or a 1-5 score",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["feature", "request_id"],
                                    "properties": {
                                        "feature": {"type": "string"},
                                        "request_id": {"type": "string"},
                                        "thumbs": {"enum": ["up", "down"]},
                                        "score": {"type": "integer", "minimum": 1, "maximum": 5},
                                        "comment": {"type": "string", "maxLength": 5000},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {"201": _resp("Stored"), **ERRORS},
                }
            },
            "/api/v1/rollouts/{code}": {
                "get": {
                    "summary": "A rollout's state",
                    "parameters": [
                        {
                            "name": "code",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "format": "uuid"},
                        }
                    ],
                    "responses": {"200": _resp("The rollout"), **ERRORS},
                }
            },
            "/api/v1/rollouts/{code}/rollback": {
                "post": {
                    "summary": "Roll back at once (signed-in release manager, with a reason)",
                    "parameters": [
                        {
                            "name": "code",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "format": "uuid"},
                        }
                    ],
                    "responses": {
                        "200": _resp("Rolled back"),
                        "409": _resp("Not active", ERROR),
                        **ERRORS,
                    },
                }
            },
            "/v1/chat/completions": {
                "post": {
                    "summary": "OpenAI-compatible gateway: `model` is the feature key, `user` the "
                    "unit; `metadata` fills the prompt template's variables",
                    "responses": {
                        "200": _resp("The provider's chat.completion (or SSE stream)"),
                        **ERRORS,
                    },
                }
            },
        },
    }


@require_GET
def schema(request: HttpRequest) -> JsonResponse:
    return JsonResponse(build_schema())
