"""In a real browser: a release manager approves a stage with a note, sees the split change on
the rollout page, and rolls back with one click; a reviewer sees neither Promote nor Roll back,
and the forged POSTs are refused by the server (403)."""

import pytest
from django.contrib.auth.models import Group, User

from registry.models import ModelConfig, Rollout
from registry.roles import Role
from registry.services import registry
from rollouts.services import rollouts
from tests.e2e.conftest import ARTIFACTS
from tests.gates import pass_gate
from tests.stages import waive_minimums

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _user(name: str, role: Role) -> User:
    user = User.objects.create_user(name, password=f"{name}-pass-1234")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def _login(page, live, name: str, next_url: str) -> None:
    page.goto(f"{live.url}/login/?next={next_url}")
    page.fill("#id_username", name)
    page.fill("#id_password", f"{name}-pass-1234")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}{next_url}")


@pytest.fixture
def shadowing(simulated):
    baseline = simulated("sim-chat-2025-01-15", "support v1")
    candidate = simulated("sim-chat-2025-10-01", "support v2")
    feature = registry.feature_create(
        key="support-reply", name="Support reply", served_config=baseline, actor=None
    )
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    pass_gate(rollout)
    rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    waive_minimums(rollout)
    assert ModelConfig.objects.count() == 2
    return rollout


def test_a_release_manager_promotes_with_a_note_and_rolls_back(browser, live, shadowing):
    context = browser.new_context(viewport={"width": 1300, "height": 950})
    page = context.new_page()
    confirms: list[str] = []

    def on_dialog(dialog) -> None:  # the rollback's confirmation, answered yes
        confirms.append(dialog.message)
        dialog.accept()

    page.on("dialog", on_dialog)
    _user("rmgr", Role.RELEASE_MANAGER)
    url = f"/rollouts/{shadowing.code}/"
    _login(page, live, "rmgr", url)
    assert page.locator("#decision-panel").is_visible()
    assert "shadow (the candidate serves nobody)" in page.locator(".stage-now").inner_text()
    form = page.locator("#approve-form")
    form.locator("input[name=note]").fill("shadow pairs look fine")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "Promoted: the candidate serves 1% of units now." in page.content()
    assert "the candidate serves 1% of units" in page.locator(".stage-now").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "canary-promoted.png"), full_page=True)
    shadowing.refresh_from_db()
    assert shadowing.candidate_bp == 100
    rollback = page.locator("form[action$='/rollback/']")
    rollback.locator("input[name=reason]").fill("error rate up")
    rollback.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "Rolled back: every unit is served the baseline again." in page.content()
    assert confirms == ["Route all traffic back to the baseline now?"]
    shadowing.refresh_from_db()
    assert (shadowing.status, shadowing.candidate_bp) == ("rolled_back", 0)
    assert page.locator("#approve-form").count() == 0  # an ended rollout offers nothing
    context.close()


def test_a_reviewer_sees_no_promote_or_rollback_and_forged_posts_fail(page, live, shadowing):
    _user("rita", Role.REVIEWER)
    url = f"/rollouts/{shadowing.code}/"
    _login(page, live, "rita", url)
    assert page.locator("#decision-panel").is_visible()
    assert page.locator("#approve-form").count() == 0
    assert page.locator("form[action$='/rollback/']").count() == 0
    csrf = page.evaluate("document.cookie.match(/csrftoken=([^;]+)/)[1]")
    for action in ("promote", "rollback"):
        response = page.request.post(
            f"{live.url}/rollouts/{shadowing.code}/{action}/",
            form={"note": "forged", "reason": "forged", "stage": "0"},
            headers={"X-CSRFToken": csrf, "Referer": f"{live.url}{url}"},
        )
        assert response.status == 403, action
    shadowing.refresh_from_db()
    assert (shadowing.status, shadowing.candidate_bp) == ("shadow", 0)
    assert Rollout.objects.count() == 1
