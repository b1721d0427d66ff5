"""docs/cli.md shows the real output of the commands: regenerating it changes nothing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .cli_helpers import preserved_logging

ROOT = Path(__file__).resolve().parent.parent


def test_cli_page_matches_a_fresh_run() -> None:
    spec = importlib.util.spec_from_file_location("cli_examples", ROOT / "docs" / "cli_examples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    with preserved_logging():
        fresh = module.generate()
    assert fresh == page, "docs/cli.md is out of date: run python docs/cli_examples.py"


def test_cli_page_links_the_reply_table() -> None:
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    errors = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert "errors.md#the-replies-gmail-sends" in page
    assert "## The replies Gmail sends" in errors
