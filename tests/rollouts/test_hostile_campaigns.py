"""Hostile input to the campaign and golden-case pages: a 4xx or the form again naming the
field, never a 500; readers cannot write."""

import uuid

import pytest

from evaluations.models import Case
from registry.models import ModelVersion
from rollouts.models import Campaign
from tests.gates import make_suite


@pytest.mark.parametrize(
    "query", ["?from=x", "?from=" + "1" * 5000, f"?from={uuid.uuid4()}", "?from=%00"]
)
def test_the_new_campaign_page_takes_any_from(client_for, feature, query):
    assert client_for("release").get(f"/campaigns/new/{query}").status_code == 200


@pytest.mark.parametrize(
    "data,field",
    [
        ({"from_version": "x", "to_version": "y", "stale_days": "7"}, "from_version"),
        ({"from_version": str(uuid.uuid4()), "stale_days": "7"}, "from_version"),
        ({"stale_days": "10" * 30}, "stale_days"),
        ({"deadline": "99999-01-01", "stale_days": "7"}, "deadline"),
        ({"name": "a\x00", "stale_days": "7"}, "name"),
    ],
)
def test_a_bad_campaign_form_names_the_field(client_for, feature, data, field):
    response = client_for("release").post("/campaigns/new/", data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Campaign.objects.exists()


def test_a_campaign_to_the_same_version_is_refused(client_for, feature):
    version = feature.served_config.model_version
    data = {"from_version": version.code, "to_version": version.code, "stale_days": "7"}
    response = client_for("release").post("/campaigns/new/", data)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Campaign.objects.exists()


@pytest.mark.parametrize("role", ["viewer", "reviewer"])
def test_readers_cannot_start_a_campaign_or_build_cases(client_for, feature, role):
    client = client_for(role)
    assert client.post("/campaigns/new/", {}).status_code == 403
    assert client.post(f"/features/{feature.key}/golden/", {}).status_code == 403
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    "path", ["/campaigns/not-a-uuid/", f"/campaigns/{uuid.uuid4()}/", "/features/nope/golden/"]
)
def test_unknown_campaigns_and_features_are_404(client_for, path):
    assert client_for("release").get(path).status_code == 404


@pytest.mark.parametrize(
    "data,field",
    [
        ({"start": "x", "end": "y", "size": "5"}, "start"),
        ({"start": "2025-01-01", "end": "2025-01-02", "size": "10" * 30}, "size"),
        ({"start": "2025-01-01", "end": "2025-01-02", "size": "0"}, "size"),
        ({"start": "2025-01-01", "end": "2025-01-02", "size": "5", "suite": "x"}, "suite"),
        (
            {"start": "2025-01-01", "end": "2025-01-02", "size": "5", "suite": str(uuid.uuid4())},
            "suite",
        ),
    ],
)
def test_a_bad_traffic_form_names_the_field(client_for, feature, data, field):
    make_suite(feature, cases=[("a", "format", False)])
    response = client_for("release").post(f"/features/{feature.key}/golden/", data)
    assert response.status_code == 200
    assert field in response.context["form"].errors


def test_cases_from_traffic_into_a_suite_of_another_feature_are_refused(
    client_for, feature, make_config, make_version
):
    from registry.services import registry

    other = registry.feature_create(
        key="other",
        name="Other",
        served_config=make_config("o", make_version("o-2024-01-01")),
        actor=None,
    )
    foreign = make_suite(other, "foreign", cases=[("a", "format", False)])
    make_suite(feature, cases=[("b", "format", False)])
    data = {
        "start": "2025-01-01",
        "end": "2025-01-02",
        "size": "5",
        "suite": str(foreign.code),
        "action": "create",
    }
    response = client_for("release").post(f"/features/{feature.key}/golden/", data)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert Case.objects.filter(suite=foreign).count() == 1
    assert ModelVersion.objects.exists()
