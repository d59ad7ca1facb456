"""A partner file as the intake sees it: the fetched file, its outcome, its names, checksum and landing path."""

from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from eviction_prevention import settings
from eviction_prevention.partners import Partner

RECEIPT_SUFFIX = ".ontvangstbevestiging.txt"
SAFE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


class SFTPClientLike(Protocol):  # the subset of paramiko.SFTPClient used here
    def listdir_attr(self, path: str = ".") -> list[Any]: ...
    def get(self, remotepath: str, localpath: str) -> None: ...
    def rename(self, oldpath: str, newpath: str) -> None: ...
    def posix_rename(self, oldpath: str, newpath: str) -> None: ...
    def remove(self, path: str) -> None: ...
    def putfo(self, fl: Any, remotepath: str) -> Any: ...
    def stat(self, path: str) -> Any: ...
    def mkdir(self, path: str) -> None: ...
    def open(self, filename: str, mode: str = "r") -> Any: ...


@dataclass
class FetchedFile:
    partner: str
    remote_name: str
    file_id: str  # sha256 of the bytes ("unread-..." when the file was refused without downloading it)
    landing_path: str
    size_bytes: int
    received_at: str = ""  # ISO timestamp (UTC)
    refusal: str | None = None  # Dutch reason the file is refused before parsing (name, size)
    marker: str | None = None  # the done-marker file that belongs to it
    # When the partner delivered it (ISO, UTC): the upload's completion as the SFTP server recorded it (the
    # file's modification time, at most the download time), or the --received-at of a replayed file. Delivery
    # deadlines are judged by its Dutch date: the hourly weekday poll must not make a Friday 23:30 file late.
    delivered_at: str = ""
    mtime: int | None = None  # the inbox file's modification time when it was listed (settle checks it again)

    @property
    def name_refused(self) -> bool:
        """Refused for its name alone (read, unlike a file refused for its size): the same bytes may come again
        under a right name."""
        return self.refusal is not None and not self.file_id.startswith("unread-")


@dataclass
class FileOutcome:
    partner: str
    remote_name: str
    file_id: str
    status: str  # loaded / rejected / duplicate
    rows_total: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    warnings: int = 0
    reasons: list[str] = field(default_factory=list)  # errors, Dutch, no personal data
    warning_messages: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "replaces the delivery of ..."
    received_at: str = ""
    rejected_row_numbers: list[int] = field(default_factory=list)
    marker: str | None = None
    size_bytes: int | None = None  # the inbox file as read: settle moves it only if it is still these bytes
    mtime: int | None = None
    name_refused: bool = False
    as_of: str | None = None  # the snapshot or export date the file reports on (peildatum), ISO
    delivered_on: str | None = None  # the Dutch local date the partner delivered it, ISO
    delivery_due: str | None = None  # the last day of the delivery window of its as-of date, ISO


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def landing_path(partner: str, file_id: str, remote_name: str) -> Path:
    suffix = Path(remote_name).suffix.lower()
    suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ".bin"
    return settings.landing_dir() / partner / f"{file_id}{suffix}"


def safe_name(name: str) -> str:
    """A file name that is safe on any file system and in any path: other characters become ``_``."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")
    return (cleaned or "bestand")[:200]


def matches_any(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def name_refusal(name: str, partner: Partner) -> str | None:
    """Why a file name is not accepted (Dutch), or None."""
    if not SAFE_NAME_RE.match(name) or ".." in name:
        return (
            "de bestandsnaam bevat niet-toegestane tekens (alleen letters a-z, cijfers, punt, streepje en "
            "liggend streepje; geen spaties, geen '..')"
        )
    if not matches_any(name, partner.file_patterns):
        expected = " of ".join(f"'{p}'" for p in partner.file_patterns)
        return f"de bestandsnaam volgt de afspraak niet (verwacht {expected})"
    return None
