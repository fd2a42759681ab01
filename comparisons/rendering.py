"""Model output as a reviewer reads it: Markdown rendered safely, or text with diff marks.

Model output is untrusted text. Three layers keep it inert:
1. markdown-it runs with `html=False`, so raw HTML in the output comes out as escaped text;
2. links and images are rendered by our own rules as plain spans that show the URL (a reviewer
   must not be one click away from a URL a model made up, and an image would be fetched by the
   reviewer's browser, telling its host who reads the pair);
3. the HTML is passed through nh3 with a short allow-list of tags and no attributes except a
   few fixed classes, in case a renderer rule or a plugin ever lets something through.
"""

from collections.abc import Sequence
from html import escape
from typing import Any

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "li",
    "strong", "em", "s", "del", "code", "pre", "table", "thead", "tbody", "tr", "th", "td",
    "span",
}  # fmt: skip
ALLOWED_CLASSES = {"span": {"link", "link-url", "image"}}


def _link_open(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return '<span class="link">'


def _link_close(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    # Find the matching link_open to show its target after the text, unless the text already is
    # the URL (an autolink).
    depth = 0
    for j in range(idx - 1, -1, -1):
        token = tokens[j]
        if token.type == "link_close":
            depth += 1
        elif token.type == "link_open":
            if depth == 0:
                href = str(token.attrGet("href") or "")
                if token.markup == "autolink" or not href:
                    return "</span>"
                return f'</span> <span class="link-url">({escape(href)})</span>'
            depth -= 1
    return "</span>"


def _image(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    alt = renderer.renderInlineAsText(token.children or [], options, env)
    src = str(token.attrGet("src") or "")
    return (
        f'<span class="image">[image: {escape(alt)}] '
        f'<span class="link-url">({escape(src)})</span></span>'
    )


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("link_close", _link_close)
    md.add_render_rule("image", _image)
    return md


_MD = _parser()


def sanitise(html: str) -> str:
    """The allow-list pass (the last of the three layers above)."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes={},
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=set(),
        link_rel=None,
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    """`text` (model output, untrusted) as sanitised HTML."""
    return sanitise(_MD.render(text))


def marked_html(text: str, marks: Sequence[Sequence[int]]) -> SafeString:
    """`text` escaped, with each [start, end) range in `marks` (sorted, not overlapping) wrapped
    in the same neutral <mark> on both sides (see the note on blinding in diffing.py)."""
    out: list[str] = []
    pos = 0
    for start, end in marks:
        out.append(escape(text[pos:start], quote=False))
        marked = escape(text[start:end], quote=False)
        out.append(f'<mark class="diff" title="only in this output">{marked}</mark>')
        pos = end
    out.append(escape(text[pos:], quote=False))
    return mark_safe("".join(out))  # noqa: S308 - every piece of `text` is escaped above


def trusted(html: Any) -> SafeString:
    """HTML kept in the database by `render_markdown`, sanitised again on the way out, so a row
    written by an older (or tampered) version can never put live HTML on the page."""
    return mark_safe(sanitise(str(html)))  # noqa: S308 - nh3 allow-list just applied
