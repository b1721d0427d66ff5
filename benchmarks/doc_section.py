"""Each benchmark writes its own section of docs/performance.md and leaves the rest alone."""

from __future__ import annotations

from pathlib import Path


def replace_section(doc: Path, start: str, end: str, text: str) -> None:
    """Put `text` (which begins with `start` and ends with `end`) in place of the section
    between those markers in `doc`, or append it when the page has none yet."""
    old = doc.read_text(encoding="utf-8") if doc.exists() else ""
    if start in old and end in old:
        before = old[: old.index(start)]
        after = old[old.index(end) + len(end) :].lstrip("\n")
        new = before + text + ("\n" + after if after else "")
    else:
        new = old.rstrip("\n") + "\n\n" + text
    doc.write_text(new, encoding="utf-8")
    print(f"wrote {doc}")
