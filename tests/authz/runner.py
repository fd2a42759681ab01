"""Sending one cell of the matrix and reading what came back."""

import json
import re
from typing import Any

from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from .symbols import LOGIN, OK, Row
from .world import World

WRITE_SQL = re.compile(r'^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)
SIGN_IN_PAGES = ("/login/", "/admin/login/")


def fill(value: Any, fmt: dict[str, str]) -> Any:
    """The row's URL or body with the world's {placeholders} filled in."""
    if isinstance(value, str):
        return value.format(**fmt)
    if isinstance(value, dict):
        return {k: fill(v, fmt) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, fmt) for v in value]
    return value


def send(
    world: World, row: Row, actor: str, *, client: Client | None = None, **headers: str
) -> tuple[HttpResponse, set[str]]:
    """The response, and the tables the request wrote (INSERT, UPDATE, DELETE)."""
    client = client or world.client(actor)
    url = fill(row.url, world.fmt)
    headers = {**world.headers(actor), **headers}
    with override_settings(**row.settings), CaptureQueriesContext(connection) as captured:
        if row.json is not None:
            body = json.dumps(fill(row.json, world.fmt))
            response = client.generic(
                row.method, url, body, content_type="application/json", headers=headers
            )
        elif row.method == "GET":
            response = client.get(url, headers=headers)
        else:
            response = client.post(url, fill(dict(row.data or {}), world.fmt), headers=headers)
        if getattr(response, "streaming", False):
            # An export queries while it streams: read it whole inside the capture.
            response.streamed = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    written = {m.group(2) for q in captured.captured_queries if (m := WRITE_SQL.match(q["sql"]))}
    return response, written


def outcome(response: HttpResponse) -> str:
    status = response.status_code
    location = response.get("Location", "")
    # Sent to sign in, to come back afterwards (a sign-out's redirect to the page is just OK).
    if status in (301, 302, 303) and location.startswith(SIGN_IN_PAGES) and "next=" in location:
        return LOGIN
    if 200 <= status < 400:
        return OK
    return str(status)


def describe(row: Row, actor: str, response: HttpResponse) -> str:
    location = response.get("Location", "")
    body = b"" if getattr(response, "streaming", False) else response.content[:300]
    return f"{row.id} as {actor}: {response.status_code} {location} {body!r}"


def assert_api_error_shape(response: HttpResponse) -> None:
    """Every refusal under /api/ is JSON {code, message}, never a page."""
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body.get("code"), str) and isinstance(body.get("message"), str), body
