"""The documentation site: every page is in the navigation, and the code in the guides parses.

`mkdocs build --strict` (CI, with the `[docs]` extra) checks links and the API reference; these
checks need no docs tools, so they run with the test suite.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

GUIDES = [
    "quickstart.md",
    "app-passwords.md",
    "composing.md",
    "integrations.md",
    "testing.md",
    "index.ja.md",
    "troubleshooting.ja.md",
]
_NAV_ENTRY = re.compile(r"^\s*- (?:[^:]+: )?([\w./-]+\.md)\s*$")
_TRANSLATION = re.compile(r"^(.*)\.(ja)\.md$")
"""A translated page of the i18n plugin's suffix layout: `page.ja.md` beside `page.md`."""
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def nav_pages(section: str = "\nnav:\n", end: str | None = None) -> list[str]:
    """The pages listed in the nav that starts at `section` (up to `end`) of mkdocs.yml."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text[text.index(section) :]
    if end is not None:
        nav = nav[: nav.index(end)]
    return [m.group(1) for line in nav.splitlines() if (m := _NAV_ENTRY.match(line))]


def japanese_nav() -> list[str]:
    """The Japanese build's nav, under the i18n plugin's `- locale: ja`."""
    return nav_pages("- locale: ja", "\nvalidation:")


def test_every_page_is_in_the_navigation() -> None:
    pages = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    english = {page for page in pages if not _TRANSLATION.match(page)}
    in_nav = nav_pages()
    assert len(in_nav) == len(set(in_nav)), "a page is listed twice in mkdocs.yml"
    assert english <= set(in_nav), f"add to the nav of mkdocs.yml: {sorted(english - set(in_nav))}"
    in_japanese_nav = japanese_nav()
    assert len(in_japanese_nav) == len(set(in_japanese_nav))
    for page in pages - english:
        match = _TRANSLATION.match(page)
        assert match is not None
        assert f"{match.group(1)}.md" in in_japanese_nav, (
            f"{page}: list {match.group(1)}.md in the nav of the ja language in mkdocs.yml"
        )


def test_japanese_pages_use_the_plugins_layout() -> None:
    assert not (DOCS / "ja").exists(), "Japanese pages are page.ja.md beside page.md"
    assert japanese_nav()[:2] == ["index.md", "troubleshooting.md"]


@pytest.mark.parametrize("page", GUIDES)
def test_python_blocks_parse(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    blocks = _PYTHON_BLOCK.findall(text)
    assert blocks, f"{page} has no Python example"
    for block in blocks:
        if block.startswith("--8<--"):  # a file included by pymdownx.snippets
            path = ROOT / block.split('"')[1]
            assert path.is_file(), f"{page} includes a missing file: {path}"
            continue
        compile(block, page, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
