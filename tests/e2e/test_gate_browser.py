"""A release manager runs the eval gate from the rollout page in a real browser: a real Celery
worker executes the runs against the built-in simulator, the gate partial's progress bar
advances by HTMX polling (every 2 s) without a page load, and the verdict appears: the demo's
intent-json upgrade is blocked with its regressed cases listed, the support-reply upgrade passes
and "Start shadow traffic" appears."""

import contextlib
import time

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from playwright.sync_api import Error as PlaywrightError

from evaluations.models import Gate
from registry.models import Rollout
from registry.roles import Role
from tests.e2e.conftest import ARTIFACTS
from tests.live import Worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# The worker makes at most this many simulator calls at once, and the simulator answers at its
# real latencies (250-650 ms): the 32 calls of the intent gate then take several seconds, long
# enough for the 2 s poll to show the bar between empty and full.
WORKER_CONCURRENCY = "3"


def _watch_gate(page, timeout: float = 90.0, shot: str = "") -> list[tuple[int, int]]:
    """The progress bar's (value, max) as the page shows it, until the verdict's page load;
    `shot`: a screenshot's name, taken once the bar is between empty and full."""
    seen: list[tuple[int, int]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # A poll's swap or the verdict's reload may detach the element being read.
        with contextlib.suppress(PlaywrightError):
            bar = page.query_selector("#gate progress.run-progress")
            if bar is None:
                if page.query_selector("#gate .status:not(.status-gate-running)"):
                    return seen
            else:
                reading = (int(bar.get_attribute("value")), int(bar.get_attribute("max")))
                if not seen or seen[-1] != reading:
                    seen.append(reading)
                    if shot and 0 < reading[0] < reading[1]:
                        page.screenshot(path=str(ARTIFACTS / shot), full_page=False)
                        shot = ""
        time.sleep(0.2)
    raise AssertionError(f"the gate did not finish in {timeout:g} s; bar readings: {seen}")


def _run_gate(page, url: str) -> None:
    page.goto(url)
    page.click("#gate button:has-text('Run the gate')")
    page.wait_for_url(url)


def test_a_release_manager_runs_the_gate_and_watches_it_finish(live, settings, page, monkeypatch):
    settings.DEBUG = True
    settings.SIMULATOR_LATENCY_SCALE = 1.0  # the live fixture's 0 would finish before a poll
    for role in Role:
        Group.objects.get_or_create(name=role)  # transactional tests flush the migration's
    # The demo without its gates: three features with suites, their upgrades as drafts.
    call_command("seed_demo", "--simulator-url", f"{live.url}/simulator/v1", verbosity=0)
    intent = Rollout.objects.get(feature__key="intent-json")
    support = Rollout.objects.get(feature__key="support-reply")
    monkeypatch.setenv("EVAL_PROVIDER_CONCURRENCY", WORKER_CONCURRENCY)

    page.goto(f"{live.url}/login/")
    page.fill("#id_username", "release")
    page.fill("#id_password", "release-demo-pass")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/")
    loads: list[str] = []
    page.on("load", lambda: loads.append(page.url))
    ARTIFACTS.mkdir(exist_ok=True)

    with Worker() as worker:
        intent_url = f"{live.url}/rollouts/{intent.code}/"
        _run_gate(page, intent_url)
        loads.clear()
        page.wait_for_selector("#gate progress.run-progress")
        seen = _watch_gate(page, shot="gate-running.png")
        page.wait_for_load_state()
        intent_loads = list(loads)
        page.screenshot(path=str(ARTIFACTS / "gate-blocked.png"), full_page=True)

        support_url = f"{live.url}/rollouts/{support.code}/"
        _run_gate(page, support_url)
        _watch_gate(page)
        page.wait_for_selector("button:has-text('Start shadow traffic')")
        page.screenshot(path=str(ARTIFACTS / "gate-passed.png"), full_page=True)
        page.click("button:has-text('Start shadow traffic')")
        page.wait_for_url(support_url)

    gate = Gate.objects.get(rollout=intent)
    assert gate.verdict == "blocked", worker.output[-3000:]
    # The bar moved while the page stayed: several readings, growing, some between the ends.
    total = seen[0][1]
    assert total == 32  # 16 intent cases on the baseline and on the candidate
    values = [value for value, _ in seen]
    assert values == sorted(values) and len(set(values)) >= 2, seen
    assert any(0 < value < total for value in values), seen
    assert intent_loads == [intent_url], (
        "only the verdict reloads the page, the polls swap the partial"
    )
    # The blocked verdict, with the regressed critical cases listed.
    page.goto(intent_url)
    assert page.inner_text("#gate .status-gate-blocked") == "Blocked"
    regressed = page.inner_text("#gate .gate-regressed")
    assert "critical · #1 answers schema-valid JSON (billing)" in regressed
    # Every critical format case, and the one accuracy case the candidate refused outright.
    assert regressed.count("critical · ") == 8
    assert "#8 names the intent billing" in regressed
    assert page.locator("button:has-text('Start shadow traffic')").count() == 0
    assert Gate.objects.get(rollout=support).verdict == "passed"
    support.refresh_from_db()
    assert support.status == "shadow"
    assert page.dialogs == []
