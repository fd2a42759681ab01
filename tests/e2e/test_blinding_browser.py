"""Blinding holds in a real browser: a reviewer walks queue -> pair list -> pair page without
learning which side is the candidate, then labels and sees the truth (issue 8)."""

import re

import pytest

from comparisons.models import Label
from comparisons.services import review
from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.django_db(transaction=True)

SECRETS = (
    "baseline",
    "candidate",
    "gpt-4o-2024-05-13",
    "gpt-4o-2024-11-20",
    "support v1",
    "support v2",
)


def _leaks(html: str) -> list[str]:
    return [word for word in SECRETS if word in html.lower()]


def _sides(page) -> dict[str, str]:
    return {name: page.inner_text(f'[aria-label="Output {name}"] .output') for name in "AB"}


def test_a_reviewer_walks_queue_list_and_pair_page_blind_then_labels(
    live,
    make_pair,
    reviewer_login,
    page,
):
    pair = make_pair(
        baseline="Your parcel left the depot this morning.",
        candidate="I\u2019m sorry, but I can\u2019t help with that.",
    )
    user, login = reviewer_login
    login(page)
    page.wait_for_selector("#progress:has-text('to label')")
    assert _leaks(page.content()) == []
    queue_sides = _sides(page)
    candidate_name = review.side_names(pair, user)["candidate"]
    assert "can\u2019t help" in queue_sides[candidate_name]
    queue_flags = page.inner_text(".pair-input")
    assert f"{candidate_name} refused" in queue_flags

    page.goto(f"{live.url}/pairs/")
    row = page.locator(f'tr[data-pair="{pair.code}"]')
    assert _leaks(page.inner_html("#results")) == []
    for name in "AB":
        cell = row.locator(f'td[data-side="{name}"]').inner_text()
        assert cell.strip()[:20] == queue_sides[name].strip()[:20]  # the queue's A is A here
    assert f"{candidate_name} refused" in row.inner_text()

    row.locator("a").first.click()
    page.wait_for_url(re.compile(r"/pairs/[0-9a-f-]+/$"))
    assert _leaks(page.content()) == []
    assert _sides(page) == queue_sides
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "pair-page-blinded.png"), full_page=True)

    # Label from the pair page: the truth appears, on the side the reviewer saw.
    page.check('input[name="choice"][value="same"]')
    page.click(".label-form button[type=submit]")
    page.wait_for_selector("text=Edit my label")
    html = page.content()
    assert "gpt-4o-2024-11-20" in html
    header = page.inner_text(f'[aria-label="Output {candidate_name}"] h2')
    assert "candidate" in header and "gpt-4o-2024-11-20" in header
    assert Label.objects.get(reviewer=user).verdict == "same"
    assert page.dialogs == []


def test_enter_without_a_verdict_says_so_on_the_page(
    live,
    make_pair,
    reviewer_login,
    page,
):
    make_pair(candidate="A different answer.")
    user, login = reviewer_login
    login(page)
    error = page.locator("[data-verdict-error]")
    assert not error.is_visible()
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("Enter")
    assert error.is_visible() and "Choose a verdict first" in error.inner_text()
    assert not Label.objects.exists()
    page.keyboard.press("2")
    assert not error.is_visible()
    page.keyboard.press("Enter")
    page.wait_for_selector(".revealed")
    assert Label.objects.filter(reviewer=user).count() == 1
    # My recent labels list it, with a link to the pair.
    page.wait_for_selector("#recent a[href^='/pairs/']")
