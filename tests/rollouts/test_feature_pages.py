"""The dashboard and the feature page: needs-me per role, active rollouts, the feature's
timeline with filters and CSV, "as of", the request-id lookup, rollback and revert."""

import csv
import io
import json
from datetime import timedelta

import pytest

from comparisons.models import ShadowPair
from registry.models import AuditEvent, Feature, RequestLog, Rollout
from registry.services import registry
from registry.services.audit import db_now
from rollouts.models import Stage
from rollouts.services import rollouts
from rollouts.services.promotion import rollout_promote
from tests.gates import pass_gate

URL = "/features/support-reply/"


@pytest.fixture
def canary(shadow_rollout, admin_user) -> Rollout:
    rollout_promote(rollout=shadow_rollout, actor=admin_user, note="go", override_reason="test")
    shadow_rollout.refresh_from_db()
    return shadow_rollout


def _ready(rollout: Rollout) -> None:
    """The active stage ran its minimum duration and needs no more samples."""
    Stage.objects.filter(rollout=rollout, status="active").update(
        started=db_now() - timedelta(days=2), min_samples=0
    )


# --- dashboard ---------------------------------------------------------------------------------


def test_a_release_manager_sees_the_approval_waiting_once_the_stage_is_ready(client_for, canary):
    html = client_for("release").get("/").content.decode()
    assert "time:" in html and "left of the stage" in html  # waits for time first
    assert "approval to promote" not in html
    _ready(canary)
    page = client_for("release").get("/")
    needs = [n.text for n in page.context["needs"]]
    assert needs == ["support-reply → support v2: approval to promote to 5%"]
    assert "active-rollouts" in page.content.decode()


def test_a_reviewer_sees_pairs_to_review_and_no_approvals(client_for, canary, make_pair):
    _ready(canary)
    make_pair(candidate="A different answer.")
    page = client_for("reviewer").get("/")
    assert [n.text for n in page.context["needs"]] == ["1 pair to review"]
    assert [n.url for n in page.context["needs"]] == ["/review/"]


def test_a_viewer_needs_nothing_but_sees_the_active_rollouts(client_for, canary):
    _ready(canary)
    page = client_for("viewer").get("/")
    assert page.context["needs"] == []
    html = page.content.decode()
    assert "Nothing waits for you" in html
    assert "approval to promote to 5%" in html  # what the rollout waits for, for everyone


def test_a_blocked_gate_needs_a_release_manager(client_for, feature, make_config, make_version):
    from evaluations.models import Gate

    rollout = rollouts.rollout_create(
        feature=feature, candidate=make_config("v2", make_version("gpt-4o-2024-11-20")), actor=None
    )
    pass_gate(rollout)
    Gate.objects.filter(rollout=rollout).update(verdict=Gate.Verdict.BLOCKED)
    needs = client_for("release").get("/").context["needs"]
    assert [n.text for n in needs] == [
        "support-reply → v2: a new candidate: the gate blocked this one"
    ]
    assert client_for("reviewer").get("/").context["needs"] == []


def test_the_two_person_rule_tells_the_starter_another_approver_is_needed(
    client_for, feature, make_config, make_version, release, admin_user
):
    Feature.objects.filter(pk=feature.pk).update(two_person_rule=True)
    rollout = rollouts.rollout_create(
        feature=feature,
        candidate=make_config("v2", make_version("gpt-4o-2024-11-20")),
        actor=release,
    )
    pass_gate(rollout)
    rollout = rollouts.rollout_start_shadow(rollout=rollout, actor=release)
    _ready(rollout)
    needs = client_for("release").get("/").context["needs"]
    assert [n.text for n in needs] == [
        "support-reply → v2: waits for another release manager (two-person rule)"
    ]


# --- timeline, filters and CSV ------------------------------------------------------------------


@pytest.fixture
def history(feature, make_config, release):
    registry.feature_switch_config(
        feature=feature, config=make_config("v2"), actor=release, reason="tone"
    )
    registry.feature_switch_config(
        feature=feature, config=make_config("v3"), actor=None, reason="cost"
    )
    return list(AuditEvent.objects.filter(feature_key=feature.key).order_by("id"))


def test_the_timeline_reads_in_sentences_with_the_ledger_event_ids(client_for, history):
    html = client_for("viewer").get(URL).content.decode()
    assert "release changed the served config of" in html and "<q>tone</q>" in html
    for event in history:
        assert f'id="event-{event.pk}"' in html


def test_the_timeline_filters_by_actor_kind_and_dates(client_for, history):
    client = client_for("viewer")
    by_actor = client.get(URL, {"actor": "release"}).context["rows"]
    assert [e.reason for e, _ in by_actor] == ["tone"]
    by_kind = client.get(URL, {"kind": "feature"}).context["rows"]
    assert len(by_kind) == 3  # create + two switches
    assert client.get(URL, {"kind": "rollout"}).context["rows"] == []
    today = db_now().date()
    assert len(client.get(URL, {"since": today.isoformat()}).context["rows"]) == 3
    assert client.get(URL, {"until": (today - timedelta(days=1)).isoformat()}).context["rows"] == []


def test_bad_filters_are_named_and_never_a_500(client_for, history):
    page = client_for("viewer").get(URL, {"since": "yesterday", "kind": "nope"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "since: &#x27;yesterday&#x27; is not a date" in html
    assert "kind: &#x27;nope&#x27; is not one of" in html


def test_the_timeline_partial_answers_htmx(client_for, history):
    page = client_for("viewer").get(
        URL, {"part": "timeline", "actor": "release"}, headers={"HX-Request": "true"}
    )
    html = page.content.decode()
    assert "<html" not in html and 'id="timeline-events"' in html and "tone" in html


def test_the_timeline_csv_parses_with_json_columns(client_for, history):
    response = client_for("viewer").get(URL, {"format": "csv", "actor": "release"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    after = json.loads(rows[0]["after"])
    assert after["served_config"] == history[1].after["served_config"]
    assert rows[0]["sentence"].startswith("release changed the served config of support-reply")
    assert "'" not in rows[0]["before"][:1]  # JSON text as is, not a Python repr


# --- as of, request lookup ----------------------------------------------------------------------


def test_as_of_answers_from_the_ledger_with_percentages(client_for, canary):
    change = canary.feature.serving_changes.order_by("-effective").first()
    at = change.effective.isoformat()
    page = client_for("viewer").get(URL, {"as_of": at})
    served = page.context["as_of"]
    assert [(s.config.name, s.percent) for s in served.shares] == [
        ("support v1", 99.0),
        ("support v2", 1.0),
    ]
    assert f"#{change.event_id}" in page.content.decode()
    bad = client_for("viewer").get(URL, {"as_of": "soon"})
    assert "as_of: &#x27;soon&#x27; is not an ISO 8601 timestamp" in bad.content.decode()


def test_the_request_lookup_names_the_config_and_links_the_pair(client_for, make_pair):
    pair = make_pair(candidate="Another answer.")
    page = client_for("viewer").get(URL, {"request": pair.request_key})
    html = page.content.decode()
    assert "was served by" in html and "support v1" in html
    assert f"/pairs/{pair.code}/" in html


def test_a_purged_log_is_still_answered_through_its_pair(client_for, make_pair):
    pair = make_pair(candidate="Another answer.")
    ShadowPair.objects.filter(pk=pair.pk).update(request=None)
    RequestLog.objects.filter(request_id=pair.request_key).delete()
    answer = client_for("viewer").get(URL, {"request": pair.request_key}).context["lookup"]
    assert answer.found and answer.config.name == "support v1" and answer.pair == pair


def test_an_unknown_request_is_said_plainly(client_for, feature):
    html = client_for("viewer").get(URL, {"request": "nope-123"}).content.decode()
    assert "request: no request <code>nope-123</code>" in html


# --- rollback and revert ------------------------------------------------------------------------


@pytest.mark.parametrize("who,shown", [("viewer", False), ("reviewer", False), ("release", True)])
def test_only_release_managers_see_the_rollback(client_for, canary, who, shown):
    assert ("Roll back now" in client_for(who).get(URL).content.decode()) is shown
    assert (
        "Roll back" in client_for(who).get("/rollouts/").content.decode().split("<tbody>")[1]
    ) is shown


def test_no_rollback_button_on_a_draft(client_for, feature, make_config, make_version):
    rollouts.rollout_create(
        feature=feature, candidate=make_config("v2", make_version("gpt-4o-2024-11-20")), actor=None
    )
    assert "Roll back now" not in client_for("release").get(URL).content.decode()
    assert (
        "Roll back"
        not in client_for("release").get("/rollouts/").content.decode().split("<tbody>")[1]
    )


def test_a_forged_rollback_by_a_reviewer_is_refused(client_for, canary):
    response = client_for("reviewer").post(
        f"{URL}rollback/", {"rollout": str(canary.code), "reason": "x"}
    )
    assert response.status_code == 403
    canary.refresh_from_db()
    assert canary.status == "canary" and canary.candidate_bp == 100


def test_a_release_manager_rolls_back_from_the_feature_page(client_for, canary):
    client = client_for("release")
    missing = client.post(
        f"{URL}rollback/", {"rollout": str(canary.code), "reason": ""}, follow=True
    )
    assert "reason: Say why you roll back" in missing.content.decode()
    done = client.post(
        f"{URL}rollback/", {"rollout": str(canary.code), "reason": "errors"}, follow=True
    )
    canary.refresh_from_db()
    assert canary.status == "rolled_back"
    assert done.context["split"].text == "100% gpt-4o-2024-05-13"


def test_revert_to_previous_while_pinned(client_for, feature, make_config):
    registry.feature_switch_config(
        feature=feature, config=make_config("v2"), actor=None, reason="x"
    )
    feature.refresh_from_db()
    client = client_for("release")
    assert "Revert to previous" in client.get(URL).content.decode()
    assert "Revert to previous" not in client_for("reviewer").get(URL).content.decode()
    assert (
        client_for("reviewer")
        .post(f"{URL}revert/", {"served": str(feature.served_config.code), "reason": "x"})
        .status_code
        == 403
    )
    stale = client.post(f"{URL}revert/", {"served": "0" * 32, "reason": "x"}, follow=True)
    assert "served: the served config changed" in stale.content.decode()
    client.post(
        f"{URL}revert/", {"served": str(feature.served_config.code), "reason": "v2 is worse"}
    )
    feature.refresh_from_db()
    assert feature.served_config.name == "support v1"


def test_get_on_the_write_urls_is_refused(client_for, canary):
    assert client_for("release").get(f"{URL}rollback/").status_code == 405
    assert client_for("release").get(f"{URL}revert/").status_code == 405
