from datetime import timedelta

import pytest

from registry.services import registry
from registry.services.serving import served_at


@pytest.fixture
def history(feature, make_config):
    """Three configs served in turn; returns [(config, effective instant), ...]."""
    steps = [(feature.served_config, feature.serving_changes.get().effective)]
    for name in ("v2", "v3"):
        config = make_config(name)
        registry.feature_switch_config(feature=feature, config=config, actor=None, reason=name)
        steps.append((config, feature.serving_changes.order_by("-id").first().effective))
    return steps


def _served_names(feature, when):
    return [
        (s.config.name, s.percent, s.variant) for s in served_at(feature=feature, when=when).shares
    ]


def test_each_instant_is_answered_by_the_change_in_force(feature, history):
    micro = timedelta(microseconds=1)
    for index, (config, effective) in enumerate(history):
        # Exactly at a change the new config serves; a moment before, the previous one did.
        assert _served_names(feature, effective) == [(config.name, 100.0, "baseline")]
        assert _served_names(feature, effective + timedelta(milliseconds=1)) == [
            (config.name, 100.0, "baseline")
        ]
        if index:
            before = history[index - 1][0]
            assert _served_names(feature, effective - micro) == [(before.name, 100.0, "baseline")]


def test_nothing_served_before_the_feature_existed(feature, history):
    first = history[0][1]
    result = served_at(feature=feature, when=first - timedelta(days=1))
    assert result.shares == []
    assert result.as_json()["configs"] == []


@pytest.fixture
def api(client_for):
    return client_for("viewer")


def test_the_api_answers_with_configs_and_percentages(api, feature, history):
    config, effective = history[1]
    response = api.get(f"/api/v1/features/{feature.key}/served", {"at": effective.isoformat()})
    assert response.status_code == 200
    body = response.json()
    assert body["feature"] == "support-reply"
    assert body["configs"] == [
        {
            "config": str(config.code),
            "config_name": "v2",
            "model_version": "gpt-4o-2024-08-06",
            "provider": "OpenAI",
            "variant": "baseline",
            "percent": 100.0,
        }
    ]
    assert body["since"] == effective.isoformat()


def test_the_api_accepts_a_plus_offset_that_arrived_as_a_space(api, feature, history):
    _config, effective = history[2]
    shifted = effective.astimezone(__import__("datetime").timezone(timedelta(hours=2)))
    raw = shifted.isoformat().replace("+", " ")
    response = api.get(f"/api/v1/features/{feature.key}/served?at={raw}")
    assert response.status_code == 200
    assert response.json()["configs"][0]["config_name"] == "v3"


def test_without_at_the_api_answers_for_now(api, feature, history):
    assert (
        api.get(f"/api/v1/features/{feature.key}/served").json()["configs"][0]["config_name"]
        == "v3"
    )


@pytest.mark.parametrize("raw", ["yesterday", "2026-13-01T00:00:00Z", "", "0001-01-01T00:00+05:00"])
def test_a_bad_timestamp_is_a_400_naming_the_field(api, feature, raw):
    response = api.get(f"/api/v1/features/{feature.key}/served", {"at": raw})
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "at"
    assert "2026-11-25T14:30:00Z" in body["error"]


def test_an_unknown_feature_is_a_404(api, db):
    response = api.get("/api/v1/features/nope/served")
    assert response.status_code == 404
    assert "nope" in response.json()["error"]


def test_an_anonymous_caller_gets_a_401_in_json(client, feature):
    response = client.get(f"/api/v1/features/{feature.key}/served")
    assert response.status_code == 401
    assert "error" in response.json()


def test_the_audit_page_answers_what_served_a_feature(client_for, feature, history):
    _config, effective = history[1]
    page = client_for("reviewer").get(
        "/audit/served/",
        {"feature": feature.key, "at": effective.isoformat()},
        headers={"HX-Request": "true"},
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert "<html" not in html  # only the fragment for htmx
    assert "v2" in html and "100.0%" in html
    bad = client_for("reviewer").get("/audit/served/", {"feature": feature.key, "at": "soon"})
    assert "is not an ISO 8601 timestamp" in bad.content.decode()
