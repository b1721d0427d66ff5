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
    "ja/index.md",
    "ja/troubleshooting.md",
    "transports.md",
    "ja/transports.md",
]
_NAV_ENTRY = re.compile(r"^\s*- (?:[^:]+: )?([\w./-]+\.md)\s*$")
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def nav_pages() -> list[str]:
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text[text.index("\nnav:\n") :]
    return [m.group(1) for line in nav.splitlines() if (m := _NAV_ENTRY.match(line))]


def test_every_page_is_in_the_navigation() -> None:
    pages = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    in_nav = nav_pages()
    assert len(in_nav) == len(set(in_nav)), "a page is listed twice in mkdocs.yml"
    assert pages <= set(in_nav), f"add to the nav of mkdocs.yml: {sorted(pages - set(in_nav))}"


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
