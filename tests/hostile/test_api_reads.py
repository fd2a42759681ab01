"""Hostile input for the API's reads (assignment, served, rollout and gate details): hostile
query strings, paths and over-long headers are JSON refusals naming the parameter, never a 500.
The writes are in test_api_inputs.py."""

import pytest

from tests.hostile.world import World, assert_refusal, build_world


@pytest.fixture
def world(feature, shadow_rollout, release, make_config, settings) -> World:
    settings.API_RATE_LIMIT_PER_MINUTE = 0
    return build_world(
        feature=feature, rollout=shadow_rollout, release_user=release, make_config=make_config
    )


# --- the GET operations ------------------------------------------------------------------------


def _get(client, world: World, url: str, **headers):
    return client.get(url, headers={**world.auth, **headers})


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("unit=a%00b", "unit"),
        ("unit=" + "u" * 201, "unit"),
        ("unit=", "unit"),
        ("", "unit"),
    ],
)
def test_a_hostile_unit_is_a_400_naming_it(client, world, query, field):
    response = _get(client, world, f"/api/v1/features/{world.feature.key}/assignment?{query}")
    assert_refusal(response, 400, field=field)


@pytest.mark.parametrize("raw", ["%ED%A0%80", "%FF%FE", "%F0%9F%91%A9%E2%80%8D%F0%9F%92%BB"])
def test_a_unit_of_any_bytes_is_answered_never_a_500(client, world, raw):
    """Django decodes a query string's bytes that are not UTF-8 as U+FFFD: a unit key like any
    other (sticky), not an error; the answer names the unit it used."""
    url = f"/api/v1/features/{world.feature.key}/assignment?unit={raw}"
    first, again = _get(client, world, url), _get(client, world, url)
    assert first.status_code == 200
    assert first.json()["unit"] == again.json()["unit"]
    assert first.json()["variant"] == again.json()["variant"]


@pytest.mark.parametrize(
    "at",
    ["yesterday", "%00", "9" * 5000, "2026-13-45T00:00:00Z", "%ED%A0%80", "1e400", "-1"],
)
def test_a_hostile_instant_is_a_400_naming_at(client, world, at):
    response = _get(client, world, f"/api/v1/features/{world.feature.key}/served?at={at}")
    assert_refusal(response, 400, field="at")


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/features/{key}/assignment?unit=u1",
        "/api/v1/features/{key}/served",
        "/api/v1/rollouts/{rollout}",
        "/api/v1/gates/{rollout}",
    ],
)
def test_over_long_headers_on_reads_are_refused_or_ignored(client, world, url):
    url = url.format(key=world.feature.key, rollout=world.rollout.code)
    huge = {"Authorization": "Bearer " + "x" * 100_000}
    assert_refusal(client.get(url, headers=huge), 401)
    long = {"If-None-Match": '"' + "e" * 10_000 + '"', "Idempotency-Key": "k" * 10_000}
    assert _get(client, world, url, **long).status_code in (200, 404)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/features/%F0%9F%98%80/served",
        "/api/v1/features/" + "k" * 5000 + "/assignment?unit=u",
        "/api/v1/rollouts/not-a-uuid",
        "/api/v1/rollouts/%00",
        "/api/v1/gates/" + "0" * 5000,
    ],
)
def test_hostile_paths_are_json_404s(client, world, url):
    assert_refusal(_get(client, world, url), 404)
