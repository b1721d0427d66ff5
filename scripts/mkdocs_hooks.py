"""MkDocs hook: make the screenshots the pages show when they are missing.

The screenshots (docs/images/screenshots/, not committed) are made by scripts/screenshots.py
from the real inbox page and `gmail-send doctor`. CI runs that script before building; for
anyone else this hook runs it once, before the build, when a screenshot is missing, so
`mkdocs build --strict` keeps working from a fresh clone (with the [test] extra and Debian's
chromium installed). If it cannot, the build stops saying what to install.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "docs" / "images" / "screenshots"
EXPECTED = ("local-inbox.png", "local-inbox-message.png", "doctor.png")


def on_pre_build(config: Any) -> None:
    """Run scripts/screenshots.py when a screenshot the pages link to is missing."""
    if all((SCREENSHOTS / name).is_file() for name in EXPECTED):
        return
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(ROOT / "scripts" / "screenshots.py"), str(SCREENSHOTS)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0 or not all((SCREENSHOTS / name).is_file() for name in EXPECTED):
        raise PluginError(
            "the documentation's screenshots are missing and scripts/screenshots.py could not "
            "make them (it needs pip install -e '.[test]' and apt-get install chromium):\n"
            + (done.stderr or done.stdout)[-2000:]
        )
