# ruff: noqa: RUF001  (real text: curly quotes, dashes and long lines are the point)
"""The outputs on the pair page and in the queue: rendered Markdown, a diff that reads, the raw
text, all inert and byte-exact; the diff stored once per pair."""

import re

import pytest

from comparisons.diffing import MAX_WORDS
from comparisons.models import ShadowPair
from comparisons.services import diffs
from tests.comparisons.rewrite_pairs import REWRITES


def _page(client_for, pair, query="") -> str:
    response = client_for("reviewer").get(f"/pairs/{pair.code}/{query}")
    assert response.status_code == 200
    return response.content.decode()


def test_markdown_is_rendered_not_shown_raw(client_for, make_pair):
    pair = make_pair("**Ships** on:\n\n- Monday\n- `Friday`", "**Ships** on Monday.")
    html = _page(client_for, pair, "?view=rendered")
    assert 'class="pair-outputs" data-view="rendered"' in html
    assert "<strong>Ships</strong>" in html and "<li>Monday</li>" in html
    assert "<code>Friday</code>" in html
    # The raw text is a click away, as written.
    assert "**Ships** on:" in html


def test_unsafe_output_stays_inert_in_every_view(client_for, make_pair):
    pair = make_pair(
        "<script>alert(1)</script> [x](javascript:alert(2)) ![i](https://t.example/p.png)",
        '<img src=x onerror="alert(3)"> <a href="https://evil.example">go</a>',
    )
    for view in ("rendered", "diff", "raw"):
        html = _page(client_for, pair, f"?view={view}")
        body = html.split('class="pair-outputs"', 1)[1]
        assert (
            "<script>alert" not in body
            and "<img" not in body
            and '<a href="https://evil' not in body
        )
        assert "javascript:alert(2)" not in re.findall(r'href="([^"]*)"', body)
        assert "&lt;script&gt;alert(1)" in body


def test_close_answers_show_word_marks_the_same_on_both_sides(client_for, make_pair):
    pair = make_pair("The parcel ships on Monday.", "The parcel ships on Friday.")
    html = _page(client_for, pair)
    assert 'class="pair-outputs" data-view="diff"' in html and "Diff by words" in html
    assert html.count('<mark class="diff" title="only in this output">') == 2
    assert ">Monday.</mark>" in html and ">Friday.</mark>" in html
    # Neither side is "deleted" or "inserted": that would tell a blinded reviewer which is new.
    assert "<del" not in html and "<ins" not in html


def test_a_rewrite_shows_sentence_marks_and_says_so(client_for, make_pair):
    old, new = REWRITES[0]
    html = _page(client_for, make_pair(old, new))
    assert "Diff by sentences" in html
    assert "If you only want to restart the router" in html
    assert '">If you only want to restart' not in html  # kept sentence: not marked


def test_a_diff_too_long_to_show_says_why(client_for, make_pair):
    long = " ".join(f"word{i}" for i in range(MAX_WORDS + 10))
    html = _page(client_for, make_pair(long, long + " and one more"))
    assert "No diff: the outputs are too long to compare" in html
    assert 'href="?view=diff"' not in html  # the toggle offers rendered and raw only


def test_identical_outputs_say_so(client_for, make_pair):
    html = _page(client_for, make_pair("Same.", "Same."), "?view=diff")
    assert (
        "The two outputs are identical." in html
        and 'class="pair-outputs" data-view="rendered"' in html
    )


def test_the_diff_is_stored_and_not_recomputed(client_for, make_pair, monkeypatch):
    pair = make_pair("The parcel ships on Monday.", "The parcel ships on Friday.")
    ShadowPair.objects.filter(pk=pair.pk).update(diff=None)  # a pair stored before the field
    _page(client_for, pair)
    stored = ShadowPair.objects.get(pk=pair.pk).diff
    assert stored["mode"] == "words" and len(stored["html"]) == 2

    def must_not_run(*args, **kwargs):
        raise AssertionError("the diff was recomputed")

    monkeypatch.setattr(diffs, "pair_diff", must_not_run)
    monkeypatch.setattr(diffs, "render_markdown", must_not_run)
    assert ">Friday.</mark>" in _page(client_for, pair)
    assert ">Friday.</mark>" in client_for("reviewer").get("/review/").content.decode()


def test_a_stored_diff_of_other_outputs_is_not_trusted(client_for, make_pair):
    pair = make_pair("The parcel ships on Monday.", "The parcel ships on Friday.")
    ShadowPair.objects.filter(pk=pair.pk).update(candidate_output="The parcel ships on Monday!")
    html = _page(client_for, pair)
    assert ">Monday!</mark>" in html


@pytest.mark.parametrize("view", ["rendered", "diff", "raw"])
def test_emoji_rtl_and_combining_marks_are_byte_exact(client_for, make_pair, view):
    text = "Hi 👩🏽‍💻 🇫🇷 — שלום עולם، مرحبا بالعالم; cafe\u0301 and n\u0303; ‘curly’ “quotes”"
    pair = make_pair(text, text + " Extra sentence here.")
    html = _page(client_for, pair, f"?view={view}")
    assert text in html


def test_the_toggle_links_keep_the_page_parameters(client_for, make_pair):
    make_pair("The parcel ships on Monday.", "The parcel ships on Friday.")
    html = client_for("reviewer").get("/review/?view=raw").content.decode()
    assert 'class="pair-outputs" data-view="raw"' in html and 'href="?view=rendered"' in html
    assert "js/pairview.js" in html
