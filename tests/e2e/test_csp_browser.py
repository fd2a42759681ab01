"""Under the Content-Security-Policy the pages still work in Chromium: the review queue labels
by keyboard through htmx, the rollout page draws its plotly charts, the rollback form asks
first, and the browser reports no policy violation or console error on the way."""

import pytest
from django.contrib.auth.models import Group, User

from comparisons.models import Label

pytestmark = pytest.mark.django_db(transaction=True)

# Registered before any page script: every violation the browser reports is kept.
LISTEN = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || ''));
});
"""


@pytest.fixture
def watched(page):
    errors: list[str] = []
    failed: list[str] = []

    def on_console(msg) -> None:
        # A failed load is reported by URL below (the console text does not name it).
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(msg.text)

    def on_response(response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            failed.append(f"{response.status} {response.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.add_init_script(LISTEN)
    page.errors = errors
    page.failed = failed
    return page


def _violations(page) -> list[str]:
    return page.evaluate("window.__csp")


def test_pages_work_under_the_policy_without_violations(live, make_pair, watched):
    page = watched
    pair = make_pair(candidate="A different answer.")
    user = User.objects.create_user("mona", password="mona-release-pass")
    for name in ("Reviewer", "Release manager"):
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    page.goto(f"{live.url}/login/?next=/review/")
    page.fill("#id_username", "mona")
    page.fill("#id_password", "mona-release-pass")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/review/")
    policy = page.evaluate("document.contentType")  # the page loaded as HTML
    assert policy == "text/html"

    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.querySelector('#label-form')")  # htmx swapped
    assert Label.objects.filter(reviewer=user, pair=pair).exists()
    assert _violations(page) == []

    page.goto(f"{live.url}/rollouts/{pair.rollout.code}/")
    page.wait_for_selector(".chart .main-svg", timeout=15_000)  # plotly drew under the CSP
    assert page.locator(".chart .main-svg").count() >= 2
    page.fill(".danger-zone input[name=reason]", "checking the policy")
    page.click(".danger-zone button[type=submit]")
    page.wait_for_timeout(300)
    assert page.dialogs == ["Route all traffic back to the baseline now?"]  # dismissed: kept
    pair.rollout.refresh_from_db()
    assert pair.rollout.status == "shadow"
    assert _violations(page) == []
    assert page.errors == []
    assert page.failed == []

    # And the policy is enforced, not only sent: an injected inline script does not run.
    ran = page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        " document.body.appendChild(s); return window.__ran === 1; }"
    )
    assert ran is False
    assert any(v.startswith("script-src") for v in _violations(page))
