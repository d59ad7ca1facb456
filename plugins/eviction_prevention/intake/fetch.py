"""Fetch: list a partner's inbox, wait until an upload is complete, download it to the landing folder.

A file is only downloaded once the partner's completion rule holds (stable size and mtime across polls, or a
done-marker); hidden files (``.name.part``) are never read. A download goes to a temporary file that is
removed on any error (dropped connection, full disk: ``LandingFullError``) and renamed to
``<sha256><ext>`` only when complete.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import logging
import os
import posixpath
import stat
import time
from collections.abc import Callable
from pathlib import Path

from eviction_prevention import dutch_time, settings
from eviction_prevention.intake.files import (
    FetchedFile,
    SFTPClientLike,
    landing_path,
    name_refusal,
    sha256_file,
)
from eviction_prevention.partners import Partner

log = logging.getLogger(__name__)

Snapshot = dict[str, tuple[int, int]]  # name -> (size, mtime)


def _listing(sftp: SFTPClientLike, folder: str) -> Snapshot:
    return {
        a.filename: (int(a.st_size or 0), int(a.st_mtime or 0))
        for a in sftp.listdir_attr(folder)
        if a.st_mode is None or stat.S_ISREG(a.st_mode)
    }


def stable_names(polls: list[Snapshot]) -> set[str]:
    """Names present with the same size and mtime in every poll (an upload in progress changes them)."""
    first, *rest = polls
    return {name for name, attrs in first.items() if all(p.get(name) == attrs for p in rest)}


def candidates(listing: Snapshot, partner: Partner) -> dict[str, str | None]:
    """Inbox entries to consider: name -> its done-marker (None for the stable rule).

    Hidden files (partial uploads such as ``.name.part``) are skipped; with the done-marker rule a file
    counts only when its marker exists, and markers themselves are not files to load.
    """
    visible = {n for n in listing if not n.startswith(".")}
    if partner.completion.rule == "done_marker":
        suffix = partner.completion.marker_suffix
        return {n: n + suffix for n in visible if not n.endswith(suffix) and n + suffix in visible}
    return dict.fromkeys(visible)


def complete_files(
    partner: Partner, sftp: SFTPClientLike, sleep: Callable[[float], None] = time.sleep
) -> tuple[Snapshot, dict[str, str | None]]:
    """Poll the inbox per the completion rule; returns the last listing and the complete files."""
    polls = [_listing(sftp, partner.inbox)]
    found = candidates(polls[0], partner)
    if partner.completion.rule == "stable" and found:
        for _ in range(partner.completion.polls - 1):
            sleep(partner.completion.poll_seconds)
            polls.append(_listing(sftp, partner.inbox))
        stable = stable_names(polls)
        waiting = sorted(set(found) - stable)
        if waiting:
            log.info("partner %s: %d file(s) still being uploaded, left for the next run", partner.code, len(waiting))
        found = {n: m for n, m in found.items() if n in stable}
    return polls[-1], found


def unread_file_id(name: str, size: int, mtime: int) -> str:
    return "unread-" + hashlib.sha256(f"{name}\x00{size}\x00{mtime}".encode()).hexdigest()[:40]


class LandingFullError(OSError):
    """The landing archive has no space left: nothing was landed or loaded for the file."""


def _fetch_to(sftp: SFTPClientLike, remote: str, tmp: Path) -> bool:
    """Download ``remote`` into ``tmp``; False if it vanished (settled by a concurrent run). No partial file
    is left behind on any error."""
    try:
        sftp.get(remote, str(tmp))
    except FileNotFoundError:
        tmp.unlink(missing_ok=True)
        return False
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise LandingFullError(
                exc.errno,
                f"landing archive {tmp.parent.parent} is full ({os.strerror(exc.errno)}): the file stays in the "
                "partner's inbox and nothing was loaded; free space, then clear the fetch task",
            ) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


def _download(partner: Partner, sftp: SFTPClientLike, name: str, size: int) -> tuple[str, Path] | None:
    tmp_dir = settings.landing_dir() / partner.code / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"download-{os.getpid()}-{hashlib.sha256(name.encode()).hexdigest()[:16]}"
    if not _fetch_to(sftp, posixpath.join(partner.inbox, name), tmp):
        log.info("partner %s: a file left the inbox before it was downloaded (settled by another run)", partner.code)
        return None
    if tmp.stat().st_size != size:  # changed while we read it: not complete after all
        tmp.unlink()
        log.info("partner %s: a file changed during download, left for the next run", partner.code)
        return None
    file_id = sha256_file(tmp)
    target = landing_path(partner.code, file_id, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp.replace(target)  # atomic: the landing archive only ever holds complete files named by their checksum
    return file_id, target


def fetch_new_files(
    partner: Partner, sftp: SFTPClientLike, sleep: Callable[[float], None] = time.sleep
) -> list[FetchedFile]:
    """Download every completely uploaded inbox file into the landing archive (``<sha256><ext>``).

    Files over the size limit are not downloaded: they are refused unread (quarantined with a receipt).
    """
    listing, found = complete_files(partner, sftp, sleep)
    fetched: list[FetchedFile] = []
    for name in sorted(found, key=lambda n: (listing[n][1], n)):  # by arrival: a correction after its original
        size, mtime = listing[name]
        now = dutch_time.utcnow()
        received = now.isoformat()
        delivered = min(now, dt.datetime.fromtimestamp(mtime, dt.UTC).replace(tzinfo=None)).isoformat()
        if size > partner.max_file_bytes:
            limit = partner.max_file_bytes // (1024 * 1024)
            refusal = f"het bestand is te groot ({size / 1024 / 1024:.0f} MB; maximaal {limit} MB) en is niet gelezen"
            fetched.append(
                FetchedFile(
                    partner.code,
                    name,
                    unread_file_id(name, size, mtime),
                    "",
                    size,
                    received,
                    refusal,
                    found[name],
                    delivered,
                    int(mtime),
                )
            )
            continue
        downloaded = _download(partner, sftp, name, size)
        if downloaded is None:
            continue
        file_id, target = downloaded
        refusal = name_refusal(name, partner)
        fetched.append(
            FetchedFile(
                partner.code, name, file_id, str(target), size, received, refusal, found[name], delivered, int(mtime)
            )
        )  # fmt: skip
    log.info("partner %s: %d new file(s) downloaded", partner.code, len(fetched))
    return fetched
