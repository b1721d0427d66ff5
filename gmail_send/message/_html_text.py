"""A plain-text version of an HTML body, for templates that give only HTML.

Gmail and spam filters prefer multipart/alternative with both parts, so a template with only an
HTML file still gets a text part. This is a small converter of our own on the standard
library's `html.parser`: the permissively licensed converters worth having (inscriptis,
html-text, markdownify) pull in lxml or BeautifulSoup for a job this size, and html2text is GPL.
E-mail HTML is simple enough: paragraphs and headings become blocks separated by a blank line,
`<br>` a line break, list items `- ` lines, links `text (url)`, images their alt text, table
cells are separated by spaces and rows by line breaks; `<pre>` keeps its spacing and `<head>`,
`<style>` and `<script>` are dropped. Character references are decoded by the parser.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["html_to_text"]

_BLOCKS = {
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tr",
    "ul",
}
_PARAGRAPHS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol", "pre"}
_DROPPED = {"head", "script", "style", "template", "title"}
_CELLS = {"td", "th"}
_SPACES = re.compile(r"[ \t\r\n\f\v]+")


class _TextWriter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self._blank_wanted = False
        self._dropping = 0
        self._pre = 0
        self._lists: list[int | None] = []  # None: ul, a number: the next item of an ol
        self._links: list[tuple[str | None, int, int]] = []  # href, line, column
        self._cell_started = False

    # -- writing ---------------------------------------------------------------------------

    def _write(self, text: str) -> None:
        if self._blank_wanted:
            self._blank_wanted = False
            while len(self.lines) > 1 and not self.lines[-1].strip():
                self.lines.pop()
            if self.lines[-1].strip():
                self.lines += ["", ""]
            else:
                self.lines[-1] = ""
        parts = text.split("\n")
        self.lines[-1] += parts[0]
        self.lines.extend(parts[1:])

    def _break(self, *, blank: bool = False) -> None:
        if self.lines[-1].strip():
            self.lines.append("")
        if blank:
            self._blank_wanted = True

    # -- the parser's callbacks ------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self._dropping += 1
            return
        attributes = dict(attrs)
        if tag in _BLOCKS:
            self._break(blank=tag in _PARAGRAPHS)
        if tag == "br":
            self._write("\n")
        elif tag == "hr":
            self._write("-" * 20)
            self._break()
        elif tag == "pre":
            self._pre += 1
        elif tag == "ul":
            self._lists.append(None)
        elif tag == "ol":
            self._lists.append(1)
        elif tag == "li":
            self._list_item()
        elif tag == "a":
            self._links.append((attributes.get("href"), len(self.lines) - 1, len(self.lines[-1])))
        elif tag == "img":
            alt = _SPACES.sub(" ", attributes.get("alt") or "").strip()
            if alt:
                self._inline(alt)
        elif tag in _CELLS:
            if self._cell_started:
                self._write("  ")
            self._cell_started = True
        elif tag == "tr":
            self._cell_started = False

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "hr", "img"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self._dropping = max(0, self._dropping - 1)
            return
        if tag == "pre":
            self._pre = max(0, self._pre - 1)
        elif tag in ("ul", "ol") and self._lists:
            self._lists.pop()
        elif tag == "a" and self._links:
            self._end_link()
        if tag in _BLOCKS:
            self._break(blank=tag in _PARAGRAPHS)

    def handle_data(self, data: str) -> None:
        if self._dropping:
            return
        if self._pre:
            self._write(data)
        else:
            self._inline(_SPACES.sub(" ", data))

    # -- helpers ---------------------------------------------------------------------------

    def _inline(self, text: str) -> None:
        if not self.lines[-1].strip() and not self._blank_wanted:
            text = text.lstrip()
        elif self.lines[-1].endswith(" ") and text.startswith(" "):
            text = text[1:]
        if text:
            self._write(text)

    def _list_item(self) -> None:
        depth = max(len(self._lists) - 1, 0)
        kind = self._lists[-1] if self._lists else None
        if kind is None:
            marker = "- "
        else:
            marker = f"{kind}. "
            self._lists[-1] = kind + 1
        self._write("  " * depth + marker)

    def _end_link(self) -> None:
        href, line, column = self._links.pop()
        if not href or href.startswith(("#", "cid:", "javascript:")):
            return
        shown = "\n".join([self.lines[line][column:], *self.lines[line + 1 :]]).strip()
        target = href.removeprefix("mailto:") if href.startswith("mailto:") else href
        if shown in (href, target):
            return
        self._inline(f" ({target})" if shown else target)


def html_to_text(html: str) -> str:
    """A readable plain-text version of `html` (see the module's docstring for the rules)."""
    writer = _TextWriter()
    writer.feed(html)
    writer.close()
    lines = [line.rstrip() for line in writer.lines]
    text = "\n".join(lines).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text) + "\n"
