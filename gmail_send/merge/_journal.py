"""The resume journal of a merge: each row's outcome, on disk before anything depends on it.

An append-only JSON Lines file. Its first line names the campaign (a random id that, with a
row's key, makes the row's Message-ID); then, per row:

    {"row": KEY, "state": "sending", "number": 3, "to": "...", "message_id": "<...>"}
    {"row": KEY, "state": "sent" | "failed" | "unknown", ...}

The order is what makes a crash safe. "sending" is written and fsynced before the message
goes out; the outcome is written and fsynced after Gmail's reply. So a row recorded "sent"
was accepted, a row recorded "failed" was not (only failures where Gmail cannot have accepted
the message are recorded so), and a row left at "sending" (the process died in between, or
the connection broke after the body) may or may not have been: it is reported as unknown and
never sent again by a later run. Its Message-ID is recorded, so Sent Mail can tell. A line
cut short by a crash was never fsynced, so nothing was sent on its strength: it is dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from ..auth._json import parse_json
from ..errors import ConfigurationError

__all__ = ["JOURNAL_FORMAT", "RecordedState", "ResumeJournal"]

JOURNAL_FORMAT = "gmail-send merge journal 1"

RecordedState = Literal["sending", "sent", "failed", "unknown"]


class ResumeJournal:
    """The outcomes of a merge's rows, read from and appended to one file.

    Open with `ResumeJournal.open(path, template=...)`; the file is created when missing.
    Appends are thread-safe and each is fsynced before it returns.

    Args:
        path: the journal file.
        campaign: the random id of this merge, kept in the journal's first line.
        states: what the journal holds about each row, by row key, as `state()` gives it.
    """

    def __init__(self, path: Path, campaign: str, states: dict[str, dict[str, Any]]) -> None:
        self.path = path
        self.campaign = campaign
        """The random id of this merge, part of every row's Message-ID."""
        self._states = states
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<ResumeJournal {str(self.path)!r} rows={len(self._states)}>"

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, template: str | None) -> ResumeJournal:
        """Read the journal at `path`, or start one there.

        Args:
            path: the journal file.
            template: the template the merge renders; a journal written for another one is
                refused (its rows' outcomes say nothing about this merge).

        Raises:
            ConfigurationError: the file is not a journal, or one for another template.
        """
        location = Path(path)
        existing = _read(location) if location.exists() else None
        if existing is None:
            campaign = secrets.token_hex(8)
            header = {
                "journal": JOURNAL_FORMAT,
                "campaign": campaign,
                "template": template,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
            _append_line(location, header)
            _sync_directory(location.parent)
            return cls(location, campaign, {})
        header, records = existing
        if header.get("template") != template:
            raise ConfigurationError(
                f"{location} records a merge with template {header.get('template')!r}, "
                f"not {template!r}",
                hint="give each merge a journal of its own (a new --resume file)",
            )
        states: dict[str, dict[str, Any]] = {}
        for record in records:
            key = record.get("row")
            if isinstance(key, str):
                states[key] = {**states.get(key, {}), **record}
        return cls(location, str(header["campaign"]), states)

    def state(self, key: str) -> dict[str, Any] | None:
        """What the journal holds about row `key` (its last record merged over the earlier
        ones: `state`, `message_id`, `number`, `to`, `error`), or None.

        Args:
            key: the row's identity across runs (`MergeRow.key`).
        """
        found = self._states.get(key)
        return dict(found) if found is not None else None

    def message_id(self, key: str, domain: str) -> str:
        """Row `key`'s Message-ID: the recorded one, else one made of the campaign and key.

        Args:
            key: the row's identity across runs (`MergeRow.key`).
            domain: the Message-ID's domain (the sender's) when a new one is made.
        """
        recorded = self._states.get(key, {}).get("message_id")
        if isinstance(recorded, str):
            return recorded
        digest = hashlib.sha256(f"{self.campaign}:{key}".encode()).hexdigest()[:24]
        return f"<merge.{self.campaign}.{digest}@{domain}>"

    def record(self, key: str, state: RecordedState, **details: Any) -> None:
        """Append `state` for row `key` and fsync it before returning (blocking: call it
        from a worker thread in async code).

        Args:
            key: the row's identity across runs (`MergeRow.key`).
            state: "sending" (before the send), "sent", "failed" or "unknown" (the outcome).
            **details: further fields of the record, e.g. `message_id` or `error`.
        """
        record = {"row": key, "state": state, **details}
        with self._lock:
            _append_line(self.path, record)
            self._states[key] = {**self._states.get(key, {}), **record}


def _append_line(path: Path, record: Mapping[str, Any]) -> None:
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, line.encode("utf-8"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sync_directory(folder: Path) -> None:
    """Make a new file's directory entry durable (where the platform allows)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _read(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The header and the records, or None for a file with no whole line yet."""
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        # The last line was cut short by a crash: never fsynced, so nothing relied on it.
        cut = data.rfind(b"\n") + 1
        with path.open("r+b") as file:
            file.truncate(cut)
            os.fsync(file.fileno())
        data = data[:cut]
    lines = data.decode("utf-8", errors="replace").splitlines()
    if not lines:
        return None
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        try:
            record = parse_json(line)
        except ValueError:
            record = None
        if number == 1 and not (
            isinstance(record, dict) and record.get("journal") == JOURNAL_FORMAT
        ):
            raise ConfigurationError(
                f"{path} is not a gmail-send merge journal",
                hint="--resume takes the file an earlier merge wrote (or a new file name)",
            )
        if not isinstance(record, dict):
            raise ConfigurationError(f"{path}, line {number} is not a journal record")
        records.append(record)
    return records[0], records[1:]
