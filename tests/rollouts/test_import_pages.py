"""Import and offline comparisons through the pages and the API: permissions, the two-step
upload, POST /api/v1/rollouts/<code>/pairs, and that an offline comparison is never routed."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from comparisons.batches import ImportBatch
from comparisons.models import ShadowPair
from comparisons.services.offline import offline_comparison_create
from registry.models import AuditEvent, Rollout
from rollouts.services import rollouts
from tests.comparisons.import_corpus import realistic_records
from traffic.routing import current_table, invalidate_local

from .conftest import bearer


@pytest.fixture
def offline(feature, candidate):
    made = offline_comparison_create(
        feature=feature,
        baseline=feature.served_config,
        candidate=candidate,
        actor=None,
        name="support: 4o May vs August",
    )
    invalidate_local()
    return made


def _jsonl(records) -> bytes:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()


def _url(rollout) -> str:
    return f"/api/v1/rollouts/{rollout.code}/pairs"


# --- offline comparisons ---------------------------------------------------------------------


def test_an_offline_comparison_is_never_routed(client_for, offline, feature, token_for):
    route = current_table().routes[feature.key]
    assert route.rollout_id is None and route.candidate is None and not route.shadowing
    response = client_for("viewer").get(
        f"/api/v1/features/{feature.key}/assignment?unit=u1", headers=bearer(token_for(feature))
    )
    assert response.status_code == 200
    assert response.json()["config"] == str(feature.served_config.code)
    # No transition takes it live.
    with pytest.raises(rollouts.DomainError):
        rollouts.rollout_start_shadow(rollout=offline, actor=None)
    offline.refresh_from_db()
    assert offline.status == Rollout.Status.OFFLINE


def test_pages_label_it_an_offline_comparison(client_for, offline):
    client = client_for("release")
    assert "offline comparison" in client.get("/rollouts/").content.decode()
    page = client.get(f"/rollouts/{offline.code}/").content.decode()
    assert "offline comparison" in page and "support: 4o May vs August" in page


def test_a_release_manager_creates_one_from_the_page(client_for, feature, candidate):
    response = client_for("release").post(
        "/rollouts/offline/new/",
        {
            "name": "two candidates",
            "feature": feature.key,
            "baseline": feature.served_config.pk,
            "candidate": candidate.pk,
            "review_sample_percent": 100,
            "double_review_percent": 10,
        },
    )
    rollout = Rollout.objects.get(status=Rollout.Status.OFFLINE)
    assert response.status_code == 302 and str(rollout.code) in response["Location"]
    assert AuditEvent.objects.filter(action="offline_comparison.create").exists()


# --- the upload page -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["viewer", "reviewer"])
def test_only_release_managers_import_or_replay(client_for, offline, who):
    client = client_for(who)
    for url in (
        f"/rollouts/{offline.code}/import/",
        f"/rollouts/{offline.code}/replay/",
        "/rollouts/offline/new/",
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/rollouts/{offline.code}/import/confirm/").status_code == 403


def test_upload_previews_then_confirm_creates(client_for, offline):
    client = client_for("release")
    upload = SimpleUploadedFile("pairs.jsonl", _jsonl(realistic_records()))
    response = client.post(f"/rollouts/{offline.code}/import/", {"file": upload})
    page = response.content.decode()
    assert response.status_code == 200 and "Import 3 pairs" in page
    assert not ShadowPair.objects.exists()  # a preview writes no pair
    batch = ImportBatch.objects.get(status="pending")
    response = client.post(f"/rollouts/{offline.code}/import/confirm/", {"batch": batch.code})
    assert response.status_code == 302
    assert ShadowPair.objects.filter(rollout=offline).count() == 3
    batch.refresh_from_db()
    assert batch.status == "imported" and batch.staged is None and batch.pairs == 3
    # A second confirm of the same token creates nothing more.
    client.post(f"/rollouts/{offline.code}/import/confirm/", {"batch": batch.code})
    assert ShadowPair.objects.count() == 3


def test_upload_with_a_bad_line_shows_the_line_and_creates_nothing(client_for, offline):
    records = realistic_records()
    records[1]["candidate_model"] = 7
    upload = SimpleUploadedFile("pairs.jsonl", _jsonl(records))
    page = client_for("release").post(f"/rollouts/{offline.code}/import/", {"file": upload})
    text = page.content.decode()
    assert "Nothing will be imported" in text and "line 2" in text and "candidate_model" in text
    assert not ImportBatch.objects.exists() and not ShadowPair.objects.exists()


# --- the API ---------------------------------------------------------------------------------


def test_the_api_imports_with_a_token(client, offline, feature, token_for):
    response = client.post(
        _url(offline),
        {"records": realistic_records()},
        content_type="application/json",
        headers=bearer(token_for(feature)),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["records"], body["pairs"], body["unpinned"]) == (3, 3, 0)
    assert ImportBatch.objects.get().actor_label == "token:app"


def test_the_api_names_records_i_field_and_imports_nothing(client, offline, feature, token_for):
    records = realistic_records()
    del records[2]["baseline_output"]
    response = client.post(
        _url(offline),
        {"records": records},
        content_type="application/json",
        headers=bearer(token_for(feature)),
    )
    assert response.status_code == 400
    assert response.json()["field"] == "records[2].baseline_output"
    assert not ShadowPair.objects.exists()


def test_the_api_needs_a_token_and_the_feature(
    client, client_for, offline, feature, other_feature, token_for
):
    body = {"records": realistic_records()}
    assert client.post(_url(offline), body, content_type="application/json").status_code == 401
    session = client_for("release").post(_url(offline), body, content_type="application/json")
    assert session.status_code == 403 and session.json()["code"] == "token_required"
    other = client.post(
        _url(offline),
        body,
        content_type="application/json",
        headers=bearer(token_for(other_feature)),
    )
    assert other.status_code == 404
    assert not ShadowPair.objects.exists()


def test_the_openapi_record_is_the_one_the_import_validates_with(client, db):
    from comparisons.services.importing import PAIR_RECORD

    schema = client.get("/api/v1/openapi.json").json()
    assert schema["components"]["schemas"]["PairRecord"] == json.loads(json.dumps(PAIR_RECORD))
    assert "/api/v1/rollouts/{code}/pairs" in schema["paths"]
