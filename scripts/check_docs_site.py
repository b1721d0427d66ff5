"""Check a built documentation site: the Japanese pages speak Japanese, the English ones English.

    mkdocs build --strict --site-dir SITE && python scripts/check_docs_site.py SITE

`mkdocs build --strict` proves the pages build; this proves what the i18n plugin is for: the
Japanese pages declare `lang="ja"` and have a Japanese interface (search, table of contents),
long command lines wrap instead of being cut off, and the screenshots are in the site.
Exits 1 naming every failed check.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

JAPANESE_PAGES = ("ja/index.html", "ja/troubleshooting/index.html")
ENGLISH_PAGES = ("index.html", "cli/index.html")


def problems(site: Path) -> list[str]:
    """Everything wrong with the site at `site`, or an empty list."""
    found = []
    for page, lang, search in [(p, "ja", "検索") for p in JAPANESE_PAGES] + [
        (p, "en", "Search") for p in ENGLISH_PAGES
    ]:
        path = site / page
        if not path.is_file():
            found.append(f"{page} was not built")
            continue
        html = path.read_text(encoding="utf-8")
        declared = re.search(r"<html lang=\"([^\"]+)\"", html)
        if declared is None or declared.group(1) != lang:
            found.append(f"{page}: <html lang> is {declared and declared.group(1)!r}, not {lang!r}")
        if f'placeholder="{search}"' not in html:
            found.append(f"{page}: the search box is not labelled {search!r}")
    if "目次" not in (site / JAPANESE_PAGES[1]).read_text(encoding="utf-8"):
        found.append(f"{JAPANESE_PAGES[1]}: the table of contents is not titled 目次")
    for name in ("local-inbox.png", "local-inbox-message.png", "doctor.png"):
        if not (site / "images" / "screenshots" / name).is_file():
            found.append(f"the screenshot {name} is not in the site")
    cli = (site / "cli/index.html").read_text(encoding="utf-8")
    if 'class="language-console highlight"' not in cli or "stylesheets/extra.css" not in cli:
        found.append("cli/index.html: console blocks lack the class or stylesheet that wraps them")
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} SITE_DIR", file=sys.stderr)
        return 2
    found = problems(Path(argv[1]))
    for problem in found:
        print(f"docs site: {problem}", file=sys.stderr)
    if not found:
        print("docs site: Japanese pages lang=ja with a Japanese interface; console blocks wrap")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
