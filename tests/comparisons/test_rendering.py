# ruff: noqa: RUF001, E501  (real text: curly quotes, dashes and long lines are the point)
"""Model output rendered as Markdown: readable, and inert whatever the model wrote."""

import pytest

from comparisons.rendering import marked_html, render_markdown


@pytest.mark.parametrize(
    ("text", "forbidden"),
    [
        ("<script>alert(1)</script>", "<script"),
        ('<img src=x onerror="alert(2)">', "<img"),
        ("<div onclick='alert(3)'>hi</div>", "<div"),
        ('<a href="javascript:alert(4)">x</a>', "<a"),
        ("[click](javascript:alert(5))", "href"),
        ("<iframe src=https://evil.example></iframe>", "<iframe"),
        ("<!-- a comment --><style>body{}</style>", "<style"),
        ('**bold** <span style="color:red" onmouseover="x()">s</span>', "<span style"),
    ],
)
def test_raw_html_and_scripts_in_output_come_out_as_text(text, forbidden):
    html = render_markdown(text)
    assert forbidden not in html
    assert "&lt;" in html or forbidden in ("href",)


def test_links_are_inert_and_show_where_they_point():
    html = render_markdown("See [the docs](https://docs.example/guide) or <https://x.example>.")
    assert "<a" not in html and "href" not in html
    assert '<span class="link">the docs</span>' in html
    assert "(https://docs.example/guide)" in html
    assert "https://x.example" in html


def test_images_are_not_loaded_but_named():
    html = render_markdown('![a cat](https://img.example/cat.png "t")')
    assert "<img" not in html and "src=" not in html
    assert "[image: a cat]" in html and "(https://img.example/cat.png)" in html


def test_markdown_is_rendered_with_code_tables_and_strikethrough():
    text = "# Title\n\n- one\n- two\n\n```python\nx = '<b>'\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n~~old~~"
    html = render_markdown(text)
    assert "<h1>Title</h1>" in html and "<li>one</li>" in html
    assert "<pre><code>x = '&lt;b&gt;'\n</code></pre>" in html
    assert "<td>1</td>" in html and "<s>old</s>" in html


def test_text_survives_byte_exact():
    text = "Emoji 👩🏽‍💻 🇫🇷, RTL שלום עולם مرحبا, combining e\u0301 and n\u0303, ‘curly’ “quotes”"
    assert text in render_markdown(text)
    assert str(marked_html(text, [[0, 5]])).endswith(text[5:])


def test_marks_are_the_same_neutral_mark_and_escape_the_text():
    html = str(marked_html("a <b> c", [[2, 5]]))
    assert html == 'a <mark class="diff" title="only in this output">&lt;b&gt;</mark> c'
