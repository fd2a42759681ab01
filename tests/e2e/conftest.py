"""Browser tests drive Debian's Chromium (`apt-get install -y chromium`) through Playwright.
Without Chromium they skip locally, with the reason; under CI=true a missing browser fails."""

import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def browser(monkeypatch):
    """A fresh Chromium per test. Playwright's sync API keeps an asyncio loop running in this
    thread while it is open, so it must close before any other test (asyncio.run, Django's
    async_to_sync) runs, and Django's async-safety check is relaxed only meanwhile."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is missing under CI: .ci/run must install the chromium package")
        pytest.skip("Chromium is not installed (apt-get install -y chromium) - browser tests skip")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1300, "height": 950})
    page = context.new_page()
    dialogs = []

    def on_dialog(dialog):
        # Any alert(), confirm() or prompt() opened by page content is an executed payload.
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.dialogs = dialogs
    yield page
    context.close()


@pytest.fixture
def reviewer_login(live):
    user = User.objects.create_user("rita", password="rita-review-pass")
    user.groups.add(Group.objects.get_or_create(name="Reviewer")[0])

    def login(page):
        page.goto(f"{live.url}/login/?next=/review/")
        page.fill("#id_username", "rita")
        page.fill("#id_password", "rita-review-pass")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live.url}/review/")

    return user, login
