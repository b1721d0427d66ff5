"""The published metadata: where the source, documentation and issues are, and who made it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

if sys.version_info < (3, 11):
    pytest.skip("tomllib is Python 3.11+", allow_module_level=True)

import tomllib

PROJECT = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())[
    "project"
]


def test_project_urls_name_source_documentation_and_issues() -> None:
    urls = PROJECT["urls"]
    assert {"Source", "Documentation", "Issues"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values())
    assert urls["Issues"].startswith(urls["Source"])


def test_the_author_is_the_projects_contributors_not_a_person() -> None:
    assert PROJECT["authors"] == [{"name": "The gmail_send contributors"}]


def test_keywords_say_what_it_is_for() -> None:
    assert {"gmail", "smtp", "oauth2", "asyncio", "django", "fastapi"} <= set(PROJECT["keywords"])


def test_the_docs_link_to_the_same_source() -> None:
    mkdocs = (Path(__file__).resolve().parent.parent / "mkdocs.yml").read_text()
    assert f"repo_url: {PROJECT['urls']['Source']}" in mkdocs
    assert f"site_url: {PROJECT['urls']['Documentation']}" in mkdocs
    index = (Path(__file__).resolve().parent.parent / "docs" / "index.md").read_text()
    assert "pip install gmail-send" in index
    assert f"]({PROJECT['urls']['Source']})" in index
