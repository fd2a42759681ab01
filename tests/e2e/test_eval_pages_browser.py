"""The evaluation pages as a release manager sees them in Chromium, on a realistic world built
through the services (tests/e2e/eval_world.py): verdicts read as words, a running run and gate
show progress, failures come first, long model output stays inside its card, nothing runs as
HTML, and every page is saved to test-artifacts/eval-*.png for a person to look at."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.eval_world import JUDGE_REASON, PASSWORD, World, build_world

pytestmark = pytest.mark.django_db(transaction=True)


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"eval-{name}.png"), full_page=True)


def _open(page: Page, url: str) -> None:
    page.goto(url)
    # No page may be wider than the window: long outputs and wide tables scroll in their card.
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{url} overflows the window: {width}"


@pytest.fixture
def world(live, page: Page) -> World:
    built = build_world()
    page.goto(f"{live.url}/login/")
    page.fill("#id_username", built.user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/")
    return built


def test_suites_list_and_suite_page(live, world: World, page: Page) -> None:
    _open(page, f"{live.url}/evaluations/")
    rows = page.locator("table tbody tr")
    expect(rows.filter(has_text="Support replies")).to_contain_text("20 published + 2 drafts")
    expect(rows.filter(has_text="Core").locator(".status-gate-blocked")).to_have_text("Blocked")
    expect(page.locator(".status-gate-needs_ack")).to_have_text("Needs acknowledgement")
    _shot(page, "suite-list")

    page.get_by_role("link", name="Support replies").click()
    headings = page.locator("section.card > h2").all_inner_texts()
    dims = [h.split("\n")[0].split(" 5 cases")[0] for h in headings if "5 cases" in h]
    assert dims == ["Format", "Tone", "Accuracy / reasoning", "Safety"]
    assert page.locator(".eval-case .critical").count() == 2
    drafts = page.locator(
        "section.card", has=page.get_by_role("heading", name=re.compile("^Drafts"))
    )
    expect(drafts.get_by_role("button", name="Publish")).to_have_count(2)
    expect(page.get_by_text("llm-rubric assertions end as errors")).to_be_visible()
    running = page.locator("table tbody tr", has=page.locator(".status-run-running")).first
    expect(running).to_contain_text("so far")
    _shot(page, "suite")

    # Keyboard focus is visible: the first Tab lands on a link with a real outline.
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")


def test_case_form_names_the_broken_assertion(live, world: World, page: Page) -> None:
    _open(page, f"{live.url}/evaluations/suites/{world.suite.code}/cases/new/")
    page.fill("#id_name", "greets by name")
    page.fill("#id_variables", '{"question": "Hi"}')
    page.fill("#id_assertions", '[{"type": "regex", "value": "(unclosed"}]')
    page.get_by_role("button", name="Add case").click()
    summary = page.locator("#form-errors")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Nothing was saved")
    expect(summary.get_by_role("link", name="Assertions")).to_be_visible()
    expect(summary).to_contain_text("assertions[0]")
    assert page.input_value("#id_assertions") == '[{"type": "regex", "value": "(unclosed"}]'
    _shot(page, "case-form-error")


def test_running_run_shows_progress(live, world: World, page: Page) -> None:
    _open(page, f"{live.url}/evaluations/runs/{world.running.code}/")
    live_card = page.locator("#run-live")
    expect(live_card.locator(".status-run-running")).to_have_text("Running")
    bar = live_card.locator("progress.run-progress")
    assert (bar.get_attribute("value"), bar.get_attribute("max")) == ("15", "40")
    assert live_card.get_attribute("hx-trigger") == "every 2s"
    expect(live_card).to_contain_text("15 of 40 results (38%)")
    expect(page.get_by_role("button", name="Cancel run")).to_be_visible()
    _shot(page, "run-running")


def test_finished_run_lists_failures_first_and_contains_long_output(
    live, world: World, page: Page
) -> None:
    _open(page, f"{live.url}/evaluations/runs/{world.finished.code}/")
    expect(page.locator("#run-live .status-run-completed")).to_have_text("Completed")
    assert page.locator("#run-live").get_attribute("hx-trigger") is None
    statuses = page.locator("#failures .eval-result h3 .status").all_inner_texts()
    assert statuses == ["Fail", "Fail", "Fail", "Error"]
    first = page.locator("#failures .eval-result").first
    expect(first.locator(".critical")).to_be_visible()  # a critical failure comes first
    order = page.evaluate("[...document.querySelectorAll('#failures, #passes')].map(e => e.id)")
    assert order == ["failures", "passes"]
    expect(page.locator(".judge-reason")).to_contain_text(JUDGE_REASON)
    # The model's HTML is text on the page, never markup.
    expect(page.locator("#failures pre.output", has_text="<b>Bye</b>")).to_have_count(1)
    long = page.locator("#failures .eval-result", has_text="accuracy case 2")
    card = page.locator("#failures").bounding_box()
    pre = long.locator("pre.output").bounding_box()
    assert card and pre
    assert pre["x"] >= card["x"] and pre["x"] + pre["width"] <= card["x"] + card["width"]
    assert pre["height"] <= 20 * 16 + 40  # capped (20rem), scrolls inside
    expect(page.locator(".count-fail.some")).to_have_text("3 fail")
    assert page.dialogs == []  # type: ignore[attr-defined]  # set by the page fixture
    _shot(page, "run-finished")


@pytest.mark.parametrize(
    ("verdict", "badge", "says"),
    [
        ("running", "Running", "Shadow traffic waits for the verdict"),
        ("blocked", "Blocked", "a critical case got worse"),
        ("needs_ack", "Needs acknowledgement", "accepts the drop with a written note"),
        ("passed", "Passed", "Shadow traffic may start"),
    ],
)
def test_gate_card_reads_its_verdict(live, world: World, page: Page, verdict, badge, says) -> None:
    _open(page, f"{live.url}/rollouts/{world.rollouts[verdict].code}/")
    gate = page.locator("#gate")
    expect(gate.locator("h2 .status")).to_have_text(badge)
    expect(gate).to_contain_text(says)
    # Gate -> runs -> suite: each run of the gate links to its page and its suite's.
    expect(gate.locator(".gate-runs a", has_text="Baseline run")).to_have_count(1)
    expect(gate.locator(".gate-runs a", has_text="Candidate run")).to_have_count(1)
    if verdict == "running":
        expect(gate.locator("progress.run-progress")).to_be_visible()
        assert gate.get_attribute("hx-trigger") == "every 2s"
    else:
        assert gate.get_attribute("hx-trigger") is None
        expect(gate.locator(".gate-dimensions")).to_be_visible()
    if verdict == "needs_ack":
        expect(gate.get_by_role("button", name="Acknowledge and allow shadow")).to_be_visible()
    else:
        expect(gate.get_by_role("button", name=re.compile("^Acknowledge"))).to_have_count(0)
    _shot(page, f"gate-{verdict}")


def test_gate_run_links_back_to_the_rollout(live, world: World, page: Page) -> None:
    run = world.gates["blocked"].runs.get(side="candidate")
    _open(page, f"{live.url}/evaluations/runs/{run.code}/")
    page.get_by_role("link", name="read the gate report on the rollout").click()
    expect(page.locator("#gate h2 .status")).to_have_text("Blocked")


def test_campaigns_dashboard_and_golden_form(live, world: World, page: Page) -> None:
    _open(page, f"{live.url}/campaigns/")
    expect(page.locator("tbody tr")).to_have_count(1)
    _shot(page, "campaign-list")
    page.get_by_role("link", name=world.campaign.name).click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.filter(has_text="ticket-summary")).to_contain_text("blocked")
    expect(rows.get_by_role("link", name="Open rollout")).to_have_count(4)
    _shot(page, "campaign-matrix")

    _open(page, f"{live.url}/")
    calendar = page.locator("#deprecations")
    expect(calendar).to_contain_text("retires in 20 days")
    expect(calendar.get_by_role("link", name="Start upgrade campaign")).to_be_visible()
    _shot(page, "dashboard")

    _open(page, f"{live.url}/pairs/{world.pair.code}/add-to-suite/")
    expect(page.get_by_text("Candidate worse")).to_be_visible()
    expect(page.get_by_label("Reference", exact=True)).to_have_value(world.pair.baseline_output)
    box = page.locator("label.check", has_text="Critical").bounding_box()
    assert box and box["width"] < 400  # the checkbox sits beside its label, not mid-form
    _shot(page, "golden-form")
