"""The gateway's cells (traffic/gateway/app.py, an ASGI app outside Django's URLs): no token, a
revoked token, a signed-in browser's cookie or another feature's token is refused with an
OpenAI-shaped JSON error before any provider call; /v1/models lists only the token's features.
Called in process through the project's ASGI entry point, on the world's routing table."""

import asyncio
import json

import httpx
import pytest
from django.conf import settings as django_settings

from traffic.gateway.app import gateway_routes
from traffic.routing import current_table

from .symbols import ACTORS, ADMIN, ANON, OTHER_TOKEN, RELEASE, REVOKED_TOKEN, TOKEN, VIEWER
from .world import World, authz_world  # noqa: F401 - the module's world fixture

CHAT = {"model": "support-reply", "messages": [{"role": "user", "content": "Where is my parcel?"}]}

# What each actor gets asking for feature A's completion. The right token passes every check
# and would call the provider: its success is tests/rollouts/test_gateway.py's, over real HTTP.
CHAT_CELLS = {
    ANON: 401,
    VIEWER: 401,  # a session cookie is not a credential here
    RELEASE: 401,
    ADMIN: 401,
    OTHER_TOKEN: 403,
    REVOKED_TOKEN: 401,
}
MODELS_CELLS = {
    **dict.fromkeys((ANON, VIEWER, RELEASE, ADMIN, REVOKED_TOKEN), (401, None)),
    TOKEN: (200, ["support-reply"]),
    OTHER_TOKEN: (200, ["ticket-summary"]),
}


def test_the_matrix_declares_every_gateway_path():
    from .matrix import GATEWAY_PATHS

    assert set(gateway_routes()) == set(GATEWAY_PATHS)
    assert set(CHAT_CELLS) | {TOKEN} <= set(ACTORS) and set(MODELS_CELLS) <= set(ACTORS)


def _call(world: World, actor: str, method: str, path: str, body: dict | None) -> httpx.Response:
    from rollout_site.asgi import application

    headers = dict(world.headers(actor))
    if actor in world.sessions:
        headers["Cookie"] = f"{django_settings.SESSION_COOKIE_NAME}={world.sessions[actor]}"

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            content = json.dumps(body).encode() if body is not None else None
            return await client.request(method, path, content=content, headers=headers)

    return asyncio.run(go())


@pytest.fixture
def routed(authz_world, db, settings):  # noqa: F811
    """The routing table loaded here, on this test's connection, and kept fresh for the call
    (the gateway reads it without a query)."""
    settings.ROUTING_REFRESH_SECONDS = 3600
    current_table()
    return authz_world


def _openai_error(response: httpx.Response, world: World) -> dict:
    body = response.json()
    assert set(body) == {"error"} and {"message", "type"} <= set(body["error"]), body
    for plaintext in world.tokens.values():  # the presented token is never echoed
        assert plaintext not in response.text and plaintext[:12] not in response.text
    return body["error"]


@pytest.mark.parametrize(("actor", "status"), CHAT_CELLS.items())
def test_a_completion_is_refused_without_a_token_of_the_feature(routed, actor, status):
    from registry.models import RequestLog
    from traffic.gateway.recorder import stats

    queued = stats()["buffered"]
    response = _call(routed, actor, "POST", "/v1/chat/completions", CHAT)
    assert response.status_code == status, response.text
    error = _openai_error(response, routed)
    if status == 403:
        assert error["param"] == "model"
    assert stats()["buffered"] == queued  # nothing recorded for a refused call
    assert not RequestLog.objects.filter(source="gateway").exists()


def test_a_token_asking_for_a_feature_that_does_not_exist_learns_only_that(routed):
    response = _call(routed, TOKEN, "POST", "/v1/chat/completions", {**CHAT, "model": "nope"})
    assert response.status_code == 404
    assert _openai_error(response, routed)["param"] == "model"


@pytest.mark.parametrize(("actor", "expected"), MODELS_CELLS.items())
def test_models_lists_only_the_tokens_features(routed, actor, expected):
    status, models = expected
    response = _call(routed, actor, "GET", "/v1/models", None)
    assert response.status_code == status, response.text
    if models is None:
        _openai_error(response, routed)
    else:
        assert [m["id"] for m in response.json()["data"]] == models
