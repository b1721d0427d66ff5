"""The rows of a mail merge: who gets a message and what its template is rendered with.

A CSV file has a header row; one column is the address, the others are the context (strings).
A file named `*.jsonl` or `*.ndjson` holds one JSON object a line instead; its values may be
any JSON. A recipients file (`gmail-send send --to-file`) is one address a line, no context.

Each row has a `key` that identifies it by content, not position: a hash of its address and
context, with `-2`, `-3`, ... for repeats. A resume journal records outcomes by key, so a
file that was edited between runs (a row fixed, added or moved) still matches what was sent.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..auth._json import parse_json
from ..errors import MessageError

__all__ = ["ADDRESS_COLUMNS", "MergeRow", "read_address_lines", "read_merge_file"]

ADDRESS_COLUMNS = ("to", "email", "e-mail", "email_address", "address")
"""Column names taken as the address when none is named (case-insensitive, first found)."""

JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")


@dataclass(frozen=True)
class MergeRow:
    """One message of a merge.

    Args:
        number: the row's place in its file (1 = the first row after a CSV header; the line
            number for JSON Lines and recipients files).
        to: the recipient (an address, or an address list) as the file gives it.
        context: what the template is rendered with.
        key: the row's identity across runs (see `gmail_send.merge`).
    """

    number: int
    to: str
    context: Mapping[str, Any] = field(default_factory=dict)
    key: str = ""


def _keyed(rows: Iterable[tuple[int, str, Mapping[str, Any]]]) -> list[MergeRow]:
    seen: dict[str, int] = {}
    keyed = []
    for number, to, context in rows:
        canonical = json.dumps([to, context], sort_keys=True, ensure_ascii=False, default=str)
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:20]
        seen[digest] = seen.get(digest, 0) + 1
        key = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
        keyed.append(MergeRow(number, to, context, key))
    return keyed


def read_address_lines(lines: Sequence[str]) -> list[MergeRow]:
    """Rows of a recipients file: one address (or `Name <address>`) a line; blank lines and
    lines starting with # are skipped.

    Args:
        lines: the file's lines; a row's `number` is its line number.
    """
    return _keyed(
        (number, line.strip(), {})
        for number, line in enumerate(lines, 1)
        if line.strip() and not line.lstrip().startswith("#")
    )


def read_merge_file(path: str | Path, *, to_column: str | None = None) -> list[MergeRow]:
    """The rows of a CSV or JSON Lines file (by its extension).

    Args:
        path: the file; `*.jsonl` and `*.ndjson` are JSON Lines, anything else CSV (UTF-8,
            with or without a byte-order mark).
        to_column: the column (key) holding the address; default: the first of
            `ADDRESS_COLUMNS` present.

    Raises:
        MessageError: the file cannot be read as rows, or it has no address column.
        OSError: the file cannot be opened.
    """
    location = Path(path)
    text = location.read_bytes().decode("utf-8-sig", errors="strict")
    if location.suffix.lower() in JSON_LINES_SUFFIXES:
        rows = _json_lines(text, location.name, to_column)
    else:
        rows = _csv_rows(text, location.name, to_column)
    if not rows:
        raise MessageError(f"{location.name} holds no row")
    return _keyed(rows)


def _address_key(names: Iterable[str], wanted: str | None, where: str) -> str:
    present = list(names)
    if wanted is not None:
        if wanted not in present:
            raise MessageError(
                f"{where} has no column {wanted!r}",
                hint=f"its columns are: {', '.join(present) or 'none'}",
            )
        return wanted
    for candidate in ADDRESS_COLUMNS:
        for name in present:
            if name.strip().lower() == candidate:
                return name
    raise MessageError(
        f"{where} has no address column (one of {', '.join(ADDRESS_COLUMNS)})",
        hint="name it with --to-column" if present else "the first row must name the columns",
    )


def _csv_rows(text: str, name: str, to_column: str | None) -> list[tuple[int, str, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return []
    column = _address_key(header, to_column, name)
    rows = []
    for number, values in enumerate(reader, 1):
        if not any(value.strip() for value in values):
            continue
        if len(values) > len(header):
            raise MessageError(
                f"{name}, row {number}: {len(values)} fields, but the header names {len(header)}",
                hint="quote fields that hold commas",
            )
        record = dict(zip(header, [*values, *[""] * (len(header) - len(values))], strict=True))
        to = record.pop(column).strip()
        rows.append((number, to, record))
    return rows


def _json_lines(text: str, name: str, to_column: str | None) -> list[tuple[int, str, Any]]:
    rows = []
    column: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = parse_json(line)
        except ValueError as exc:
            raise MessageError(f"{name}, line {number} is not JSON: {exc}") from None
        if not isinstance(record, dict):
            raise MessageError(f"{name}, line {number} is not a JSON object")
        if column is None:
            column = _address_key(record, to_column, f"{name}, line {number}")
        to = record.pop(column, None)
        if not isinstance(to, str):
            raise MessageError(f"{name}, line {number}: {column!r} must be a string address")
        rows.append((number, to.strip(), record))
    return rows
