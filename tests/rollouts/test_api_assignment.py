"""GET /api/v1/features/<key>/assignment and the sticky, monotonic unit assignment behind it."""

import math
import random
from dataclasses import replace

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from registry.services import registry
from rollouts.services.rollouts import (
    rollout_create,
    rollout_rollback,
    rollout_start_shadow,
)
from tests.gates import pass_gate
from tests.stages import serve_candidate
from traffic.assignment import (
    BASELINE,
    BUCKETS,
    CANDIDATE,
    ConfigView,
    ProviderView,
    Route,
    bucket,
    seed_for,
)
from traffic.redaction import redactor_for
from traffic.routing import current_table, invalidate_local

from .conftest import bearer


def _url(key: str) -> str:
    return f"/api/v1/features/{key}/assignment"


def _units(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"user-{rng.getrandbits(64):016x}" for _ in range(n)]


@pytest.fixture
def api(client_for):
    return client_for("viewer")


@pytest.fixture
def rollout(feature, candidate):
    made = rollout_create(feature=feature, candidate=candidate, actor=None)
    pass_gate(made)
    rollout_start_shadow(rollout=made, actor=None)
    invalidate_local()
    return made


def _canary(rollout, percent: float):
    serve_candidate(rollout, percent)
    invalidate_local()


def _variants(api, key: str, units: list[str]) -> dict[str, str]:
    out = {}
    for unit in units:
        response = api.get(_url(key), {"unit": unit})
        assert response.status_code == 200
        out[unit] = response.json()["variant"]
    return out


# --- the response ----------------------------------------------------------------------------


def test_the_assignment_says_which_config_to_run(api, feature):
    response = api.get(_url(feature.key), {"unit": "user-42"})
    assert response.status_code == 200
    body = response.json()
    config = feature.served_config
    assert body == {
        "feature": "support-reply",
        "unit": "user-42",
        "variant": "baseline",
        "config": str(config.code),
        "config_name": "support v1",
        "model_version": "gpt-4o-2024-05-13",
        "provider": {
            "name": "OpenAI",
            "api_style": "openai_chat",
            "base_url": "https://api.openai.com/v1",
        },
        "prompt_template": "You help {customer}.",
        "parameters": {},
        "rollout": None,
    }
    assert response["ETag"].startswith('"') and response["ETag"].endswith('"')
    assert "no-cache" in response["Cache-Control"]


def test_a_token_holder_is_not_shown_the_providers_url(feature, token_for):
    response = Client().get(
        _url(feature.key), {"unit": "user-42"}, headers=bearer(token_for(feature))
    )
    assert response.status_code == 200
    assert response.json()["provider"] == {"name": "OpenAI", "api_style": "openai_chat"}
    assert "api.openai.com" not in response.content.decode()
    assert "OPENAI_API_KEY" not in response.content.decode()


def test_a_unit_in_a_full_canary_gets_the_candidate_with_its_parameters(
    api, feature, candidate, rollout
):
    _canary(rollout, 100)
    body = api.get(_url(feature.key), {"unit": "user-42"}).json()
    assert body["variant"] == "candidate"
    assert body["config"] == str(candidate.code)
    assert body["config_name"] == "support v2"
    assert body["model_version"] == "gpt-4o-2024-08-06"
    assert body["prompt_template"] == "You answer {customer} kindly."
    assert body["parameters"] == {"temperature": 0.3, "max_tokens": 256}
    assert body["rollout"] == {"status": "canary"}


def test_in_shadow_every_unit_is_served_the_baseline(api, feature, rollout):
    variants = _variants(api, feature.key, _units(100, seed=1))
    assert set(variants.values()) == {"baseline"}
    body = api.get(_url(feature.key), {"unit": "u"}).json()
    assert body["rollout"] == {"status": "shadow"}


def test_if_none_match_gives_304_until_the_assignment_changes(api, feature, rollout):
    first = api.get(_url(feature.key), {"unit": "user-1"})
    etag = first["ETag"]
    again = api.get(_url(feature.key), {"unit": "user-1"}, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    other = api.get(_url(feature.key), {"unit": "user-1"}, headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200

    _canary(rollout, 100)
    changed = api.get(_url(feature.key), {"unit": "user-1"}, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["variant"] == "candidate"
    assert changed["ETag"] != etag


@pytest.mark.parametrize(
    "query",
    [{}, {"unit": ""}, {"unit": "x" * 201}, {"unit": "a\x00b"}],
    ids=["missing", "empty", "201 chars", "NUL"],
)
def test_a_missing_or_bad_unit_is_a_400_naming_unit(api, feature, query):
    response = api.get(_url(feature.key), query)
    assert response.status_code == 400
    assert response.json()["field"] == "unit"


def test_a_unit_of_200_characters_is_fine(api, feature):
    assert api.get(_url(feature.key), {"unit": "x" * 200}).status_code == 200


def test_an_unknown_feature_is_a_404(api, feature):
    response = api.get(_url("no-such-feature"), {"unit": "u"})
    assert response.status_code == 404
    assert response.json()["field"] == "key"


def test_a_feature_created_after_the_table_was_built_is_found(
    api, feature, make_config, make_version, settings
):
    settings.ROUTING_REFRESH_SECONDS = 0
    assert api.get(_url("new-feature"), {"unit": "u"}).status_code == 404
    registry.feature_create(
        key="new-feature",
        name="New",
        served_config=make_config("new", make_version("gpt-4o-2024-11-20")),
        actor=None,
    )  # no local invalidation: the database generation tells the process
    assert api.get(_url("new-feature"), {"unit": "u"}).status_code == 200


# --- stickiness and monotonicity through the API ----------------------------------------------


def test_assignment_is_sticky_and_only_grows_with_the_canary(api, feature, rollout):
    units = _units(400, seed=7)
    previous: set[str] = set()
    for percent in (1, 5, 25, 50, 100):
        _canary(rollout, percent)
        variants = _variants(api, feature.key, units)
        in_candidate = {u for u, v in variants.items() if v == "candidate"}
        assert previous <= in_candidate, f"units left the candidate at {percent}%"
        # Asking again gives the same answer (sticky).
        assert _variants(api, feature.key, units[:50]) == {u: variants[u] for u in units[:50]}
        previous = in_candidate
    assert previous == set(units)


def test_canary_share_through_the_service_is_close_to_the_percentage(feature, rollout):
    _canary(rollout, 25)
    route = current_table().routes[feature.key]
    units = _units(2000, seed=11)
    share = sum(route.choose(u)[0] == CANDIDATE for u in units) / len(units)
    # The feature's salt is random per run: allow 5 standard deviations (±4.8 points).
    assert abs(share - 0.25) <= 5 * math.sqrt(0.25 * 0.75 / len(units))


def test_after_a_rollback_every_unit_gets_the_baseline(api, feature, rollout, release):
    _canary(rollout, 50)
    units = _units(200, seed=3)
    during = _variants(api, feature.key, units)
    assert "candidate" in during.values()
    etag_during = api.get(_url(feature.key), {"unit": units[0]})["ETag"]

    rollout_rollback(rollout=rollout, actor=release, reason="error rate up")
    invalidate_local()
    after = _variants(api, feature.key, units)
    assert set(after.values()) == {"baseline"}
    body = api.get(_url(feature.key), {"unit": units[0]}).json()
    assert body["config"] == str(feature.served_config.code)
    assert body["rollout"] is None
    assert api.get(_url(feature.key), {"unit": units[0]})["ETag"] != etag_during


def test_features_assign_independently(api, feature, other_feature, rollout, make_config):
    other_candidate = make_config("summary v2")
    other_rollout = rollout_create(feature=other_feature, candidate=other_candidate, actor=None)
    pass_gate(other_rollout)
    rollout_start_shadow(rollout=other_rollout, actor=None)
    _canary(other_rollout, 50)
    _canary(rollout, 50)
    table = current_table()
    a, b = table.routes[feature.key], table.routes[other_feature.key]
    assert a.seed != b.seed
    units = _units(2000, seed=5)
    both = sum(a.choose(u)[0] == CANDIDATE and b.choose(u)[0] == CANDIDATE for u in units)
    # Independent halves overlap on a quarter of the units (5 sd: ±4.8 points); the same salt
    # would give a half.
    assert abs(both / len(units) - 0.25) <= 5 * math.sqrt(0.25 * 0.75 / len(units))


# --- the decision path is in memory -----------------------------------------------------------


def test_warm_decisions_make_no_database_query(
    feature, rollout, django_assert_num_queries, settings
):
    _canary(rollout, 10)
    settings.ROUTING_REFRESH_SECONDS = 3600
    current_table()  # warm-up: the one query for the generation, and the load
    units = _units(500, seed=9)
    with django_assert_num_queries(0):
        chosen = [current_table().routes[feature.key].choose(u) for u in units]
    assert {variant for variant, _config in chosen} == {BASELINE, CANDIDATE}


def test_a_warm_token_request_makes_no_database_query(
    client, feature, token_for, django_assert_num_queries, settings
):
    settings.ROUTING_REFRESH_SECONDS = 3600
    headers = bearer(token_for(feature))
    assert client.get(_url(feature.key), {"unit": "warm"}, headers=headers).status_code == 200
    with django_assert_num_queries(0):
        for n in range(20):
            response = client.get(_url(feature.key), {"unit": f"u{n}"}, headers=headers)
            assert response.status_code == 200


def test_the_table_is_refreshed_when_the_generation_moves(api, feature, rollout, settings):
    """Another process's change (no local invalidation) shows once the refresh interval passed."""
    settings.ROUTING_REFRESH_SECONDS = 0
    assert api.get(_url(feature.key), {"unit": "u"}).json()["variant"] == "baseline"
    serve_candidate(rollout, 100)
    assert api.get(_url(feature.key), {"unit": "u"}).json()["variant"] == "candidate"


# --- the pure decision (Route.choose) ---------------------------------------------------------


def _config(n: int) -> ConfigView:
    return ConfigView(
        id=n,
        code=f"00000000-0000-0000-0000-00000000000{n}",
        name=f"config {n}",
        model_id=f"model-{n}",
        model_version_code="",
        provider=ProviderView(
            name="p",
            api_style="openai_chat",
            base_url="https://example.test",
            api_key_env="K",
            timeout=10.0,
            is_simulator=False,
        ),
        system_prompt="",
        params={},
    )


BASE_VIEW, CAND_VIEW = _config(1), _config(2)


def _route(salt: str, bp: int) -> Route:
    return Route(
        feature_id=1,
        feature_key="f",
        seed=seed_for(salt),
        baseline=BASE_VIEW,
        candidate=CAND_VIEW,
        candidate_bp=bp,
        rollout_id=1,
        rollout_status="canary",
        shadowing=True,
        etag="e",
        redactor=redactor_for(emails=False, phones=False, cards=False, custom=[]),
    )


units = st.text(min_size=1, max_size=200)
salts = st.text(alphabet="0123456789abcdef", min_size=16, max_size=16)


@hyp_settings(max_examples=300, deadline=None)
@given(salt=salts, unit=units, p=st.integers(0, BUCKETS), q=st.integers(0, BUCKETS))
def test_a_unit_in_the_candidate_stays_there_as_the_canary_grows(salt, unit, p, q):
    low, high = sorted((p, q))
    variant_low, config_low = _route(salt, low).choose(unit)
    variant_high, _ = _route(salt, high).choose(unit)
    if variant_low == CANDIDATE:
        assert variant_high == CANDIDATE
    # The variant and the config agree.
    assert config_low is (CAND_VIEW if variant_low == CANDIDATE else BASE_VIEW)


@hyp_settings(max_examples=300, deadline=None)
@given(salt=salts, unit=units, bp=st.integers(0, BUCKETS))
def test_the_decision_is_a_pure_function_of_salt_unit_and_share(salt, unit, bp):
    route = _route(salt, bp)
    first = route.choose(unit)
    assert route.choose(unit) == first
    assert _route(salt, bp).choose(unit) == first
    # The candidate serves exactly the buckets below the share.
    assert (first[0] == CANDIDATE) == (bucket(seed_for(salt), unit) < bp)


@hyp_settings(max_examples=100, deadline=None)
@given(salt=salts, unit=units)
def test_no_share_means_baseline_and_a_full_share_means_candidate(salt, unit):
    assert _route(salt, 0).choose(unit)[0] == BASELINE
    assert _route(salt, BUCKETS).choose(unit)[0] == CANDIDATE
    no_candidate = replace(_route(salt, BUCKETS), candidate=None, candidate_bp=0)
    assert no_candidate.choose(unit) == (BASELINE, BASE_VIEW)


SHARE_UNITS = _units(5000, seed=2024)


@pytest.mark.parametrize("salt", ["9f2c4e1a7b3d5f60", "0a1b2c3d4e5f6a7b", "support-reply"])
@pytest.mark.parametrize("percent", [5, 25, 50])
def test_the_candidate_share_is_within_one_and_a_half_points(salt, percent):
    """Fixed salts and units, so the check is reproducible: ±1.5 points over 5,000 units is
    only ~2.1 standard deviations at 50%, too tight to draw fresh random units every run."""
    route = _route(salt, percent * 100)
    share = sum(route.choose(u)[0] == CANDIDATE for u in SHARE_UNITS) / len(SHARE_UNITS)
    assert abs(share * 100 - percent) <= 1.5


@hyp_settings(max_examples=30, deadline=None)
@given(salt=salts, percent=st.sampled_from([5, 25, 50]))
def test_the_candidate_share_is_unbiased_for_any_salt(salt, percent):
    units = SHARE_UNITS[:2000]
    share = sum(_route(salt, percent * 100).choose(u)[0] == CANDIDATE for u in units) / len(units)
    p = percent / 100
    assert abs(share - p) <= 5 * math.sqrt(p * (1 - p) / len(units))


@hyp_settings(max_examples=30, deadline=None)
@given(a=salts, b=salts)
def test_different_salts_assign_independently(a, b):
    if a == b:
        return
    units = SHARE_UNITS[:2000]
    ra, rb = _route(a, 5000), _route(b, 5000)
    both = sum(ra.choose(u)[0] == CANDIDATE and rb.choose(u)[0] == CANDIDATE for u in units)
    agree = sum(ra.choose(u)[0] == rb.choose(u)[0] for u in units)
    sd = math.sqrt(0.25 * 0.75 / len(units))
    assert abs(both / len(units) - 0.25) <= 5 * sd
    assert abs(agree / len(units) - 0.5) <= 5 * math.sqrt(0.25 / len(units))
