"""Attachments: the `Attachment` type, loading its bytes, its MIME type, and Gmail's type blocks.

Gmail refuses messages carrying executables and scripts, also inside archives, with
`552 5.7.0`; checking here turns that into a `BlockedAttachmentError` naming the file before any
connection is opened. The list is Gmail's published one ("File types blocked in Gmail"). Gmail
also inspects content (a renamed .exe is still refused); that cannot be mirrored here.
"""

from __future__ import annotations

import io
import mimetypes
import os
import re
import zipfile
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

from .._types import AttachmentInput
from ..errors import BlockedAttachmentError, MessageError, MessageTooLargeError
from ._headers import check_header_text, is_printable_ascii

__all__ = [
    "BLOCKED_EXTENSIONS",
    "Attachment",
    "AttachmentData",
    "LoadedAttachment",
    "base64_size",
    "blocked_extension",
    "check_zip_members",
    "load_attachment",
]

# fmt: off
BLOCKED_EXTENSIONS: frozenset[str] = frozenset({
    ".ade", ".adp", ".apk", ".appx", ".appxbundle", ".bat", ".cab", ".chm", ".cmd", ".com",
    ".cpl", ".diagcab", ".diagcfg", ".diagpkg", ".dll", ".dmg", ".ex", ".ex_", ".exe", ".hta",
    ".img", ".ins", ".iso", ".isp", ".jar", ".jnlp", ".js", ".jse", ".lib", ".lnk", ".mde",
    ".mjs", ".msc", ".msi", ".msix", ".msixbundle", ".msp", ".mst", ".nsh", ".pif", ".ps1",
    ".scr", ".sct", ".shb", ".sys", ".vb", ".vbe", ".vbs", ".vhd", ".vxd", ".wsc", ".wsf",
    ".wsh", ".xll",
})
# fmt: on
"""File extensions Gmail refuses to send, compared case-insensitively."""

AttachmentData = bytes | bytearray | memoryview | BinaryIO
"""What `Attachment.data` may be; a file object is read when the message is composed."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTENT_ID = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]+")
_ZIP_TYPES = {"application/zip", "application/x-zip-compressed"}
_ENCODING_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
    "br": "application/x-brotli",
}
_NESTED_ZIP_LIMIT = 16 * 1024 * 1024
ZIP_MAX_NAMES = 100_000
"""Member names read, at most, when checking one attachment's archives for blocked types."""
ZIP_MAX_INFLATED = 64 * 1024 * 1024
"""Bytes of nested archives inflated, at most, when checking one attachment."""
_SIZE_HINT = "Gmail takes about 25 MB of attachments; share a link (e.g. Google Drive) instead"


@dataclass(frozen=True, repr=False)
class Attachment:
    """A file to attach: `data` (bytes, or a binary file object read when the message is
    composed) under `filename`.

    `content_type` is guessed from the filename when None (application/octet-stream if unknown).
    `inline=True` with a `content_id` makes an inline part the HTML body shows with
    `<img src="cid:...">` (the id without angle brackets).

    Attributes:
        data: the content: bytes, or a binary file object read when the message is composed.
        filename: the name the recipient sees; also what the content type is guessed from.
        content_type: the MIME type, e.g. "application/pdf"; None to guess from `filename`.
        inline: True for a part the HTML body shows (with `content_id`), not a download.
        content_id: the id the HTML refers to as `cid:ID`, without angle brackets.
    """

    data: AttachmentData
    filename: str
    _: KW_ONLY
    content_type: str | None = None
    inline: bool = False
    content_id: str | None = None

    def __post_init__(self) -> None:
        data = self.data
        which = f"Attachment {self.filename!r}" if isinstance(self.filename, str) else "Attachment"
        if not isinstance(data, bytes | bytearray | memoryview) and not callable(
            getattr(data, "read", None)
        ):
            raise MessageError(
                f"{which}: data must be bytes or a binary file object, not {type(data).__name__}"
            )
        for name, value, kind in (
            ("filename", self.filename, "a string"),
            ("content_type", self.content_type, "a string or None"),
            ("content_id", self.content_id, "a string or None"),
        ):
            if not (isinstance(value, str) or (value is None and name != "filename")):
                raise MessageError(f"{which}: {name} must be {kind}, not {type(value).__name__}")
        if not isinstance(self.inline, bool):
            raise MessageError(f"{which}: inline must be True or False, not {self.inline!r}")

    @classmethod
    def from_path(
        cls,
        path: os.PathLike[str] | str,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        inline: bool = False,
        content_id: str | None = None,
    ) -> Attachment:
        """Read a file now; `filename` defaults to the file's name.

        Args:
            path: the file to read.
            filename: the name the recipient sees (default: the file's name).
            content_type: the MIME type; None to guess from the filename.
            inline: True for a part the HTML body shows, with `content_id`.
            content_id: the id the HTML refers to as `cid:ID`, without angle brackets.

        Returns:
            An `Attachment` holding the file's bytes.
        """
        location = Path(path)
        return cls(
            _read_file(location),
            filename if filename is not None else location.name,
            content_type=content_type,
            inline=inline,
            content_id=content_id,
        )

    def __repr__(self) -> str:
        if isinstance(self.data, bytes | bytearray | memoryview):
            data = f"<{len(self.data):,} bytes>"
        else:
            data = f"<{type(self.data).__name__}>"
        extras = "".join(
            f", {name}={value!r}"
            for name, value in (
                ("content_type", self.content_type),
                ("inline", self.inline),
                ("content_id", self.content_id),
            )
            if value
        )
        return f"Attachment({data}, filename={self.filename!r}{extras})"


"""An attachment as `compose_message` takes it: an `Attachment`, or the path of a file to read."""


class LoadedAttachment(NamedTuple):
    """An attachment after validation: its bytes and parsed content type."""

    data: bytes
    filename: str
    maintype: str
    subtype: str
    params: dict[str, str]
    inline: bool
    content_id: str | None


def base64_size(length: int) -> int:
    """A lower bound of the bytes `length` raw bytes take base64-encoded in 76-character lines."""
    return length // 57 * 78


def _too_large(size: int, limit: int, what: str) -> MessageTooLargeError:
    return MessageTooLargeError(
        f"{what} makes the message at least {size:,} bytes; Gmail accepts {limit:,}",
        size=size,
        limit=limit,
        hint=_SIZE_HINT,
    )


def _read_file(path: Path, *, limit: int | None = None) -> bytes:
    try:
        if limit is not None:
            estimate = base64_size(path.stat().st_size)
            if estimate > limit:
                raise _too_large(estimate, limit, f"the attachment {str(path)!r}")
        return path.read_bytes()
    except FileNotFoundError:
        raise MessageError(
            f"attachment file not found: {str(path)!r}", hint="check the path"
        ) from None
    except OSError as exc:
        raise MessageError(
            f"attachment file {str(path)!r} cannot be read: {exc.strerror or exc}"
        ) from None


def blocked_extension(name: str) -> str | None:
    """The Gmail-blocked extension `name` ends with (ignoring case, trailing dots and spaces)."""
    base = re.split(r"[/\\]", name.rstrip(". \t"))[-1]
    dot = base.rfind(".")
    if dot < 0:
        return None
    extension = base[dot:].lower()
    return extension if extension in BLOCKED_EXTENSIONS else None


def _blocked(filename: str, extension: str, member: str | None = None) -> BlockedAttachmentError:
    if member is None:
        return BlockedAttachmentError(
            f"Gmail does not accept {extension} attachments: {filename!r}",
            hint="remove it, or upload it (e.g. to Google Drive) and send a link",
        )
    return BlockedAttachmentError(
        f"Gmail does not accept {extension} files, also inside archives: {filename!r} "
        f"contains {member!r}",
        hint="Gmail also blocks these inside archives; remove the file or share a link instead",
    )


class _ZipBudget:
    """What inspecting one attachment's archives may cost: member names read, bytes inflated."""

    def __init__(self) -> None:
        self.names = ZIP_MAX_NAMES
        self.inflated = ZIP_MAX_INFLATED


def _zip_members(data: bytes, depth: int, budget: _ZipBudget, filename: str) -> list[str]:
    """Member names of a zip (and of zips inside it); [] if the data is not a readable zip.

    Raises `MessageError` when the archive needs more than the budget to inspect: a zip bomb
    (nested archives that inflate to gigabytes) must not stall the sender.
    """
    names: list[str] = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            budget.names -= len(infos)
            if budget.names < 0:
                raise _over_budget(filename, f"more than {ZIP_MAX_NAMES:,} members")
            names += [info.filename for info in infos if not info.is_dir()]
            for info in infos:
                nested = info.filename.lower().rstrip(". ").endswith(".zip")
                if not nested or depth >= 2:
                    continue
                budget.inflated -= info.file_size
                if info.file_size > _NESTED_ZIP_LIMIT or budget.inflated < 0:
                    raise _over_budget(
                        filename,
                        f"nested archives that inflate to more than {ZIP_MAX_INFLATED:,} bytes",
                    )
                inner = _read_member(archive, info)
                members = _zip_members(inner, depth + 1, budget, filename)
                names += [f"{info.filename}/{name}" for name in members]
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        EOFError,
        RuntimeError,
        NotImplementedError,
        ValueError,
    ) as exc:
        if isinstance(exc, MessageError):
            raise
        return names  # corrupt or encrypted: inspect no further; Gmail decides
    return names


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A member's bytes, never more than its declared size (a lying header cannot inflate more)."""
    with archive.open(info) as member:
        return member.read(info.file_size + 1)[: info.file_size]


def _over_budget(filename: str, what: str) -> MessageError:
    return MessageError(
        f"the archive {filename!r} cannot be inspected for blocked file types: it holds {what}",
        hint="Gmail inspects archives too and refuses blocked types inside them; send fewer or "
        "smaller nested archives, or share the file as a link",
    )


def check_zip_members(data: bytes, filename: str) -> None:
    """Refuse a zip archive holding a file type Gmail blocks (names only; nested zips too)."""
    for member in _zip_members(data, 0, _ZipBudget(), filename):
        extension = blocked_extension(member)
        if extension:
            raise _blocked(filename, extension, member)


def is_zip(filename: str, content_type: str) -> bool:
    return filename.lower().rstrip(". ").endswith(".zip") or content_type in _ZIP_TYPES


def _content_type(attachment: Attachment) -> tuple[str, str, dict[str, str]]:
    if attachment.content_type is None:
        guessed, encoding = mimetypes.guess_type(attachment.filename, strict=False)
        if encoding is not None:
            guessed = _ENCODING_TYPES.get(encoding, "application/octet-stream")
        maintype, _, subtype = (guessed or "application/octet-stream").partition("/")
        return maintype, subtype, {}
    value = attachment.content_type
    check_header_text(value, "attachment content_type")
    kind, *raw_params = value.split(";")
    maintype, _, subtype = kind.strip().lower().partition("/")
    params: dict[str, str] = {}
    for raw in raw_params:
        key, sep, param = raw.strip().partition("=")
        param = param.strip()
        if len(param) >= 2 and param[0] == param[-1] == '"':
            param = param[1:-1]
        if not sep or not _TOKEN.fullmatch(key) or not is_printable_ascii(param) or '"' in param:
            raise MessageError(f"attachment content_type {value!r} has a malformed parameter")
        params[key.lower()] = param
    if not (_TOKEN.fullmatch(maintype) and _TOKEN.fullmatch(subtype)):
        raise MessageError(
            f"attachment content_type {value!r} is not a MIME type",
            hint='write it as "type/subtype", e.g. "application/pdf"',
        )
    if maintype == "multipart":
        raise MessageError(f"attachment content_type {value!r}: multipart types cannot be attached")
    return maintype, subtype, params


def _content_id(value: str) -> str:
    check_header_text(value, "attachment content_id")
    bare = value[1:-1] if value.startswith("<") and value.endswith(">") else value
    if not _CONTENT_ID.fullmatch(bare):
        raise MessageError(
            f"attachment content_id {value!r} is not a valid Content-ID",
            hint='use letters, digits and "@.-_", e.g. "logo@example.com", referenced as cid:...',
        )
    return bare


def _data_bytes(attachment: Attachment) -> bytes:
    data = attachment.data
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    read = getattr(data, "read", None)
    if not callable(read):
        raise MessageError(
            f"attachment {attachment.filename!r}: data must be bytes or a binary file object, "
            f"not {type(data).__name__}"
        )
    try:
        content = read()
    except (OSError, ValueError) as exc:
        raise MessageError(f"attachment {attachment.filename!r} could not be read: {exc}") from exc
    if not isinstance(content, bytes):
        raise MessageError(
            f"attachment {attachment.filename!r}: the file object returned "
            f"{type(content).__name__}, not bytes",
            hint="open the file in binary mode ('rb')",
        )
    return content


def load_attachment(item: AttachmentInput, *, limit: int) -> LoadedAttachment:
    """Validate an attachment and read its bytes; a path (str or PathLike) is read as a file."""
    if isinstance(item, str | os.PathLike):
        path = Path(item)
        attachment = Attachment(_read_file(path, limit=limit), path.name)
    elif isinstance(item, Attachment):
        attachment = item
    else:
        raise MessageError(
            f"attachments must be Attachment objects or file paths, not {type(item).__name__}"
        )
    filename = attachment.filename
    if not isinstance(filename, str) or not filename.strip():
        raise MessageError("an attachment needs a non-empty filename")
    check_header_text(filename, "attachment filename")
    filename = filename.strip()  # mail programs drop surrounding whitespace anyway
    extension = blocked_extension(filename)
    if extension:
        raise _blocked(filename, extension)
    maintype, subtype, params = _content_type(attachment)
    content_id = None if attachment.content_id is None else _content_id(attachment.content_id)
    data = _data_bytes(attachment)
    if base64_size(len(data)) > limit:
        raise _too_large(base64_size(len(data)), limit, f"the attachment {filename!r}")
    if is_zip(filename, f"{maintype}/{subtype}"):
        check_zip_members(data, filename)
    return LoadedAttachment(
        data, filename, maintype, subtype, params, bool(attachment.inline), content_id
    )
