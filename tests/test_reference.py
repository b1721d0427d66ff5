"""docs/reference.md documents every public name, and only under public import paths.

The page is a list of mkdocstrings directives (`::: gmail_send.auth.AppPassword`, optionally with
a `members:` list under `options:`). `mkdocs build --strict` (CI, with the `[docs]` extra)
checks that each one renders; these checks need no docs tools: they read the page as text.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference.md"
PLUGIN = ROOT / "gmail_send" / "testing" / "_pytest_plugin.py"

PUBLIC_MODULES = [
    "gmail_send",
    "gmail_send.message",
    "gmail_send.merge",
    "gmail_send.auth",
    "gmail_send.doctor",
    "gmail_send.smtp",
    "gmail_send.api",
    "gmail_send.testing",
    "gmail_send.queue",
]
NOT_IN_REFERENCE = {("gmail_send", "__version__")}

_DIRECTIVE = re.compile(r"^::: (\S+)[ \t]*$")
_PRIVATE_PATH = re.compile(r"\bgmail_send(?:\.\w+)*\._\w+")


def directives(text: str) -> dict[str, list[str] | None]:
    """Each `::: path` of the page -> its `members:` (None when not given: all of `__all__`)."""
    found: dict[str, list[str] | None] = {}
    lines = text.splitlines()
    for number, line in enumerate(lines):
        match = _DIRECTIVE.match(line)
        if match is None:
            continue
        block = []
        for following in lines[number + 1 :]:
            if following and not following[0].isspace():
                break
            block.append(following)
        path = match.group(1)
        assert path not in found, f"reference.md documents {path} twice"
        found[path] = members(block, path)
    return found


def members(block: list[str], path: str) -> list[str] | None:
    """The `members:` option of one directive's indented block: a list, false, or absent."""
    for index, line in enumerate(block):
        key, _, value = line.strip().partition(":")
        if key != "members":
            continue
        value = value.strip()
        if value in ("false", "[]"):
            return []
        if value.startswith("["):
            return [name.strip().strip("'\"") for name in value.strip("[]").split(",")]
        assert not value, f"{path}: cannot read `members: {value}`"
        items = []
        for item in block[index + 1 :]:
            if not item.strip().startswith("- "):
                break
            items.append(item.strip()[2:].strip().strip("'\""))
        return items
    return None


def source_file(path: str) -> Path | None:
    """The source of module `path`, or None when `path` names something inside a module."""
    base = ROOT.joinpath(*path.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def static_all(module_file: Path) -> list[str]:
    """A module's `__all__`, read without importing it (contrib.django needs Django)."""
    for node in ast.parse(module_file.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                assert node.value is not None
                return list(ast.literal_eval(node.value))
    return []


def documented_paths() -> set[str]:
    """Every dotted path the page renders: the directives and the members they list."""
    paths = set()
    for path, listed in directives(REFERENCE.read_text(encoding="utf-8")).items():
        paths.add(path)
        module_file = source_file(path)
        if listed is None and module_file is not None:
            listed = static_all(module_file)
        paths.update(f"{path}.{name}" for name in listed or ())
    return paths


def is_documented(module: str, name: str, paths: set[str]) -> bool:
    """Whether `module.name` is on the page under its own path or another public one."""
    if f"{module}.{name}" in paths:
        return True
    value = getattr(importlib.import_module(module), name)
    for path in paths:
        parent, _, last = path.rpartition(".")
        if last != name or source_file(parent) is None:
            continue
        if getattr(importlib.import_module(parent), name, None) is value:
            return True
    return False


def public_names() -> list[tuple[str, str]]:
    return [
        (module, name)
        for module in PUBLIC_MODULES
        for name in importlib.import_module(module).__all__
        if (module, name) not in NOT_IN_REFERENCE
    ]


def test_the_page_is_read() -> None:
    found = directives(REFERENCE.read_text(encoding="utf-8"))
    assert "gmail_send.GmailSender" in found
    assert found["gmail_send.auth"] == []  # members: false
    assert found["gmail_send.errors"] is None
    assert "gmail_send.errors.GmailSendError" in documented_paths()


@pytest.mark.parametrize(("module", "name"), public_names())
def test_every_public_name_is_in_the_reference(module: str, name: str) -> None:
    assert is_documented(module, name, documented_paths()), (
        f"docs/reference.md does not document {module}.{name}: add `::: {module}.{name}` "
        "(or the path of the public module it comes from) to the matching section"
    )


def test_no_directive_names_a_private_path() -> None:
    private = sorted(
        path for path in documented_paths() if any(part.startswith("_") for part in path.split("."))
    )
    assert not private, f"use the public import path instead of: {private}"


def test_no_page_shows_a_private_module_path() -> None:
    shown = {
        f"{page.relative_to(DOCS)}: {path}"
        for page in DOCS.rglob("*.md")
        for path in _PRIVATE_PATH.findall(page.read_text(encoding="utf-8"))
    }
    assert not shown, f"private module paths shown to readers: {sorted(shown)}"


def test_every_pytest_fixture_is_in_the_reference() -> None:
    tree = ast.parse(PLUGIN.read_text(encoding="utf-8"))
    fixtures = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any("fixture" in ast.unparse(decorator) for decorator in node.decorator_list)
    ]
    assert fixtures, "the plugin's fixtures were not found"
    page = REFERENCE.read_text(encoding="utf-8")
    missing = [name for name in fixtures if f"| `{name}` |" not in page]
    assert not missing, f"add to the pytest plugin table of docs/reference.md: {missing}"
