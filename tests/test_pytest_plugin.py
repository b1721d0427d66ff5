"""The pytest plugin, used the way a user's suite uses it: pytest run on a sample module."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"


def run_pytest(
    directory: Path, *, autoload: bool = False, path: tuple[Path, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run pytest in `directory`: with the plugins named here, or (`autoload`) with every
    plugin installed through an entry point."""
    environ = dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, (ROOT, *path))))
    options = ["-p", "no:cacheprovider", "-q"]
    if not autoload:
        environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        options += ["-p", "gmail_send.testing._pytest_plugin", "-p", "pytest_asyncio.plugin"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *options],
        cwd=directory,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_sample_suite_passes_with_the_fixtures(tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "test_app_emails.py", tmp_path / "test_app_emails.py")
    (tmp_path / "pytest.ini").write_text(INI)
    run = run_pytest(tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout


def test_missing_testing_extra_fails_only_the_tests_that_need_it(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text(INI)
    # As if aiosmtpd were not installed: importing it raises ImportError.
    (tmp_path / "conftest.py").write_text("import sys\n\nsys.modules['aiosmtpd'] = None\n")
    (tmp_path / "test_sample.py").write_text(
        "def test_unrelated():\n"
        "    assert 1 + 1 == 2\n"
        "\n"
        "def test_with_outbox(gmail_outbox):\n"
        "    pass\n"
        "\n"
        "def test_with_server(local_gmail):\n"
        "    pass\n"
    )
    run = run_pytest(tmp_path)
    output = run.stdout + run.stderr
    assert "2 passed, 1 error" in run.stdout, output
    assert "pip install 'gmail-send[testing]'" in output
    assert "Traceback" not in output


def test_plugin_loads_through_a_pytest11_entry_point(tmp_path: Path) -> None:
    # A distribution declaring the entry point the package declares, found on sys.path.
    metadata = tmp_path / "site" / "gmail_send_entry_point-0.dist-info"
    metadata.mkdir(parents=True)
    (metadata / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: gmail-send-entry-point\nVersion: 0\n"
    )
    (metadata / "entry_points.txt").write_text(
        "[pytest11]\ngmail_send = gmail_send.testing._pytest_plugin\n"
    )
    tests = tmp_path / "tests"
    tests.mkdir()
    shutil.copy(ROOT / "examples" / "test_app_emails.py", tests / "test_app_emails.py")
    (tests / "pytest.ini").write_text(INI)
    run = run_pytest(tests, autoload=True, path=(tmp_path / "site",))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout
