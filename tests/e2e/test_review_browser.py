"""A reviewer labels pairs in a real browser, with the keyboard only."""

import pytest

from comparisons.models import Label
from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.django_db(transaction=True)


def _current_code(page) -> str:
    action = page.get_attribute("#label-form", "action")
    return action.split("/")[2]


def test_three_labels_by_keyboard_then_undo_one(live, make_pair, reviewer_login, page):
    pairs = [make_pair(candidate=f"Different answer number {n}.") for n in range(4)]
    user, login = reviewer_login
    login(page)
    seen = []
    for keys in (["1", "t"], ["2"], ["4", "f", "c"]):
        code = _current_code(page)
        seen.append(code)
        page.locator("body").click(position={"x": 5, "y": 5})  # focus the page, not a field
        for key in keys:
            page.keyboard.press(key)
        page.keyboard.press("Enter")
        page.wait_for_function(
            "code => !document.querySelector('#label-form') || "
            "!document.querySelector('#label-form').action.includes(code)",
            arg=code,
        )
    assert page.locator(".revealed").is_visible()
    page.keyboard.press("u")
    page.wait_for_function(
        "code => document.querySelector('#label-form')?.action.includes(code)", arg=seen[-1]
    )
    labels = {str(label.pair.code): label for label in Label.objects.filter(reviewer=user)}
    assert set(labels) == set(seen[:2])  # the third was undone
    assert labels[seen[0]].dimensions == ["tone"]
    assert labels[seen[1]].verdict == "same"
    assert {str(p.code) for p in pairs} >= set(seen)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-page.png"), full_page=True)
    assert page.dialogs == []


def test_a_blinded_pair_reveals_the_candidate_only_after_saving(
    live, make_pair, reviewer_login, page
):
    make_pair(candidate="Entirely different words here.")
    _, login = reviewer_login
    login(page)
    before = page.content()
    assert "gpt-4o-2024-11-20" not in before and "candidate" not in page.inner_text(".sides")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_selector(".revealed")
    revealed = page.inner_text(".revealed")
    assert "gpt-4o-2024-11-20" in revealed and ("was A" in revealed or "was B" in revealed)


def test_xss_payloads_in_outputs_inputs_and_comments_stay_inert(
    live, make_pair, reviewer_login, page
):
    payloads = [
        '<script>alert("out")</script>',
        "<img src=x onerror=\"alert('img')\">",
        "&lt;script&gt;alert('entity')&lt;/script&gt;",
    ]
    make_pair(baseline=payloads[0], candidate=payloads[1], user_text=payloads[2])
    _, login = reviewer_login
    login(page)
    page.fill("#comment", "<img src=x onerror=\"alert('comment')\">")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("4")
    page.keyboard.press("Enter")
    page.wait_for_selector(".revealed")
    label = Label.objects.get()
    page.goto(f"{live.url}/pairs/{label.pair.code}/")
    assert page.dialogs == []
    assert page.locator("img[src=x]").count() == 0
    assert payloads[0] in page.inner_text(".sides")  # shown as text
    assert "alert('comment')" in page.inner_text("table")
