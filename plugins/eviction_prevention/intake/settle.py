"""Settle: write each file's receipt to the partner's outbox and move the file to ``processed/`` or
``quarantine/``, exactly once (a file already moved, or changed since it was read, is left alone).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import posixpath
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eviction_prevention import warehouse
from eviction_prevention.dutch_time import utcnow
from eviction_prevention.intake import locks
from eviction_prevention.intake.files import SFTPClientLike, safe_name
from eviction_prevention.intake.receipts import receipt_name, receipt_text
from eviction_prevention.partners import Partner

log = logging.getLogger(__name__)


def settled_name(outcome: dict) -> str:
    return f"{outcome['file_id'][:12]}_{safe_name(outcome['remote_name'])}"


def put_atomic(sftp: SFTPClientLike, data: bytes, folder: str, name: str) -> None:
    partial = posixpath.join(folder, f".{name}.part")
    sftp.putfo(io.BytesIO(data), partial)
    sftp.posix_rename(partial, posixpath.join(folder, name))


def _exists(sftp: SFTPClientLike, path: str) -> bool:
    try:
        sftp.stat(path)
    except FileNotFoundError:
        return False
    return True


def _move(sftp: SFTPClientLike, source: str, target: str) -> str:
    """Move a settled file: "moved"; "gone" when an earlier run moved it already; "failed" when it is still in
    the inbox and could not be moved (its folder is recreated once, should the partner have deleted it)."""
    for attempt in range(2):
        try:
            sftp.posix_rename(source, target)  # replaces an earlier copy of the same bytes and name
            return "moved"
        except OSError:
            if not _exists(sftp, source):
                return "gone"
            if attempt == 0:
                with contextlib.suppress(OSError):
                    sftp.mkdir(posixpath.dirname(target))
    return "failed"


def _still_as_read(sftp: SFTPClientLike, path: str, outcome: dict) -> bool:
    """Whether the inbox file is still the bytes that were read: size, modification time and SHA-256 (read
    again). A file changed since it was read stays in the inbox, where the next run reads it as a new
    delivery; a file that is gone counts as unchanged (an earlier run moved it)."""
    if outcome.get("size_bytes") is None or outcome["file_id"].startswith("unread-"):
        return True  # nothing was read (a refused size) or an outcome from before these fields
    try:
        attr = sftp.stat(path)
    except FileNotFoundError:
        return True
    mtime = outcome.get("mtime")
    if attr.st_size != outcome["size_bytes"] or (mtime is not None and int(attr.st_mtime) != mtime):
        return False
    digest = hashlib.sha256()
    with sftp.open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest() == outcome["file_id"]


def mark_settled(conn: Connection, partner: str, file_ids: list[str]) -> None:
    for file_id in file_ids:
        conn.execute(
            sa.text(
                "UPDATE meta_file_ledger SET settled_at = :t WHERE partner = :p AND file_id = :f AND settled_at IS NULL"
            ),
            {"t": utcnow(), "p": partner, "f": file_id},
        )


def _listed(sftp: SFTPClientLike, folder: str) -> list[Any]:
    """A folder's entries; none when it is missing or not a folder (a partner may delete or replace it)."""
    try:
        return sftp.listdir_attr(folder)
    except OSError:
        return []


def reconcile_settled(conn: Connection, partner: Partner, sftp: SFTPClientLike) -> int:
    """Mark files settled that were moved by an earlier run which crashed before recording it."""
    open_rows = conn.execute(
        sa.text("SELECT file_id, file_name FROM meta_file_ledger WHERE partner = :p AND settled_at IS NULL"),
        {"p": partner.code},
    ).fetchall()
    if not open_rows:
        return 0
    moved = {a.filename for folder in (partner.processed, partner.quarantine) for a in _listed(sftp, folder)}
    done = [r[0] for r in open_rows if settled_name({"file_id": r[0], "remote_name": r[1]}) in moved]
    mark_settled(conn, partner.code, done)
    return len(done)


def settle_files(
    partner: Partner, outcomes: list[dict], sftp: SFTPClientLike, url: str | None = None
) -> dict[str, int]:
    """Write each file's receipt to the outbox, move it out of the inbox (processed/ or quarantine/), then
    mark it settled in the ledger. Safe to rerun: a file already moved is skipped, a receipt rewritten."""
    moved = {"processed": 0, "quarantine": 0, "changed": 0, "failed": 0}
    settled = []
    for outcome in outcomes:
        folder = partner.quarantine if outcome["status"] == "rejected" else partner.processed
        source = posixpath.join(partner.inbox, outcome["remote_name"])
        put_atomic(sftp, receipt_text(outcome, partner.name).encode("utf-8"), partner.outbox, receipt_name(outcome))
        if not _still_as_read(sftp, source, outcome):
            log.warning("partner %s: file %s changed after it was read; left for the next run", partner.code,
                        outcome["file_id"][:12])  # fmt: skip
            moved["changed"] += 1
            settled.append(outcome)  # these bytes are handled; the changed file is a new delivery
            continue
        result = _move(sftp, source, posixpath.join(folder, settled_name(outcome)))
        if result == "failed":
            log.warning("partner %s: file %s could not be moved; the next run tries again", partner.code,
                        outcome["file_id"][:12])  # fmt: skip
            moved["failed"] += 1
            continue
        if result == "gone":
            log.info("partner %s: file %s already moved", partner.code, outcome["file_id"][:12])
        if outcome.get("marker"):
            marker = posixpath.join(folder, settled_name(outcome) + ".done")
            _move(sftp, posixpath.join(partner.inbox, outcome["marker"]), marker)
        moved["quarantine" if folder == partner.quarantine else "processed"] += 1
        settled.append(outcome)
    with warehouse.connect(url) as conn:
        locks.ensure_schema(conn)
        mark_settled(conn, partner.code, [o["file_id"] for o in settled if o["status"] != "duplicate"])
        reconcile_settled(conn, partner, sftp)
    log.info("partner %s: %d processed, %d quarantined", partner.code, moved["processed"], moved["quarantine"])
    return moved
