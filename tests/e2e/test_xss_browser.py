"""Hostile text in every place production data reaches a page (model outputs, inputs, tool-call
arguments, reviewer comments, rollback reasons) stays inert in real Chromium with the
Content-Security-Policy on: no script runs, no request leaves for the payload's URL, no htmx
attribute from the payload is live, and the browser reports no policy violation (a violation
would mean markup got in and only the policy stopped it). Pages with production data also keep
htmx from copying them into localStorage (`hx-history="false"`)."""

import json

import pytest
from django.contrib.auth.models import Group, User

from comparisons.models import Label
from comparisons.services.review import LabelInput, label_save
from rollouts.services import rollouts

pytestmark = pytest.mark.django_db(transaction=True)

HIT = "/xss-hit/"  # every payload that runs asks for a URL under here

PAYLOADS = {
    "script": f"<script>window.__xss='script';fetch('{HIT}script')</script>",
    "img": f"<img src=x onerror=\"window.__xss='img';fetch('{HIT}img')\">",
    "svg": f"<svg onload=\"fetch('{HIT}svg')\"><circle r=5 /></svg>",
    "href": f"<a href=\"javascript:fetch('{HIT}href')\" class=xss-link>open</a>",
    "md_link": f"[read the policy](javascript:fetch('{HIT}md_link'))",
    "md_image": f"![chart](javascript:fetch('{HIT}md_image'))",
    "md_autolink": f"<javascript:fetch('{HIT}autolink')>",
    "htmx": f'<div hx-get="{HIT}htmx" hx-trigger="load" hx-swap="outerHTML">x</div>',
    "htmx_on": f"<button hx-on:click=\"fetch('{HIT}hx_on')\" hx-trigger=load>b</button>",
    "iframe": f"<iframe srcdoc=\"<script>parent.fetch('{HIT}iframe')</script>\"></iframe>",
    "style": f"<style>body{{background:url('{HIT}style')}}</style>",
    "meta": f'<meta http-equiv="refresh" content="0;url={HIT}meta">',
    "form": f'<form action="{HIT}form"><button formaction="{HIT}formaction">go</button></form>',
    "template": "{{ request.user.password }} {% csrf_token %}",
    "entity": "&lt;script&gt;fetch('/xss-hit/entity')&lt;/script&gt;",
}
MARKDOWN = "## Answer\n\n" + "\n\n".join(f"- {name}: {text}" for name, text in PAYLOADS.items())
ALL = " ".join(PAYLOADS.values())

LISTEN = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || ''));
});
"""


@pytest.fixture
def world(live, make_pair, shadow_rollout):
    pair = make_pair(baseline=MARKDOWN, candidate=ALL, user_text=ALL)
    pair.candidate_tool_calls = [
        {
            "type": "function",
            "function": {"name": PAYLOADS["img"], "arguments": json.dumps(PAYLOADS)},
        }
    ]
    pair.save(update_fields=["candidate_tool_calls"])
    user = User.objects.create_user("xena", password="xena-release-pass")
    for role in ("Reviewer", "Release manager"):
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    label_save(
        pair=pair, reviewer=user, data=LabelInput(choice="same", comment=PAYLOADS["img"] + ALL)
    )
    return pair, user


def _sign_in(page, live, next_url: str) -> None:
    page.goto(f"{live.url}/login/?next={next_url}")
    page.fill("#id_username", "xena")
    page.fill("#id_password", "xena-release-pass")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}{next_url}")


def _assert_inert(page, where: str, hits: list[str]) -> None:
    page.wait_for_load_state("networkidle")
    assert page.dialogs == [], where
    assert page.evaluate("window.__xss") is None, where
    assert page.evaluate("window.__csp") == [], (
        f"{where}: markup got in: {page.evaluate('window.__csp')}"
    )
    assert hits == [], f"{where}: the page asked for {hits}"
    for selector in (
        f'[hx-get^="{HIT}"]',
        "[hx-on\\:click]",
        '[href^="javascript:" i]',
        '[src^="javascript:" i]',
        "img[src=x]",
        "svg[onload]",
        "iframe[srcdoc]",
        f'form[action^="{HIT}"]',
        "a.xss-link",
    ):
        assert page.locator(selector).count() == 0, f"{where}: {selector} is live markup"


def test_payloads_render_as_text_on_every_page_of_production_data(live, world, page):
    pair, _user = world
    hits: list[str] = []
    page.on("request", lambda request: hits.append(request.url) if HIT in request.url else None)
    page.add_init_script(LISTEN)

    _sign_in(page, live, f"/pairs/{pair.code}/")
    rollouts.rollout_rollback(rollout=pair.rollout, actor=None, reason=PAYLOADS["svg"] + ALL)
    pages = [
        f"/pairs/{pair.code}/?view=raw",
        f"/pairs/{pair.code}/?view=rendered",
        f"/pairs/{pair.code}/?view=diff",
        "/pairs/",
        f"/rollouts/{pair.rollout.code}/",
        f"/features/{pair.rollout.feature.key}/",
        "/audit/",
    ]
    for url in pages:
        page.goto(f"{live.url}{url}")
        _assert_inert(page, url, hits)

    # Shown, not swallowed: the reader sees what the model wrote, character for character.
    page.goto(f"{live.url}/pairs/{pair.code}/?view=raw")
    text = page.inner_text("body")
    for name in ("script", "img", "htmx", "iframe", "template"):
        assert PAYLOADS[name] in text, f"{name} payload is not shown as text"
    page.goto(f"{live.url}/audit/")
    assert PAYLOADS["svg"] in page.inner_text("body")


def test_the_review_queue_keeps_payloads_inert_while_labelling(live, make_pair, page):
    make_pair(baseline=MARKDOWN, candidate=ALL, user_text=ALL, labels_wanted=1)
    user = User.objects.create_user("xena", password="xena-release-pass")
    user.groups.add(Group.objects.get_or_create(name="Reviewer")[0])
    hits: list[str] = []
    page.on("request", lambda request: hits.append(request.url) if HIT in request.url else None)
    page.add_init_script(LISTEN)
    _sign_in(page, live, "/review/")
    for view in ("rendered", "diff", "raw"):
        page.goto(f"{live.url}/review/?view={view}")
        _assert_inert(page, f"review {view}", hits)
    page.fill("#comment", PAYLOADS["htmx"] + PAYLOADS["img"])
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_selector(".revealed")
    _assert_inert(page, "review after labelling", hits)
    assert Label.objects.get().comment == PAYLOADS["htmx"] + PAYLOADS["img"]


def test_pages_of_production_data_stay_out_of_htmx_history(live, world, page):
    pair, _user = world
    _sign_in(page, live, "/pairs/")
    for url in ("/pairs/", f"/pairs/{pair.code}/", "/review/", f"/rollouts/{pair.rollout.code}/"):
        page.goto(f"{live.url}{url}")
        assert page.get_attribute("body", "hx-history") == "false", url
    # The pair list's filters push URLs through htmx: without hx-history="false" htmx would
    # copy the page, outputs included, into localStorage on the next navigation.
    page.goto(f"{live.url}/pairs/")
    page.select_option("select[name=verdict]", index=1)
    page.wait_for_load_state("networkidle")
    page.goto(f"{live.url}/rollouts/")
    cached = page.evaluate("window.localStorage.getItem('htmx-history-cache')")
    assert cached is None or "xss-hit" not in cached
