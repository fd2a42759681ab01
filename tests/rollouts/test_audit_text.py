# ruff: noqa: E501  (the action table reads best one event per line)
"""Audit events in sentences (rollouts/audit_text.py): every action the product writes reads as
a sentence with names, never database ids; before/after as a diff of the changed fields."""

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings

from registry.models import AuditEvent
from rollouts.audit_names import GateRef, Names, Ref, RolloutRef, RunRef, load_names
from rollouts.audit_text import describe, field_diff

# Ids no sentence may show: distinctive so a leak cannot hide among other digits.
C1, C2, C3 = 90101, 90102, 90103
FEATURE, VERSION, VERSION2, USER, SUITE, PAIR = 90201, 90301, 90302, 90401, 90501, 90601
R_CODE, G_CODE, RUN_CODE, CONFIG_CODE, CAMPAIGN_CODE = (str(uuid.uuid4()) for _ in range(5))
IDS = [str(n) for n in (C1, C2, C3, FEATURE, VERSION, VERSION2, USER, SUITE, PAIR, 777)]
IDS += [R_CODE, G_CODE, RUN_CODE, CONFIG_CODE, CAMPAIGN_CODE]


def names() -> Names:
    n = Names()
    n.add("config", [C1, CONFIG_CODE], Ref("support v1 (gpt-4o-2024-05-13)"))
    n.add("config", [C2], Ref("support v2 (gpt-4o-2024-11-20)"))
    n.add("config", [C3], Ref("judge (gpt-4o-2024-08-06)"))
    n.add("feature", [FEATURE, "support-reply"], Ref("support-reply", "/features/support-reply/"))
    n.add("version", [VERSION], Ref("gpt-4o-2024-05-13"))
    n.add("version", [VERSION2], Ref("gpt-4o-2024-11-20"))
    n.add("user", [USER], Ref("rena"))
    n.add("suite", [SUITE], Ref("Support", "/evaluations/suites/x/"))
    n.add("pair", [PAIR], Ref("a shadow pair of support-reply", "/pairs/x/"))
    n.add("campaign", [CAMPAIGN_CODE], Ref("Retire 4o May", "/campaigns/x/"))
    rollout = RolloutRef(
        "support-reply's rollout",
        f"/rollouts/{R_CODE}/",
        feature="support-reply",
        baseline=Ref("support v1 (gpt-4o-2024-05-13)"),
        candidate=Ref("support v2 (gpt-4o-2024-11-20)"),
        canary_bps=(100, 500, 1000, 2500, 5000, 10_000),
    )
    n.add("rollout", [R_CODE, 777], rollout)
    n.add("approval", [777], rollout)
    n.add("guardrail", [777], rollout)
    n.add("gate", [G_CODE], GateRef("support-reply → support v2 (gpt-4o-2024-11-20)", "/r/"))
    n.add(
        "run",
        [RUN_CODE],
        RunRef(
            "the eval run of Support",
            "/runs/x/",
            suite=Ref("Support"),
            config=Ref("support v2"),
            side="candidate",
        ),
    )
    return n


ROLLOUT = {"id": 777, "feature": FEATURE, "baseline": C1, "candidate": C2, "status": "shadow", "candidate_bp": 0, "created_by": USER, "judge_config": None}  # fmt: skip
CANARY_1 = {**ROLLOUT, "status": "canary", "candidate_bp": 100}
CANARY_5 = {**ROLLOUT, "status": "canary", "candidate_bp": 500}
FEAT = {"id": FEATURE, "key": "support-reply", "served_config": C1, "previous_config": None}
GATE = {"id": 5, "feature": FEATURE, "baseline": C1, "candidate": C2, "verdict": "running"}
RUN = {"id": 6, "suite": SUITE, "config": C2, "side": "candidate", "status": "queued"}
CASE = {"id": 7, "suite": SUITE, "name": "refund policy", "critical": True}
LABEL = {"id": 8, "pair": PAIR, "reviewer": USER, "verdict": "worse"}

R, G, RN, F = "rollouts.rollout", "evaluations.gate", "evaluations.run", "rollouts.feature"
# action, object type, object id, before, after, words the sentence must contain
TABLE = [
    ("rollout.create", R, R_CODE, None, {**ROLLOUT, "status": "draft"}, "rena started support-reply's rollout from support v1"),
    ("rollout.start_gate", R, R_CODE, ROLLOUT, ROLLOUT, "to the eval gate"),
    ("rollout.start_shadow", R, R_CODE, ROLLOUT, ROLLOUT, "started shadow traffic on support-reply's rollout"),
    ("rollout.set_canary", R, R_CODE, ROLLOUT, CANARY_1, "promoted support-reply's rollout to 1% (stage 1 of 6)"),
    ("rollout.promote", R, R_CODE, CANARY_1, CANARY_5, "rena promoted support-reply's rollout from 1% to 5% (stage 2 of 6): “looks good”"),
    ("rollout.rollback", R, R_CODE, CANARY_5, {**CANARY_5, "candidate_bp": 0, "status": "rolled_back"}, "rolled back support-reply's rollout from 5%: all traffic to support v1"),
    ("rollout.abort", R, R_CODE, ROLLOUT, {**ROLLOUT, "status": "aborted"}, "aborted support-reply's rollout"),
    ("rollout.change_candidate", R, R_CODE, ROLLOUT, {**ROLLOUT, "candidate": C3}, "from support v2 (gpt-4o-2024-11-20) to judge"),
    ("rollout.set_judge", R, R_CODE, ROLLOUT, {**ROLLOUT, "judge_config": C3}, "set the judge of support-reply's rollout to judge"),
    ("rollout.edit_plan", R, R_CODE, {"stages": []}, {"stages": [1]}, "edited the stage plan of support-reply's rollout"),
    ("rollout.pause", R, R_CODE, CANARY_5, CANARY_5, "paused support-reply's rollout at 5%"),
    ("rollout.resume", R, R_CODE, CANARY_5, CANARY_5, "resumed support-reply's rollout"),
    ("rollout.complete", R, R_CODE, CANARY_5, {**CANARY_5, "status": "completed"}, "now serves 100%"),
    ("offline_comparison.create", R, R_CODE, None, ROLLOUT, "offline comparison for support-reply: support v1"),
    ("approval.create", "rollout_control.approval", "777", None, {"to_percent": 5.0, "waits_for": "a second release manager"}, "approved the promotion of support-reply's rollout to 5%; it waits for a second release manager"),
    ("approval.override", "rollout_control.approval", "777", None, {"to_percent": 10.0, "overruled": ["x"]}, "overrode the evidence to promote support-reply's rollout to 10%"),
    ("guardrail.breach", "rollout_control.guardrail", "777", None, {"label": "Error rate", "metric": "error_rate", "severity": "critical", "state": "breach"}, "the error rate guardrail (critical) of support-reply's rollout breached"),
    ("gate.start", G, G_CODE, None, GATE, "started the gate of support-reply → support v2"),
    ("gate.verdict", G, G_CODE, GATE, {**GATE, "verdict": "passed"}, "the gate of support-reply → support v2 (gpt-4o-2024-11-20) passed"),
    ("gate.acknowledge", G, G_CODE, GATE, GATE, "acknowledged the gate of support-reply"),
    ("gate.cancel", G, G_CODE, GATE, {**GATE, "verdict": "cancelled"}, "cancelled the gate of"),
    ("eval_run.create", RN, RUN_CODE, None, RUN, "queued the candidate eval run of Support on support v2"),
    ("eval_run.start", RN, RUN_CODE, {"status": "queued"}, RUN, "eval run of Support on support v2 started"),
    ("eval_run.complete", RN, RUN_CODE, {"status": "running"}, RUN, "finished"),
    ("eval_run.cancel", RN, RUN_CODE, RUN, {**RUN, "status": "cancelled"}, "cancelled the candidate eval run"),
    ("eval_suite.create", "evaluations.suite", str(SUITE), None, {"feature": FEATURE, "name": "Support"}, "created the eval suite Support of support-reply"),
    ("eval_suite.update", "evaluations.suite", str(SUITE), {"name": "S"}, {"name": "Support"}, "updated the eval suite Support"),
    ("eval_suite.import", "evaluations.suite", str(SUITE), None, {"cases": 12, "name": "Support"}, "imported 12 cases into the eval suite Support"),
    ("eval_case.create", "evaluations.case", "7", None, CASE, "added the case “refund policy” to Support"),
    ("eval_case.update", "evaluations.case", "7", CASE, {**CASE, "critical": False}, "edited the case “refund policy” of Support"),
    ("eval_case.publish", "evaluations.case", "7", CASE, CASE, "published the case"),
    ("eval_case.delete", "evaluations.case", "7", CASE, None, "deleted the case “refund policy”"),
    ("campaign.create", "rollout_control.campaign", CAMPAIGN_CODE, None, {"name": "Retire 4o May", "from_version": VERSION, "to_version": VERSION2}, "started the upgrade campaign Retire 4o May from gpt-4o-2024-05-13 to gpt-4o-2024-11-20"),
    ("model_version.create", "rollouts.modelversion", str(VERSION), None, {"model_id": "gpt-4o-2024-05-13", "provider": 1}, "created the model version gpt-4o-2024-05-13"),
    ("model_version.update", "rollouts.modelversion", str(VERSION), {"deprecates": None}, {"deprecates": "2027-01-01"}, "updated the model version gpt-4o-2024-05-13"),
    ("model_version.catalog", "rollouts.modelversion", str(VERSION), {"input_price": None}, {"input_price": "2.5"}, "the model catalog updated gpt-4o-2024-05-13"),
    ("model_version.retiring", "rollouts.modelversion", str(VERSION), None, {"days_left": 30, "feature": "support-reply", "successor": "gpt-4o-2024-11-20"}, "gpt-4o-2024-05-13 retires in 30 days and still serves support-reply"),
    ("provider.create", "rollouts.provider", "1", None, {"name": "OpenAI"}, "created the provider “OpenAI”"),
    ("provider.update", "rollouts.provider", "1", {"timeout": 60}, {"timeout": 30, "name": "OpenAI"}, "updated the provider “OpenAI”"),
    ("provider.circuit_reset", "rollouts.provider", "1", {"circuit": "half_open", "name": "OpenAI"}, {"circuit": "closed", "name": "OpenAI"}, "closed the circuit of the provider “OpenAI” by hand (it was half-open)"),
    ("config.create", "rollouts.modelconfig", CONFIG_CODE, None, {"name": "support v1", "model_version": VERSION}, "created the config support v1 (gpt-4o-2024-05-13) on gpt-4o-2024-05-13"),
    ("config.update", "rollouts.modelconfig", CONFIG_CODE, {"temperature": 1}, {"temperature": 0.2}, "updated the config support v1"),
    ("config.archive", "rollouts.modelconfig", CONFIG_CODE, {"archived": False}, {"archived": True}, "archived the config support v1"),
    ("feature.create", F, str(FEATURE), None, FEAT, "rena registered support-reply serving support v1"),
    ("feature.update", F, str(FEATURE), {**FEAT, "owner": ""}, {**FEAT, "owner": "team"}, "updated support-reply"),
    ("feature.switch_config", F, str(FEATURE), FEAT, {**FEAT, "served_config": C2, "previous_config": C1}, "changed the served config of support-reply from support v1 (gpt-4o-2024-05-13) to support v2"),
    ("label.create", "comparisons.label", "8", None, LABEL, "rena labelled a shadow pair of support-reply: candidate worse"),
    ("label.update", "comparisons.label", "8", LABEL, {**LABEL, "verdict": "same"}, "relabelled a shadow pair of support-reply: same"),
    ("label.cover", "comparisons.label", "8", None, {"verdict": "same", "identical_pairs": 3}, "copied their label to 3 identical pairs"),
    ("label.undo", "comparisons.label", "8", LABEL, None, "undid their label on a shadow pair"),
    ("adjudication.create", "comparisons.adjudication", "9", None, {"pair": PAIR, "verdict": "worse"}, "settled the reviewers' disagreement on a shadow pair"),
    ("pairs.import", "comparisons.importbatch", "10", None, {"rollout": 777, "status": "done"}, "imported pairs into support-reply's rollout"),
    ("replay.start", "comparisons.replayrun", "11", None, {"rollout": 777}, "started a replay of logged requests for support-reply's rollout"),
    ("token.create", "rollouts.apitoken", "12", None, {"name": "app", "prefix": "ab12", "features": ["support-reply"]}, "created the API token “app” for support-reply"),
    ("token.revoke", "rollouts.apitoken", "12", {"revoked": None}, {"revoked": "now"}, "revoked the API token “app”"),
    ("user.create", "auth.user", str(USER), None, {"is_superuser": True, "is_staff": True}, "created the account rena"),
    ("user.flags_change", "auth.user", str(USER), {"is_staff": False}, {"is_staff": True}, "changed the account rena: staff on"),
    ("user.delete", "auth.user", str(USER), {"groups": []}, None, "deleted the account rena"),
    ("user.groups_add", "auth.user", str(USER), {"groups": []}, {"groups": ["Release manager"]}, "changed the roles of rena: gave Release manager"),
    ("user.groups_remove", "auth.user", str(USER), {"groups": ["Reviewer"]}, {"groups": []}, "took away Reviewer"),
    ("user.groups_clear", "auth.user", str(USER), {"groups": ["Reviewer"]}, {"groups": []}, "took away Reviewer"),
    ("user.user_permissions_add", "auth.user", str(USER), {"user_permissions": []}, {"user_permissions": ["rollouts.view_feature"]}, "changed the permissions of rena"),
    ("group.permissions_add", "auth.group", "3", {"permissions": []}, {"permissions": ["rollouts.add_feature"]}, "changed the permissions of Reviewer"),
    ("group.create", "auth.group", "3", None, {"name": "Reviewer"}, "created the group Reviewer"),
    ("group.rename", "auth.group", "3", {"name": "Reviewers"}, {"name": "Reviewer"}, "renamed the group “Reviewers” to “Reviewer”"),
    ("group.delete", "auth.group", "3", {"name": "Reviewer", "members": ["rena"]}, None, "deleted the group Reviewer"),
    ("audit.chain_keyed", "rollouts.auditevent", "1", None, {"previous_head": "x"}, "the audit trail started signing its chain"),
]  # fmt: skip


def _event(action, object_type, object_id, before, after) -> AuditEvent:
    repr_ = {"auth.user": "rena", "auth.group": "Reviewer", "rollouts.apitoken": "app (rdk_ab12_…)"}
    return AuditEvent(
        id=4242,
        created=datetime(2026, 6, 1, tzinfo=UTC),
        actor_label="rena",
        action=action,
        object_type=object_type,
        object_id=object_id,
        # What str() gave for a rollout before: ids. The sentence must not fall back on it.
        object_repr=repr_.get(object_type, f"{FEATURE}: {C1} → {C2} (canary)"),
        feature_key="support-reply",
        before=before,
        after=after,
        reason="looks good" if action == "rollout.promote" else "",
    )


@pytest.mark.parametrize("row", TABLE, ids=[row[0] for row in TABLE])
def test_each_action_reads_as_a_sentence_with_names_and_no_ids(row):
    action, object_type, object_id, before, after, words = row
    sentence = describe(_event(action, object_type, object_id, before, after), names())
    shown = sentence.text + " ".join(f"{c.field} {c.before} {c.after}" for c in sentence.changes)
    assert words in sentence.text
    for leaked in IDS:
        assert leaked not in shown, f"{action} shows the id {leaked}: {shown}"
    assert "object" not in sentence.text and "recorded" not in sentence.text  # no fallback


def test_the_table_covers_every_action_the_product_writes():
    """New audit actions need a sentence: this test lists them from the source."""
    found = set()
    literal = re.compile(r'"([a-z_]+\.[a-z_]+)"')
    for app in ("registry", "traffic", "comparisons", "evaluations", "rollouts"):
        for path in Path(settings.BASE_DIR, app).rglob("*.py"):
            for line in path.read_text().splitlines():
                if "action" in line:
                    found.update(
                        m for m in literal.findall(line) if not m.endswith((".py", ".html"))
                    )
    found |= {"model_version.retiring", "audit.chain_keyed"}
    found = {
        a
        for a in found
        if a.split(".")[0] not in ("store_true", "django", "rollouts", "evaluations")
    }
    covered = {row[0] for row in TABLE}
    assert len(found) > 40  # the scan itself works
    assert found - covered == set()


def test_links_point_to_the_rollout_and_the_feature():
    sentence = describe(_event("rollout.promote", R, R_CODE, CANARY_1, CANARY_5), names())
    links = {p.text: p.url for p in sentence.parts if p.url}
    assert links == {"support-reply's rollout": f"/rollouts/{R_CODE}/"}
    switch = describe(
        _event("feature.switch_config", F, str(FEATURE), FEAT, {**FEAT, "served_config": C2}),
        names(),
    )
    assert {p.url for p in switch.parts if p.url} == {"/features/support-reply/"}


def test_the_diff_lists_only_changed_fields_with_names_and_percentages():
    changes = field_diff(CANARY_1, {**CANARY_5, "candidate": C3}, names())
    assert [(c.field, c.before, c.after) for c in changes] == [
        ("candidate", "support v2 (gpt-4o-2024-11-20)", "judge (gpt-4o-2024-08-06)"),
        ("candidate bp", "1%", "5%"),
    ]


def test_a_removed_object_is_named_by_its_kind_not_its_id():
    sentence = describe(
        _event("rollout.promote", R, str(uuid.uuid4()), CANARY_1, CANARY_5), Names()
    )
    assert "support-reply's rollout" in sentence.text  # from the event's feature key
    changes = field_diff({"candidate": 5}, {"candidate": 6}, Names())
    assert changes[0].before == "a config since removed"


def test_real_events_read_with_names_from_the_database(feature, make_config, release):
    from registry.services import registry

    registry.feature_switch_config(
        feature=feature, config=make_config("support v2"), actor=release, reason="better tone"
    )
    event = AuditEvent.objects.filter(action="feature.switch_config").get()
    sentence = describe(event, load_names([event]))
    assert sentence.text == (
        "release changed the served config of support-reply from support v1 "
        "(gpt-4o-2024-05-13) to support v2 (gpt-4o-2024-08-06): “better tone”"
    )
    assert ("previous config", "—", "support v1 (gpt-4o-2024-05-13)") in [
        (c.field, c.before, c.after) for c in sentence.changes
    ]
