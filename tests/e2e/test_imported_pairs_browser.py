"""Imported realistic pairs (15 KB of Markdown, emoji, right-to-left text, combining marks) read
in a real browser: the raw view shows every character exactly as imported, the rendered view is
Markdown without any of the model's text running as HTML."""

import json

import pytest
from django.contrib.auth.models import Group, User

from comparisons.models import ShadowPair
from comparisons.services import importing
from rollouts.services import rollouts
from tests.comparisons.import_corpus import COMBINING, EMOJI, RTL, realistic_records
from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.django_db(transaction=True)


def _raw_texts(page) -> set[str]:
    # textContent, not innerText: innerText applies CSS (white-space, hidden views).
    return set(page.eval_on_selector_all(".view-raw", "els => els.map(e => e.textContent)"))


def test_imported_pairs_are_shown_byte_exact(live, feature, make_config, make_version, page):
    candidate = make_config("support v2", make_version("gpt-4o-2024-08-06"))
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    records = realistic_records()
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()
    importing.pairs_import(
        rollout=rollout,
        parsed=importing.parse_file(data, file_name="upgrade.jsonl"),
        actor=None,
        source="file",
        file_name="upgrade.jsonl",
    )
    user = User.objects.create_user("rena", password="rena-release-pass")
    user.groups.add(Group.objects.get_or_create(name="Release manager")[0])
    page.goto(f"{live.url}/login/")
    page.fill("#id_username", "rena")
    page.fill("#id_password", "rena-release-pass")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/")

    long_pair = ShadowPair.objects.get(rollout=rollout, request_key="ext-1")
    page.goto(f"{live.url}/pairs/{long_pair.code}/?view=raw")
    assert _raw_texts(page) == {records[0]["baseline_output"], records[0]["candidate_output"]}
    assert len(records[0]["baseline_output"].encode()) >= 15 * 1024
    page.goto(f"{live.url}/pairs/{long_pair.code}/?view=rendered")
    rendered = page.locator(".pair-outputs .view-rendered").first
    assert rendered.locator("h2", has_text="Returning an item").count() > 0
    assert rendered.locator("pre code").count() > 0  # the fenced JSON, monospaced
    assert "## Returning" not in rendered.inner_text()
    page.screenshot(path=str(ARTIFACTS / "imported-long-markdown.png"), full_page=False)

    emoji_pair = ShadowPair.objects.get(rollout=rollout, request_key="ext-2")
    page.goto(f"{live.url}/pairs/{emoji_pair.code}/?view=raw")
    assert _raw_texts(page) == {EMOJI, RTL}
    # Right-to-left text runs right to left: each output picks its direction from its text.
    directions = page.eval_on_selector_all(
        ".view-raw", "els => els.map(e => getComputedStyle(e).direction)"
    )
    assert sorted(directions) == ["ltr", "rtl"]
    page.screenshot(path=str(ARTIFACTS / "imported-emoji-rtl.png"), full_page=False)

    combining_pair = ShadowPair.objects.exclude(request_key__in=["ext-1", "ext-2"]).get(
        rollout=rollout
    )
    page.goto(f"{live.url}/pairs/{combining_pair.code}/?view=raw")
    assert COMBINING in _raw_texts(page)
    # The curly-apostrophe refusal is flagged, and the flag reads as a sentence.
    assert combining_pair.flagged and "refusal:candidate" in combining_pair.flags
    assert page.dialogs == []
