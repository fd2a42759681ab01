"""The audit pages: events in sentences with the ledger's event ids, a CSV that parses with JSON
before/after columns, and "what served at T" with an empty time meaning now."""

import csv
import io
import json

import pytest

from registry.models import AuditEvent
from registry.services import registry


@pytest.fixture
def switched(feature, make_config, release):
    registry.feature_switch_config(
        feature=feature, config=make_config("support v2"), actor=release, reason="better tone"
    )
    return AuditEvent.objects.get(action="feature.switch_config")


@pytest.mark.parametrize("who", ["viewer", "reviewer", "release", "admin"])
def test_the_audit_reads_in_sentences_for_everyone(client_for, switched, who):
    html = client_for(who).get("/audit/").content.decode()
    assert "release changed the served config of" in html
    assert '<a href="/features/support-reply/">support-reply</a>' in html
    assert "support v1 (gpt-4o-2024-05-13)" in html


def test_the_audit_no_longer_shows_ids_for_objects(client_for, shadow_rollout):
    html = client_for("viewer").get("/audit/").content.decode()
    rollout = shadow_rollout
    assert f"{rollout.feature_id}: {rollout.baseline_id} → {rollout.candidate_id}" not in html
    assert "support-reply&#x27;s rollout" in html


def test_the_served_answer_cites_the_event_the_audit_shows(client_for, switched):
    served = client_for("viewer").get("/audit/served/", {"feature": "support-reply", "at": ""})
    html = served.content.decode()
    assert "support v2" in html and "audit event <a" in html and f"#{switched.pk}</a>" in html
    listed = client_for("viewer").get("/audit/", {"before": switched.pk + 1}).content.decode()
    assert f'id="event-{switched.pk}"' in listed


def test_an_empty_time_means_now_and_is_shown_back(client_for, switched):
    page = client_for("viewer").get("/audit/served/", {"feature": "support-reply"})
    assert page.context["served"].shares[0].config.name == "support v2"
    assert "T" in page.context["at_raw"] and "+" not in page.context["at_raw"]


def test_an_unknown_feature_is_named(client_for, feature):
    page = client_for("viewer").get("/audit/served/", {"feature": "nope", "at": ""})
    assert "feature: no feature with key &#x27;nope&#x27;" in page.content.decode()


def test_the_csv_parses_with_json_before_and_after(client_for, switched):
    response = client_for("viewer").get("/audit/", {"format": "csv", "action": "feature.switch"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["id"] for r in rows] == [str(switched.pk)]
    row = rows[0]
    assert json.loads(row["before"]) == switched.before
    assert json.loads(row["after"]) == switched.after
    assert row["sentence"].startswith("release changed the served config of support-reply")
    assert row["created"].endswith("+00:00")


def test_a_creation_has_an_empty_before_column(client_for, feature):
    response = client_for("viewer").get("/audit/", {"format": "csv", "action": "feature.create"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0]["before"] == "" and json.loads(rows[0]["after"])["key"] == "support-reply"


def test_the_audit_page_costs_a_fixed_number_of_queries(client_for, feature, make_config):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for("viewer")
    registry.feature_switch_config(feature=feature, config=make_config("a"), actor=None, reason="r")
    with CaptureQueriesContext(connection) as few:
        client.get("/audit/")
    for n in range(10):
        registry.feature_switch_config(
            feature=feature, config=make_config(f"c{n}"), actor=None, reason="r"
        )
    with CaptureQueriesContext(connection) as many:
        client.get("/audit/")
    assert len(many) == len(few)


def test_the_time_pickers_have_a_now_button_and_its_script(client_for, feature):
    for url in ("/audit/", "/audit/served/", "/features/support-reply/"):
        html = client_for("viewer").get(url).content.decode()
        assert 'type="datetime-local"' in html and "data-fill-now" in html
        assert "/static/js/now.js" in html
