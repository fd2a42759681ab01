"""Upgrade campaigns (rollouts/services/campaigns.py): a rollout per feature served by the old
version, candidate configs that copy each feature's prompt and parameters, parameter rules on a
family change, the readiness matrix, and the pages with their permissions."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from comparisons.models import Label, ShadowPair
from evaluations.models import Gate
from registry.models import AuditEvent, ModelVersion, Provider, Rollout
from registry.services import registry
from rollouts.models import Campaign
from rollouts.services import rollouts
from rollouts.services.campaigns import campaign_create, campaign_matrix
from rollouts.services.readiness import MIN_REVIEW_VERDICTS
from tests.gates import make_suite, pass_gate
from tests.stages import serve_candidate

OLD = "gpt-4o-2024-05-13"


@pytest.fixture
def old(make_version):
    return make_version(OLD)


@pytest.fixture
def new(make_version, old):
    version = make_version("gpt-4o-2024-08-06")
    old.successor = version
    registry.model_version_save(version=old, actor=None)
    return version


@pytest.fixture
def three(feature, make_config, old, make_version):
    """support-reply and ticket-summary on the old version; triage on it too, mid-rollout."""
    summary = registry.feature_create(
        key="ticket-summary",
        name="Ticket summary",
        served_config=make_config(
            "summary v4", old, system_prompt="Summarise for {agent}.", temperature=0.2,
            max_tokens=300,
        ),
        actor=None,
    )  # fmt: skip
    triage = registry.feature_create(
        key="triage", name="Triage", served_config=make_config("triage v1", old), actor=None
    )
    busy = rollouts.rollout_create(
        feature=triage, candidate=make_config("triage v2", make_version("gpt-4o-2024-11-20")),
        actor=None,
    )  # fmt: skip
    # A feature on another version stays out of the campaign.
    registry.feature_create(
        key="other",
        name="Other",
        served_config=make_config("o", make_version("gpt-4o-mini-2024-07-18")),
        actor=None,
    )
    return {"support": feature, "summary": summary, "triage": triage, "busy": busy}


def test_a_campaign_gives_each_feature_on_the_version_a_candidate_and_a_rollout(
    three, old, new, release
):
    campaign = campaign_create(from_version=old, to_version=new, actor=release, start_gates=False)
    members = {m.feature.key: m for m in campaign.members.select_related("feature", "rollout")}
    assert set(members) == {"support-reply", "ticket-summary", "triage"}
    summary = members["ticket-summary"]
    served = three["summary"].served_config
    assert summary.candidate.model_version == new
    assert summary.candidate.system_prompt == "Summarise for {agent}."
    assert (summary.candidate.temperature, summary.candidate.max_tokens) == (0.2, 300)
    assert summary.candidate.name == f"{served.name} → gpt-4o-2024-08-06"
    assert summary.rollout.candidate == summary.candidate
    assert summary.rollout.baseline == served and summary.rollout.status == "draft"
    assert summary.problem == ""
    assert campaign.name == f"{OLD} → gpt-4o-2024-08-06"
    event = AuditEvent.objects.get(action="campaign.create")
    assert event.after["features"] == ["support-reply", "ticket-summary", "triage"]
    assert event.actor_label == "release"


def test_a_feature_with_an_active_rollout_gets_the_problem_and_no_new_rollout(three, old, new):
    campaign = campaign_create(from_version=old, to_version=new, actor=None, start_gates=False)
    triage = campaign.members.get(feature=three["triage"])
    assert triage.rollout is None
    assert "already has an active rollout to 'triage v2'" in triage.problem
    assert "finish or abort it" in triage.problem
    assert Rollout.objects.filter(feature=three["triage"]).count() == 1  # only the old one


def test_a_temperature_the_new_family_refuses_is_left_out_and_said(feature, make_config, old):
    served = feature.served_config
    registry.feature_switch_config(
        feature=feature,
        config=make_config("support v1b", old, temperature=0.7),
        actor=None,
        reason="tune",
    )
    assert served  # the first config stays as the rollback target
    reasoning = registry.model_version_save(
        version=ModelVersion(provider=old.provider, model_id="o3-mini-2025-01-31"), actor=None
    )
    campaign = campaign_create(
        from_version=old, to_version=reasoning, actor=None, start_gates=False
    )
    member = campaign.members.get()
    assert member.candidate.temperature is None
    assert "temperature 0.7 left out" in member.problem and "o3-mini" in member.problem
    assert member.rollout is not None  # the gate answers whether it still behaves


def test_anthropic_keeps_a_temperature_in_its_range_and_drops_one_above(feature, make_config, old):
    anthropic = registry.provider_save(
        provider=Provider(
            name="Anthropic", api_style="anthropic_messages", base_url="https://api.anthropic.com"
        ),
        actor=None,
    )
    sonnet = registry.model_version_save(
        version=ModelVersion(provider=anthropic, model_id="claude-sonnet-4-5-20250929"),
        actor=None,
    )
    hot = registry.feature_create(
        key="hot", name="Hot", served_config=make_config("hot", old, temperature=1.5), actor=None
    )
    registry.feature_switch_config(
        feature=feature, config=make_config("calm", old, temperature=0.4), actor=None, reason="x"
    )
    campaign = campaign_create(from_version=old, to_version=sonnet, actor=None, start_gates=False)
    members = {m.feature_id: m for m in campaign.members.select_related("candidate")}
    assert members[feature.pk].candidate.temperature == 0.4 and not members[feature.pk].problem
    assert members[hot.pk].candidate.temperature is None
    assert "0 to 1" in members[hot.pk].problem


def test_it_refuses_a_version_nobody_serves_and_a_retired_target(db, make_version, old, feature):
    spare = make_version("gpt-4o-mini-2024-07-18")
    with pytest.raises(ValidationError) as nobody:
        campaign_create(from_version=spare, to_version=old, actor=None)
    assert "No feature is served by" in str(nobody.value.message_dict["from_version"])
    gone = make_version("gpt-4-0613")
    ModelVersion.objects.filter(pk=gone.pk).update(deprecates=date(2020, 1, 1))
    gone.refresh_from_db()
    with pytest.raises(ValidationError) as retired:
        campaign_create(from_version=old, to_version=gone, actor=None)
    assert "was retired on 2020-01-01" in str(retired.value.message_dict["to_version"])
    assert not Campaign.objects.exists()


def test_gates_start_where_a_suite_exists_and_the_others_say_why(three, old, new):
    make_suite(three["support"], cases=[("refund", "accuracy", True)])
    campaign = campaign_create(from_version=old, to_version=new, actor=None)
    members = {m.feature.key: m for m in campaign.members.select_related("feature", "rollout")}
    support = members["support-reply"]
    assert support.rollout.status == "gate"
    gate = Gate.objects.get(rollout=support.rollout)
    assert gate.candidate == support.candidate and gate.verdict == "running"
    summary = members["ticket-summary"]
    assert summary.rollout.status == "draft"
    assert "gate not started" in summary.problem and "no eval suite" in summary.problem


# --- the readiness matrix -----------------------------------------------------------------------


def _row(rows, key):
    return next(r for r in rows if r.feature.key == key)


def test_the_matrix_shows_gate_review_shadow_and_canary_per_feature(three, old, new):
    campaign = campaign_create(
        from_version=old, to_version=new, actor=None, start_gates=False,
        deadline=timezone.now().date() + timedelta(days=20),
    )  # fmt: skip
    support = campaign.members.get(feature=three["support"]).rollout
    rollouts.rollout_start_shadow(rollout=pass_gate(support), actor=None)
    serve_candidate(support, 5)
    rows = campaign_matrix(campaign)
    row = _row(rows, "support-reply")
    assert (row.gate.level, row.gate.text) == ("ok", "passed")
    assert (row.canary.level, row.canary.text) == ("warn", "canary at 5%")
    assert (row.shadow.level, row.shadow.text) == ("warn", "no pairs yet")
    assert row.review.text == "no verdicts yet"
    assert row.days_to_deadline == 20 and not row.stalled
    draft = _row(rows, "ticket-summary")
    assert (draft.gate.level, draft.gate.text) == ("warn", "not run")
    assert draft.canary.text == "not serving" and draft.shadow.text == "not started"
    triage = _row(rows, "triage")
    assert triage.rollout is None and triage.gate.level == "bad"


def _pair(rollout, n: int) -> ShadowPair:
    return ShadowPair.objects.create(
        rollout=rollout,
        request_key=f"req-{n}",
        messages=[{"role": "user", "content": "Where is my parcel?"}],
        baseline_config=rollout.baseline,
        candidate_config=rollout.candidate,
        served_variant="baseline",
        baseline_output="It ships Monday.",
        candidate_output="It ships on Monday.",
    )


def test_a_blocked_gate_and_a_losing_review_are_red(feature, old, new, release):
    campaign = campaign_create(from_version=old, to_version=new, actor=None, start_gates=False)
    rollout = campaign.members.get().rollout
    rollouts.rollout_start_shadow(rollout=pass_gate(rollout), actor=None)
    for n in range(MIN_REVIEW_VERDICTS):
        verdict = "better" if n % 3 == 0 else "worse"
        Label.objects.create(pair=_pair(rollout, n), reviewer=release, verdict=verdict)
    _pair(rollout, 99)
    # A later gate on the same candidate blocked (the newest gate is the one shown).
    Gate.objects.create(
        feature=rollout.feature, rollout=rollout, baseline=rollout.baseline,
        candidate=rollout.candidate, verdict=Gate.Verdict.BLOCKED,
    )  # fmt: skip
    (row,) = campaign_matrix(campaign)
    assert row.gate.level == "bad" and "blocked" in row.gate.text
    assert (row.review.level, row.review.text) == (
        "bad",
        f"{MIN_REVIEW_VERDICTS} verdicts, 67% candidate worse",
    )
    assert (row.shadow.level, row.shadow.text) == ("ok", f"{MIN_REVIEW_VERDICTS + 1} pairs")


def test_a_losing_review_with_few_verdicts_stays_amber_and_counts_read_as_words(
    feature, old, new, release
):
    campaign = campaign_create(from_version=old, to_version=new, actor=None, start_gates=False)
    rollout = campaign.members.get().rollout
    rollouts.rollout_start_shadow(rollout=pass_gate(rollout), actor=None)
    Label.objects.create(pair=_pair(rollout, 1), reviewer=release, verdict="worse")
    (row,) = campaign_matrix(campaign)
    # One verdict, and a losing one: too few to call the candidate worse.
    assert (row.review.level, row.review.text) == (
        "warn",
        f"1 verdict, 100% candidate worse (fewer than {MIN_REVIEW_VERDICTS})",
    )
    assert (row.shadow.level, row.shadow.text) == ("ok", "1 pair")


def test_a_running_gate_is_grey_not_amber(feature, old, new):
    campaign = campaign_create(from_version=old, to_version=new, actor=None, start_gates=False)
    rollout = campaign.members.get().rollout
    Gate.objects.create(
        feature=rollout.feature, rollout=rollout, baseline=rollout.baseline,
        candidate=rollout.candidate, verdict=Gate.Verdict.RUNNING,
    )  # fmt: skip
    (row,) = campaign_matrix(campaign)
    assert (row.gate.level, row.gate.text) == ("idle", "running")
    assert row.gate.css == "status"


def test_a_review_with_few_verdicts_is_amber_and_with_enough_green(feature, old, new, release):
    campaign = campaign_create(from_version=old, to_version=new, actor=None, start_gates=False)
    rollout = campaign.members.get().rollout
    rollouts.rollout_start_shadow(rollout=pass_gate(rollout), actor=None)
    for n in range(MIN_REVIEW_VERDICTS - 1):
        Label.objects.create(pair=_pair(rollout, n), reviewer=release, verdict="same")
    assert campaign_matrix(campaign)[0].review.level == "warn"
    Label.objects.create(pair=_pair(rollout, 99), reviewer=release, verdict="better")
    review = campaign_matrix(campaign)[0].review
    assert (review.level, review.text) == (
        "ok",
        f"{MIN_REVIEW_VERDICTS} verdicts, 0% candidate worse",
    )


def test_a_rollout_that_has_not_moved_for_stale_days_is_stalled(three, old, new):
    campaign = campaign_create(
        from_version=old, to_version=new, actor=None, start_gates=False, stale_days=7
    )
    assert not any(r.stalled for r in campaign_matrix(campaign))
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        rows = campaign_matrix(campaign)
    assert _row(rows, "support-reply").stalled and _row(rows, "ticket-summary").stalled
    assert not _row(rows, "triage").stalled  # no rollout of the campaign's to watch
    with time_machine.travel(timezone.now() + timedelta(days=6)):
        assert not any(r.stalled for r in campaign_matrix(campaign))


def test_a_finished_rollout_is_never_stalled(three, old, new):
    campaign = campaign_create(from_version=old, to_version=new, actor=None, start_gates=False)
    support = campaign.members.get(feature=three["support"]).rollout
    rollouts.rollout_abort(rollout=support, actor=None, reason="not now")
    with time_machine.travel(timezone.now() + timedelta(days=30)):
        row = _row(campaign_matrix(campaign), "support-reply")
    assert not row.stalled and (row.canary.level, row.canary.text) == ("bad", "aborted")


def test_days_to_the_deadline_count_down(three, old, new):
    deadline = timezone.now().date() + timedelta(days=10)
    campaign = campaign_create(
        from_version=old, to_version=new, actor=None, start_gates=False, deadline=deadline
    )
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        assert {r.days_to_deadline for r in campaign_matrix(campaign)} == {7}


# --- pages --------------------------------------------------------------------------------------


@pytest.fixture
def campaign(three, old, new):
    return campaign_create(from_version=old, to_version=new, actor=None, start_gates=False)


@pytest.mark.parametrize("who", ["viewer", "reviewer", "release", "admin"])
def test_every_signed_in_user_reads_the_campaign_pages(client_for, campaign, who):
    client = client_for(who)
    listing = client.get("/campaigns/")
    assert listing.status_code == 200 and campaign.name in listing.content.decode()
    detail = client.get(f"/campaigns/{campaign.code}/")
    html = detail.content.decode()
    assert detail.status_code == 200
    assert "ticket-summary" in html and "already has an active rollout" in html
    member = campaign.members.get(feature__key="support-reply")
    assert f"/rollouts/{member.rollout.code}/" in html


def test_signed_out_visitors_are_sent_to_sign_in(client_for, campaign):
    for url in ("/campaigns/", f"/campaigns/{campaign.code}/", "/campaigns/new/"):
        assert client_for(None).get(url).status_code == 302


def test_an_unknown_campaign_is_a_404(client_for, db):
    assert (
        client_for("viewer").get("/campaigns/00000000-0000-0000-0000-000000000000/").status_code
        == 404
    )


@pytest.mark.parametrize("who", ["viewer", "reviewer"])
def test_only_release_managers_start_campaigns(client_for, three, old, new, who):
    client = client_for(who)
    assert client.get(f"/campaigns/new/?from={old.code}").status_code == 403
    posted = client.post(
        "/campaigns/new/", {"from_version": old.code, "to_version": new.code, "stale_days": 7}
    )
    assert posted.status_code == 403 and not Campaign.objects.exists()


def test_the_form_suggests_the_successor_and_starts_a_campaign(client_for, three, old, new):
    client = client_for("release")
    page = client.get(f"/campaigns/new/?from={old.code}").content.decode()
    assert f'<option value="{new.code}" selected>' in page
    assert f'<option value="{old.code}" selected>' in page
    response = client.post(
        "/campaigns/new/",
        {"from_version": old.code, "to_version": new.code, "stale_days": 5, "start_gates": ""},
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/campaigns/{campaign.code}/"
    assert campaign.stale_days == 5 and campaign.members.count() == 3


def test_the_form_names_the_field_on_bad_input(client_for, three, old, new):
    client = client_for("release")
    assert client.get("/campaigns/new/?from=not-a-code").status_code == 200
    same = client.post(
        "/campaigns/new/", {"from_version": old.code, "to_version": old.code, "stale_days": 7}
    )
    assert same.status_code == 200
    assert "Pick a different model version" in same.content.decode()
    bogus = client.post(
        "/campaigns/new/", {"from_version": "nope", "to_version": new.code, "stale_days": 0}
    )
    html = bogus.content.decode()
    assert bogus.status_code == 200 and "is not a valid UUID" in html
    assert "greater than or equal to 1" in html
    unknown = client.post(
        "/campaigns/new/",
        {"from_version": "00000000-0000-0000-0000-000000000000", "to_version": new.code,
         "stale_days": 7},
    )  # fmt: skip
    assert "Pick a registered model version to move away from" in unknown.content.decode()
    assert not Campaign.objects.exists()


def test_the_admin_shows_campaigns_read_only_to_admins(client_for, campaign):
    url = f"/admin/rollout_control/campaign/{campaign.pk}/change/"
    page = client_for("admin").get(url)
    assert page.status_code == 200 and "ticket-summary" in page.content.decode()
    posted = client_for("admin").post(url, {"name": "renamed"})
    assert posted.status_code == 403
    campaign.refresh_from_db()
    assert campaign.name != "renamed"
    assert client_for("release").get(url).status_code in (302, 403)
    assert client_for("admin").get("/admin/rollout_control/campaign/add/").status_code == 403
