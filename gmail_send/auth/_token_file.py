"""Token files: read and check them, write them atomically with mode 0600.

A token file is google-auth's authorized-user JSON (`Credentials.to_json()`: `refresh_token`,
`client_id`, `client_secret`, `token_uri`, and the cached `token` and `expiry`) plus an
`account` key holding the mailbox address. Writing goes to a temporary file in the same
directory, created with mode 0600, flushed to disk, then renamed over the old file: a crash
at any point leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import ConfigurationError
from ._json import parse_json
from ._token_errors import AUTH_AGAIN

__all__ = [
    "GOOGLE_TOKEN_URI",
    "REQUIRED_FIELDS",
    "PinnedFile",
    "format_expiry",
    "parse_expiry",
    "pin_token_file",
    "read_token_file",
    "validate_token_info",
    "write_token_file",
]

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)
"""Google's OAuth2 token endpoint."""

REQUIRED_FIELDS = ("refresh_token", "client_id", "client_secret")
"""The fields a token file must hold to be refreshed."""

_STALE_TEMP_SECONDS = 60.0


def read_token_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a token file; every problem is a `ConfigurationError` with a hint."""
    name = os.fspath(path)
    try:
        raw = Path(name).read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(
            f"token file {name} does not exist",
            hint=f"create it once with: {_auth_for(name)}",
        ) from None
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read token file {name}: {exc.strerror or type(exc).__name__}",
            hint="check the path and the file's permissions",
        ) from None
    try:
        data = parse_json(raw.decode("utf-8"))
    except ValueError as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ConfigurationError(
            f"token file {name} is not valid JSON{where}",
            hint=f"the file is damaged or not a token file; create a new one with: "
            f"{_auth_for(name)}",
        ) from None
    return validate_token_info(data, source=f"token file {name}")


def validate_token_info(info: object, *, source: str = "token info") -> dict[str, Any]:
    """Check an authorized-user dict (as `read_token_file` or `on_refresh` see it); copy it."""
    if not isinstance(info, Mapping):
        raise ConfigurationError(
            f"{source} is not a JSON object", hint=f"create a token file with: {AUTH_AGAIN}"
        )
    if "installed" in info or "web" in info:
        raise ConfigurationError(
            f"{source} is an OAuth client secrets file, not a token file",
            hint=f"use it to create a token file: {AUTH_AGAIN}",
        )
    kind = info.get("type")
    if kind == "service_account":
        raise ConfigurationError(
            f"{source} is a service account key, not a user token file",
            hint="use gmail_send.ServiceAccount.from_file(path, subject='user@your-domain')",
        )
    if kind is not None and kind != "authorized_user":
        raise ConfigurationError(
            f"{source} has type {kind!r}; an authorized-user token file is needed",
            hint=f"create one with: {AUTH_AGAIN}",
        )
    missing = [key for key in REQUIRED_FIELDS if not _nonempty_str(info.get(key))]
    if missing:
        raise ConfigurationError(
            f"{source} lacks {', '.join(missing)}",
            hint=f"the file is incomplete; create a new one with: {AUTH_AGAIN}",
        )
    for key in ("token", "token_uri", "account", "expiry"):
        value = info.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(f"{source}: {key} must be a string")
    if isinstance(info.get("expiry"), str):
        parse_expiry(info["expiry"], source=source)
    scopes = info.get("scopes")
    if scopes is not None and not (
        isinstance(scopes, str)
        or (isinstance(scopes, list) and all(isinstance(s, str) for s in scopes))
    ):
        raise ConfigurationError(f"{source}: scopes must be a list of strings")
    return dict(info)


def parse_expiry(value: str, *, source: str = "token info") -> datetime:
    """google-auth's expiry format (`2025-01-31T12:00:00.123456Z`) -> naive UTC datetime."""
    try:
        parsed = datetime.fromisoformat(value.strip().rstrip("Zz").split(".")[0])
    except ValueError:
        raise ConfigurationError(
            f"{source}: expiry {value!r} is not an ISO 8601 time",
            hint="remove the expiry and token fields; the token is then refreshed on first use",
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def format_expiry(expiry: datetime) -> str:
    """A naive UTC (or aware) datetime in google-auth's format."""
    if expiry.tzinfo is not None:
        expiry = expiry.astimezone(timezone.utc).replace(tzinfo=None)
    return expiry.isoformat() + "Z"


class PinnedFile(NamedTuple):
    """The file a token was loaded from: its real path (links resolved then) and identity."""

    path: str
    device: int
    inode: int


def pin_token_file(path: str | os.PathLike[str]) -> PinnedFile:
    """Remember which file `path` is now, so a later write goes to that file or nowhere."""
    real = os.path.realpath(os.fspath(path))
    info = os.stat(real)
    return PinnedFile(real, info.st_dev, info.st_ino)


def write_token_file(
    path: str | os.PathLike[str], info: Mapping[str, Any], *, pinned: PinnedFile | None = None
) -> PinnedFile:
    """Write `info` as JSON atomically: temp file (0600) in the same directory, fsync, rename.

    Without `pinned` a symlink is followed, so the link stays and its target is replaced. With
    `pinned` (the file a token was loaded from) the write goes to that real file, and is
    refused with `ConfigurationError` if the path was since replaced by a link or another file:
    a link planted later is never followed. Returns the pin of the file now written. Raises
    `OSError` (e.g. `PermissionError`, or EROFS for a read-only mount); the old file is then
    untouched.
    """
    if pinned is None:
        target = os.path.realpath(os.fspath(path))
    else:
        target = pinned.path
        _check_pinned(pinned, os.fspath(path))
    directory, base = os.path.split(target)
    data = (json.dumps(dict(info), indent=2) + "\n").encode("utf-8")
    temp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temp, flags | getattr(os, "O_BINARY", 0), 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            written = os.fstat(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)  # replaces a link itself, never writes through it
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(directory)
    _remove_stale_temps(directory, base)
    return PinnedFile(target, written.st_dev, written.st_ino)


def _check_pinned(pinned: PinnedFile, given: str) -> None:
    try:
        now = os.lstat(pinned.path)
    except FileNotFoundError:
        return  # removed since: the rename creates a plain file again
    if stat.S_ISLNK(now.st_mode) or (now.st_dev, now.st_ino) != (pinned.device, pinned.inode):
        raise ConfigurationError(
            f"the token file {given} was replaced since it was loaded; not writing the "
            "refreshed token to it",
            hint="something else changed the file (or put a link in its place); check it, "
            "then restart the application so that it loads the file again",
        )


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); best effort elsewhere."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_stale_temps(directory: str, base: str) -> None:
    """Delete temp files a crashed writer left behind (they hold secrets)."""
    cutoff = time.time() - _STALE_TEMP_SECONDS
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            if entry.name.startswith(f".{base}.") and entry.name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)


def _nonempty_str(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _auth_for(token_path: str) -> str:
    return f"gmail-send auth --client-secrets client_secret.json --token {token_path}"
