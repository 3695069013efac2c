"""Markdown bodies rendered to HTML that is safe to insert in a page.

markdown-it-py renders CommonMark (with tables and strikethrough, as Decap's editor writes them);
nh3 (the Ammonia sanitizer) then keeps only safe tags and attributes, so a body that holds a
``<script>`` or an ``onclick`` cannot reach a reader's browser. Inline ``style`` is kept only on
table cells (where Markdown tables put their alignment), and only the properties in
``STYLE_PROPERTIES``: a body cannot lay a fixed overlay over the page, load an image from
elsewhere or hide text.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable(
    ["table", "strikethrough"]
)
_ATTRIBUTES = {
    **nh3.ALLOWED_ATTRIBUTES,
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"align", "style"},
    "td": {"align", "style"},
    "code": {"class"},
}


STYLE_PROPERTIES = {"text-align", "vertical-align"}


def render_markdown(text: str) -> str:
    """Sanitized HTML of a Markdown text."""
    return nh3.clean(
        _MARKDOWN.render(text),
        attributes=_ATTRIBUTES,
        filter_style_properties=STYLE_PROPERTIES,
        link_rel="noopener noreferrer",
        url_schemes={"http", "https", "mailto", "tel"},
    )
