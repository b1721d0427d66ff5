"""A real browser for the tests of the local inbox page: Debian's Chromium driven by Playwright.

Playwright's own browser download cannot run here, so it drives the system's Chromium
(`apt-get install chromium`, which .ci/run does) with `--no-sandbox`, as CI runs as root. Where
the browser or Playwright is missing, the tests that need it are skipped, except under CI
(`CI=true`), where they fail: a green run must have looked at the page.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM_NAMES = ("chromium", "chromium-browser")


def chromium_path() -> str | None:
    """The system's Chromium, if installed."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    return None


def missing(reason: str) -> NoReturn:
    """Skip locally; fail under CI, where the browser must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """A headless Chromium for the module's tests."""
    executable = chromium_path()
    if executable is None:
        missing("no chromium on PATH: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed: pip install -e '.[test]'")
    assert executable is not None
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()
