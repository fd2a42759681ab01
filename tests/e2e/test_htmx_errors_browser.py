"""An htmx request the server refuses says so on the page (htmx itself swaps nothing on a 4xx),
in words and without the response's markup, and nothing is saved."""

import pytest
from django.contrib.auth.models import Group

from comparisons.models import Label

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_label_refused_after_the_role_was_taken_away_says_so(
    live, make_pair, reviewer_login, page
):
    make_pair(candidate="A different answer.")
    user, login = reviewer_login
    login(page)
    page.wait_for_selector(".sides")
    # The admin takes the role away while the queue is open in the reviewer's browser.
    user.groups.remove(Group.objects.get(name="Reviewer"))
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    alert = page.wait_for_selector("#request-error")
    assert "Not allowed" in alert.inner_text() and "HTTP 403" in alert.inner_text()
    assert page.locator("#request-error *").count() == 0  # text only, never markup
    assert Label.objects.count() == 0
    assert page.dialogs == []
