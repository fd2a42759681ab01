"""The decision panel's items: gate, review, judge, guardrails; red blocks Promote."""

import pytest

from comparisons.models import Label
from comparisons.services.stats import wilson
from evaluations.models import Gate
from rollouts.models import Guardrail
from rollouts.services.decision import decision_panel, gate_item, judge_item, review_item


def _colors(panel) -> dict[str, str]:
    return {i.key: i.color for i in panel.items}


def test_a_fresh_shadow_rollout_is_amber_not_red(shadow_rollout):
    panel = decision_panel(shadow_rollout)
    colors = _colors(panel)
    assert colors["gate"] == "green" and colors["review"] == "amber"
    assert colors["judge"] == "grey" and not panel.red


def test_a_critical_finding_turns_review_red(shadow_rollout, make_pair, release):
    Label.objects.create(pair=make_pair(), reviewer=release, verdict="worse", critical=True)
    panel = decision_panel(shadow_rollout)
    assert panel.red and _colors(panel)["review"] == "red"
    assert panel.as_json()["items"][1]["numbers"]["critical"] == 1


def test_reviewers_preferring_the_baseline_is_red(shadow_rollout, make_pair, cast):
    for n in range(12):
        verdict = "worse" if n < 7 else "better"
        Label.objects.create(pair=make_pair(), reviewer=cast["reviewer"], verdict=verdict)
    item = decision_panel(shadow_rollout).items[1]
    assert item.color == "red" and "58%" in item.line and "12 pairs" in item.line


def test_a_gate_item_follows_the_verdict(shadow_rollout):
    gate = Gate.objects.get(rollout=shadow_rollout)
    assert gate_item(shadow_rollout, gate).color == "green"
    gate.verdict = Gate.Verdict.BLOCKED
    assert gate_item(shadow_rollout, gate).color == "red"
    assert gate_item(shadow_rollout, None).line == "No eval gate has run on this candidate."


@pytest.mark.parametrize(
    ("state", "severity", "color"),
    [
        ("breach", "critical", "red"),
        ("breach", "advisory", "amber"),
        ("ok", "critical", "green"),
        ("insufficient", "critical", "amber"),
    ],
)
def test_guardrail_items_follow_state_and_severity(shadow_rollout, state, severity, color):
    Guardrail.objects.create(
        rollout=shadow_rollout,
        metric="error_rate",
        state=state,
        severity=severity,
        last_evidence={"n": {"baseline": 900, "candidate": 100}},
    )
    item = decision_panel(shadow_rollout).items[-1]
    assert (item.key, item.color) == ("guardrail:error_rate", color)
    assert item.numbers["evidence"] == {"n": {"baseline": 900, "candidate": 100}}


def test_judge_items_need_numbers(make_config):
    summary = {
        "config": make_config("judge"),
        "model_id": "gpt-4o-2024-08-06",
        "judged": 40,
        "errors": 0,
        "pending": 0,
        "rates": {"better": wilson(2, 40), "worse": wilson(30, 40)},
    }
    assert judge_item(summary).color == "red"
    summary["rates"] = {"better": wilson(20, 40), "worse": wilson(5, 40)}
    assert judge_item(summary).color == "green"


def test_the_panel_is_at_the_top_of_the_rollout_page_and_red_disables_promote(
    shadow_rollout, make_pair, release, client_for
):
    Label.objects.create(pair=make_pair(), reviewer=release, verdict="worse", critical=True)
    page = client_for("release").get(f"/rollouts/{shadow_rollout.code}/").content.decode()
    assert page.index('id="decision-panel"') < page.index('id="gate"')
    assert "red: promotion blocked" in page
    form = page[page.index('id="approve-form"') :]
    assert "disabled" in form[: form.index("</form>")]
    admin_page = client_for("admin").get(f"/rollouts/{shadow_rollout.code}/").content.decode()
    assert 'name="override_reason"' in admin_page


def test_review_item_is_amber_with_few_pairs():
    from comparisons.services.stats import Agreement, ReviewStats

    stats = ReviewStats(
        labels=3,
        pairs_labelled=3,
        pairs_with_verdict=3,
        by_source={},
        verdicts={
            "better": wilson(2, 3),
            "same": wilson(1, 3),
            "worse": wilson(0, 3),
            "both_bad": wilson(0, 3),
        },
        by_dimension={},
        critical=[],
        agreement=Agreement(0, 10, None, None),
        throughput={},
    )
    assert review_item(stats).color == "amber"
