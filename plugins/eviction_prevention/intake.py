"""Partner intake: fetch complete files over SFTP, parse, validate, pseudonymise, load, settle.

Functions here are called by the intake DAG's tasks; they take plain values and return small
JSON-able dicts (file names, checksums, counts, Dutch messages) - never personal data, since results
go to XCom and into receipts.

Exactly once
    The ledger ``meta_file_ledger`` is keyed by partner and the SHA-256 of the bytes. Parsing, loading the
    staging rows and writing the ledger row happen in one warehouse transaction, so a crash anywhere
    before the commit leaves nothing behind and the rerun loads the file; a crash after the commit but
    before the file is settled makes the rerun resume (same outcome, same receipt, no second load).
    The same bytes delivered again later, under any name, are recorded as a duplicate delivery and not
    loaded. Two runs of one partner take turns per step (``locks.partner_lock``, held by the tasks); a run
    that downloaded a file which another run then loaded and settled resumes that outcome instead of
    calling it a duplicate (it was downloaded before the settle). A corrected re-delivery (other bytes,
    same as-of date) supersedes the earlier file.
Complete uploads
    A file is only downloaded once the partner's completion rule holds (stable size and mtime across
    polls, or a done-marker); hidden files (``.name.part``) are never read. A download goes to a temporary
    file that is removed on any error (dropped connection, full disk: ``LandingFullError``) and renamed to
    ``<sha256><ext>`` only when complete.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import fnmatch
import hashlib
import io
import json
import logging
import os
import posixpath
import re
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eviction_prevention import (
    dutch_time,
    gc_tuning,
    identity_vault,
    keys,
    locks,
    parse_sandbox,
    schema,
    settings,
    warehouse,
)
from eviction_prevention.closed_values import closed_value_issues, with_closed_values
from eviction_prevention.issue_summary import line_ranges, slipped_columns, summarised
from eviction_prevention.parsing import Issue
from eviction_prevention.partners import Partner
from eviction_prevention.pseudonymise import REFERENCE_COLUMN, pseudonymise_frame
from eviction_prevention.validation import History, build_data_docs, run_suite, scrubbed, suite_parameters

log = logging.getLogger(__name__)

RECEIPT_SUFFIX = ".ontvangstbevestiging.txt"
MAX_LISTED_MESSAGES = 200
STAGING_CHUNK_ROWS = 100_000  # rows pseudonymised and inserted at a time (bounds memory for national files)
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


# ------------------------------------------------------------------------------------------------ helpers


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


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


# ------------------------------------------------------------------------------------------------ fetch

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
        now = utcnow()
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


# ------------------------------------------------------------------------------------------------ check


@dataclass
class Checked:
    accepted: pd.DataFrame
    issues: list[Issue]
    as_of: dt.date | None = None
    gx_result: Any = None
    rows: int = 0  # data rows in the file (0 when it could not be read)
    stated_as_of: dt.date | None = None  # the as-of date the file states, also when it is rejected (receipt)


def _as_of_issues(frame: pd.DataFrame, partner: Partner) -> list[Issue]:
    as_of = frame[schema.AS_OF_COLUMN[partner.kind]]
    if as_of.nunique() > 1:
        header = partner.layout.columns[schema.AS_OF_COLUMN[partner.kind]]
        return [Issue("as_of", f"kolom '{header}' moet in het hele bestand dezelfde datum hebben")]
    return []


def promote_row_errors(issues: list[Issue], partner: Partner) -> list[Issue]:
    """With ``reject_file_on_row_errors`` a row error rejects the file (a snapshot must be complete)."""
    if not partner.reject_file_on_row_errors:
        return issues
    return [dataclasses.replace(i, severity="critical") if i.severity == "row" else i for i in issues]


def check_file(
    data: bytes, partner: Partner, history: History | None = None, on: dt.date | None = None
) -> tuple[pd.DataFrame, list[Issue]]:
    """Parse and validate one file. Returns the accepted canonical rows and every issue found."""
    checked = check(data, partner, history or History(), on or today())
    return checked.accepted, checked.issues


def check(data: bytes, partner: Partner, history: History, on: dt.date) -> Checked:
    parsed = parse_sandbox.parse(data, partner.layout, partner.kind, partner.read_limits)
    if parsed.rejected:
        return Checked(pd.DataFrame(), promote_row_errors(parsed.issues, partner), rows=len(parsed.frame))
    frame = parsed.frame
    as_of = frame[schema.AS_OF_COLUMN[partner.kind]]
    report = run_suite(frame, partner.kind, partner.layout.columns, suite_parameters(as_of, history, on))
    closed = closed_value_issues(frame, partner)
    issues = promote_row_errors(parsed.issues + closed + report.issues + _as_of_issues(frame, partner), partner)
    # the date the file states: one date on every row (a file whose columns slipped states none)
    stated = warehouse.as_date(as_of.iloc[0]) if len(as_of) and as_of.notna().all() and as_of.nunique() == 1 else None
    if any(i.severity == "critical" for i in issues):
        return Checked(pd.DataFrame(), issues, gx_result=report.result, rows=len(frame), stated_as_of=stated)
    bad_rows = {i.row for i in issues if i.severity == "row"}
    accepted = frame[~frame["source_row"].isin(bad_rows)].copy()
    warned = pd.Series([i.row for i in issues if i.severity == "warning" and i.row is not None], dtype="int64")
    accepted["row_warnings"] = accepted["source_row"].map(warned.value_counts()).fillna(0).astype("int64")
    return Checked(accepted, issues, warehouse.as_date(as_of.max()), report.result, len(frame), stated)


def to_staging(frame: pd.DataFrame, partner: Partner, file_id: str, key: bytes) -> pd.DataFrame:
    """Pseudonymise and drop identifiers, keep free-text attributes to their lists; add provenance columns."""
    out = with_closed_values(pseudonymise_frame(frame, partner.kind, key), partner)
    out["partner"] = partner.code
    out["file_id"] = file_id
    out["source_row"] = frame["source_row"].to_numpy()
    out["row_warnings"] = frame["row_warnings"].to_numpy()
    forbidden = set(schema.identifier_columns(partner.kind))
    leaked = forbidden & set(out.columns)
    if leaked:
        raise RuntimeError(f"identifier columns would reach the warehouse: {sorted(leaked)}")
    return out


def load_staging(
    conn: Connection, accepted: pd.DataFrame, partner: Partner, file_id: str, key: bytes, vault: keys.KeyChain
) -> int:
    """Replace the file's staging rows by its accepted rows, pseudonymised and inserted ``STAGING_CHUNK_ROWS``
    at a time: the pseudonym columns (the bulk of a staging row) never exist for the whole file at once, and
    one chunk is inserted while the next is pseudonymised. Each row's own reference goes to the identity
    vault, sealed under the vault key (``identity_vault``).
    Re-running gives the same state (the file's earlier rows are deleted first, in the same transaction)."""
    table = schema.STAGING_TABLE[partner.kind]
    warehouse.delete_rows(conn, table, {"partner": partner.code, "file_id": file_id})
    sealed: list[pd.DataFrame] = []
    reference = REFERENCE_COLUMN[partner.kind]

    def chunks() -> Iterator[pd.DataFrame]:
        for start in range(0, len(accepted), STAGING_CHUNK_ROWS):
            part = accepted.iloc[start : start + STAGING_CHUNK_ROWS]
            staged = to_staging(part, partner, file_id, key)
            sealed.append(identity_vault.vault_rows(partner.code, file_id, staged, part[reference], vault))
            yield staged

    loaded = warehouse.insert_frames(conn, table, chunks())  # chunk n is inserted while n + 1 is pseudonymised
    identity_vault.store(conn, partner.code, file_id, sealed)
    return loaded


# ------------------------------------------------------------------------------------------------ ledger


def _ledger_row(conn: Connection, partner: str, file_id: str) -> dict[str, Any] | None:
    row = (
        conn.execute(
            sa.text(
                "SELECT file_name, status, rows_total, received_at, settled_at, outcome "
                "FROM meta_file_ledger WHERE partner = :p AND file_id = :f"
            ),
            {"p": partner, "f": file_id},
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def _next_sequence(conn: Connection, partner: str) -> int:
    current = conn.execute(
        sa.text("SELECT max(delivery_seq) FROM meta_file_ledger WHERE partner = :p"), {"p": partner}
    ).scalar()
    return int(current or 0) + 1


def load_history(conn: Connection, partner: str) -> History:
    """The latest as-of date loaded and the row count of the latest loaded file."""
    row = conn.execute(
        sa.text(
            "SELECT snapshot_date, rows_total FROM meta_file_ledger WHERE partner = :p AND status = 'loaded' "
            "ORDER BY delivery_seq DESC LIMIT 1"
        ),
        {"p": partner},
    ).first()
    last = conn.execute(
        sa.text("SELECT max(snapshot_date) FROM meta_file_ledger WHERE partner = :p AND status = 'loaded'"),
        {"p": partner},
    ).scalar()
    return History(warehouse.as_date(last), int(row[1]) if row else None)


def _record_delivery(conn: Connection, fetched: FetchedFile, status: str) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO meta_file_deliveries (partner, file_id, file_name, received_at, status) "
            "VALUES (:p, :f, :n, :r, :s) ON CONFLICT DO NOTHING"
        ),
        {
            "p": fetched.partner,
            "f": fetched.file_id,
            "n": fetched.remote_name,
            "r": dt.datetime.fromisoformat(fetched.received_at) if fetched.received_at else utcnow(),
            "s": status,
        },
    )


def _supersede(conn: Connection, partner: str, file_id: str, as_of: dt.date) -> list[str]:
    """Mark earlier loaded files of the same as-of date as superseded by ``file_id``; returns their names."""
    params = {"p": partner, "f": file_id, "d": as_of}
    earlier = conn.execute(
        sa.text(
            "SELECT file_name FROM meta_file_ledger WHERE partner = :p AND snapshot_date = :d "
            "AND status = 'loaded' AND file_id <> :f ORDER BY delivery_seq"
        ),
        params,
    ).scalars()
    names = list(earlier)
    conn.execute(
        sa.text(
            "UPDATE meta_file_ledger SET status = 'superseded', superseded_by = :f "
            "WHERE partner = :p AND snapshot_date = :d AND status = 'loaded' AND file_id <> :f"
        ),
        params,
    )
    return names


def _insert_ledger(conn: Connection, partner: Partner, fetched: FetchedFile, outcome: FileOutcome, as_of: Any) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO meta_file_ledger (partner, file_id, kind, file_name, size_bytes, delivery_seq, "
            "snapshot_date, status, rows_total, rows_loaded, rows_rejected, warnings, reasons, received_at, "
            "received_on, outcome) VALUES (:partner, :file_id, :kind, :file_name, :size, :seq, :as_of, :status, "
            ":total, :loaded, :rejected, :warnings, :reasons, :received, :received_on, :outcome)"
        ),
        {
            "partner": partner.code,
            "file_id": fetched.file_id,
            "kind": partner.kind,
            "file_name": fetched.remote_name,
            "size": fetched.size_bytes,
            "seq": _next_sequence(conn, partner.code),
            "as_of": as_of,
            "status": outcome.status,
            "total": outcome.rows_total,
            "loaded": outcome.rows_loaded,
            "rejected": outcome.rows_rejected,
            "warnings": outcome.warnings,
            "reasons": "\n".join(outcome.reasons[:50]) or None,
            "received": dt.datetime.fromisoformat(outcome.received_at),
            "received_on": dt.date.fromisoformat(outcome.delivered_on),  # set by ingest_file, before
            "outcome": json.dumps(asdict(outcome), ensure_ascii=False),
        },
    )


# ------------------------------------------------------------------------------------------------ ingest


def _capped(messages: list[str]) -> list[str]:
    if len(messages) <= MAX_LISTED_MESSAGES:
        return messages
    return [*messages[:MAX_LISTED_MESSAGES], f"... en nog {len(messages) - MAX_LISTED_MESSAGES} meldingen"]


def _outcome_from_issues(fetched: FetchedFile, checked: Checked, rows_loaded: int) -> FileOutcome:
    issues = checked.issues
    critical = [i for i in issues if i.severity == "critical"]
    row_errors = [i for i in issues if i.severity == "row" or (i.severity == "critical" and i.row is not None)]
    warnings = [i for i in issues if i.severity == "warning"]
    rejected_rows = sorted({i.row for i in row_errors if i.row is not None})
    errors = critical or [i for i in issues if i.severity == "row"]
    return FileOutcome(
        partner=fetched.partner,
        remote_name=fetched.remote_name,
        file_id=fetched.file_id,
        status="rejected" if critical else "loaded",
        rows_total=checked.rows,
        rows_loaded=rows_loaded,
        rows_rejected=len(rejected_rows),
        warnings=len(warnings),
        reasons=_capped([*filter(None, [slipped_columns(row_errors, checked.rows)]), *summarised(errors)]),
        warning_messages=_capped(summarised(warnings)),
        received_at=fetched.received_at or utcnow().isoformat(),
        rejected_row_numbers=rejected_rows[:MAX_LISTED_MESSAGES],
        marker=fetched.marker,
        size_bytes=fetched.size_bytes,
        mtime=fetched.mtime,
        name_refused=fetched.name_refused,
    )


def _same_delivery(known: dict[str, Any], fetched: FetchedFile) -> bool:
    """The ledger row is this very delivery: not settled yet, or settled by a concurrent run after this run
    had already downloaded the file (a new delivery of the same bytes arrives after the settle)."""
    if known["file_name"] != fetched.remote_name or not known["outcome"]:
        return False
    settled = known["settled_at"]
    return settled is None or (bool(fetched.received_at) and dt.datetime.fromisoformat(fetched.received_at) < settled)


def _refused_for_name(known: dict[str, Any], fetched: FetchedFile) -> bool:
    """The ledger row is an earlier, settled delivery of these bytes that was refused for its name alone."""
    stored = json.loads(known["outcome"]) if known["outcome"] else {}
    return bool(stored.get("name_refused")) and known["settled_at"] is not None and not _same_delivery(known, fetched)


def _forget_refusal(conn: Connection, partner: str, file_id: str) -> None:
    """Drop a name refusal's ledger row (its delivery stays in meta_file_deliveries), so the bytes are read."""
    conn.execute(
        sa.text("DELETE FROM meta_file_ledger WHERE partner = :p AND file_id = :f AND status = 'rejected'"),
        {"p": partner, "f": file_id},
    )


def _resumed_or_duplicate(known: dict[str, Any], fetched: FetchedFile) -> FileOutcome:
    """The file's bytes are in the ledger already: resume an unsettled run, or report a duplicate."""
    if _same_delivery(known, fetched):
        stored = json.loads(known["outcome"])
        return FileOutcome(**(stored | {"marker": fetched.marker}))
    first = warehouse.as_date(known["received_at"])
    when = f" op {first.strftime('%d-%m-%Y')}" if first else ""
    return FileOutcome(
        fetched.partner,
        fetched.remote_name,
        fetched.file_id,
        "duplicate",
        rows_total=int(known["rows_total"]),
        notes=[
            f"dit bestand is eerder ontvangen{when} als '{safe_name(known['file_name'])}' en is niet opnieuw verwerkt"
        ],
        received_at=fetched.received_at or utcnow().isoformat(),
        marker=fetched.marker,
    )


def _checked(conn: Connection, partner: Partner, fetched: FetchedFile, on: dt.date | None) -> Checked:
    """Parse and validate a landed file; an exception while doing so (the reading itself is isolated in
    ``parse_sandbox``) is the file's rejection, with the exception's class only: its text can quote a cell."""
    data = Path(fetched.landing_path).read_bytes()
    history = load_history(conn, partner.code)
    try:
        return check(data, partner, history, on or today())
    except Exception as exc:  # one file's failure is that file's rejection
        log.warning("partner %s file %s: checking failed (%s)", partner.code, fetched.file_id[:12], type(exc).__name__)
        return Checked(pd.DataFrame(), [Issue("check_error", unexpected_failure("gecontroleerd", exc))])


def unexpected_failure(stage: str, exc: BaseException) -> str:
    """The Dutch reason for an unexpected failure while a file was ``stage`` (gecontroleerd, opgeslagen)."""
    return (
        f"het bestand kon niet worden {stage} (onverwachte fout van het type {type(exc).__name__}); "
        "neem contact op met het datateam als het opnieuw gebeurt"
    )


def ingest_file(
    conn: Connection,
    partner: Partner,
    fetched: FetchedFile,
    key: bytes,
    on: dt.date | None = None,
    failure: Issue | None = None,
    vault: keys.KeyChain | None = None,
) -> tuple[FileOutcome, Any]:
    """Load one landed file exactly once (inside the caller's transaction). Returns the outcome and GX result.
    ``failure``: record the file as rejected for that reason without reading it (``ingest_files``, after its
    rows could not be stored). ``vault``: the vault key chain (default ``settings.vault_key``)."""
    known = _ledger_row(conn, partner.code, fetched.file_id)
    if known is not None and not fetched.refusal and _refused_for_name(known, fetched):
        _forget_refusal(conn, partner.code, fetched.file_id)  # the same bytes, now under an acceptable name
        known = None
    if known is not None:
        outcome = _resumed_or_duplicate(known, fetched)
        if outcome.status == "duplicate":
            _record_delivery(conn, fetched, "duplicate")
        return outcome, None
    if fetched.refusal:
        checked = Checked(pd.DataFrame(), [Issue("refused", fetched.refusal)])
    elif failure is not None:
        checked = Checked(pd.DataFrame(), [failure])
    else:
        checked = _checked(conn, partner, fetched, on)
    rows_loaded = 0
    notes: list[str] = []
    if not any(i.severity == "critical" for i in checked.issues):
        vault = vault or keys.parse_key_chain(settings.vault_key())
        rows_loaded = load_staging(conn, checked.accepted, partner, fetched.file_id, key, vault)
        replaced = _supersede(conn, partner.code, fetched.file_id, checked.as_of)
        notes = [f"dit bestand vervangt de eerdere levering '{safe_name(n)}' met dezelfde datum" for n in replaced]
    outcome = _outcome_from_issues(fetched, checked, rows_loaded)
    outcome.notes = notes
    outcome.delivered_on = delivered_on(fetched, outcome).isoformat()
    if checked.stated_as_of is not None:
        outcome.as_of = checked.stated_as_of.isoformat()
        outcome.delivery_due = delivery_due(partner, checked.stated_as_of).isoformat()
    _insert_ledger(conn, partner, fetched, outcome, checked.as_of)
    _record_delivery(conn, fetched, outcome.status)
    log.info(
        "partner %s file %s: %s, %d rows loaded, %d rejected, %d warnings",
        partner.code,
        fetched.file_id[:12],
        outcome.status,
        outcome.rows_loaded,
        outcome.rows_rejected,
        outcome.warnings,
    )
    return outcome, checked.gx_result


def ingest_files(
    partner: Partner,
    fetched: list[FetchedFile],
    key: bytes,
    url: str | None = None,
    on: dt.date | None = None,
    data_docs: bool = False,
    vault_key: bytes | None = None,
) -> list[dict]:
    """Ingest each file in its own transaction (all or nothing per file); optionally build the Data Docs.
    ``vault_key``: the identity vault's key (default ``settings.vault_key``; without one nothing is read)."""
    vault = keys.parse_key_chain(vault_key if vault_key is not None else settings.vault_key())
    outcomes: list[dict] = []
    results: list[tuple[str, str, Any]] = []
    identifiers = set(schema.identifier_columns(partner.kind))
    with warehouse.session(url) as eng, gc_tuning.fewer_collections():
        with eng.begin() as conn:  # short: its DDL locks are not held while files are validated
            locks.ensure_schema(conn)
        for item in fetched:
            try:
                with eng.begin() as conn:
                    outcome, gx_result = ingest_file(conn, partner, item, key, on, vault=vault)
            except Exception as exc:
                if warehouse.is_unavailable(exc):
                    raise  # the warehouse, not the file: the task fails and its retry resumes the batch
                log.warning(
                    "partner %s file %s: its rows could not be stored (%s)",
                    partner.code,
                    item.file_id[:12],
                    type(exc).__name__,
                )
                failure = Issue("store_error", unexpected_failure("opgeslagen", exc))
                with eng.begin() as conn:
                    outcome, gx_result = ingest_file(conn, partner, item, key, on, failure=failure, vault=vault)
            outcomes.append(asdict(outcome))
            if gx_result is not None:
                results.append((partner.kind, f"{partner.code}-{item.file_id[:12]}", scrubbed(gx_result, identifiers)))
    if data_docs and results:
        index = build_data_docs(results)
        log.info("partner %s: GX Data Docs updated at %s", partner.code, index)
    return outcomes


# ------------------------------------------------------------------------------------------------ receipts

_VERDICT = {
    "loaded": "GEACCEPTEERD",
    "rejected": "AFGEWEZEN - het bestand is niet verwerkt, er zijn geen gegevens uit opgeslagen",
    "duplicate": "AL EERDER ONTVANGEN - niet opnieuw verwerkt",
}


def _dutch_timestamp(iso: str) -> str:
    """A stored UTC moment as the partner reads it: Dutch local time (the time delivery deadlines use)."""
    if not iso:
        return "onbekend"
    local = dt.datetime.fromisoformat(iso).replace(tzinfo=dt.UTC).astimezone(dutch_time.AMSTERDAM)
    return local.strftime("%d-%m-%Y %H:%M") + " (Nederlandse tijd)"


QUOTE_LIMIT = 300  # characters of one quoted line in a receipt (a file name, a reason)


def one_line(text: str, limit: int = QUOTE_LIMIT) -> str:
    """Text taken from a delivery (a file name; a reason that quotes a header or a cell) as one printable
    line of at most ``limit`` characters: a line break, tab, control or format character (including the
    Unicode line and paragraph separators and bidirectional overrides) becomes ``?``, so nothing quoted can
    start a line of its own in a receipt ("Resultaat: GEACCEPTEERD") or reorder what is shown."""
    printable = "".join(c if c.isprintable() else "?" for c in str(text)[: limit + 1])
    return printable if len(printable) <= limit else printable[: limit - 1] + "…"


def _dutch_date(iso: str | None) -> str:
    return dutch_time.dutch_date(dt.date.fromisoformat(iso)) if iso else ""


def _delivery_lines(outcome: dict) -> list[str]:
    """The file's as-of date and whether it arrived within its delivery window."""
    if not outcome.get("as_of"):
        return []
    lines = [f"Peildatum: {_dutch_date(outcome['as_of'])}"]
    if outcome.get("delivery_due") and outcome.get("delivered_on"):
        late = outcome["delivered_on"] > outcome["delivery_due"]
        lines.append(
            f"Aanlevertermijn: uiterlijk {_dutch_date(outcome['delivery_due'])}; aangeleverd op "
            f"{_dutch_date(outcome['delivered_on'])}: {'te laat' if late else 'op tijd'}"
        )
    return lines


def _count_lines(outcome: dict) -> list[str]:
    """Counts that add up: the rows in the file are the rows processed plus the rows not processed."""
    total, loaded, flagged = outcome["rows_total"], outcome["rows_loaded"], outcome["rows_rejected"]
    rows = outcome.get("rejected_row_numbers") or []
    where = f"regel {line_ranges(rows)}" + (", …" if flagged > len(rows) else "") if rows else ""
    if outcome["status"] == "duplicate":
        counts = [f"Regels in het bestand: {total}", "Regels verwerkt: 0 (al eerder verwerkt)"]
    elif outcome["status"] == "rejected":
        counts = [
            f"Regels in het bestand: {total}" if total else "Regels in het bestand: niet geteld",
            "Regels verwerkt: 0",
        ]
        if total:
            with_errors = f"; met fouten: {flagged} ({where})" if flagged and where else ""
            counts.append(f"Regels afgewezen: {total} (het hele bestand{with_errors})")
    else:
        counts = [
            f"Regels in het bestand: {loaded + flagged}",
            f"Regels verwerkt: {loaded}",
            f"Regels afgewezen: {flagged}" + (f" ({where})" if where else ""),
        ]
    return [*counts, f"Waarschuwingen: {outcome['warnings']}"]


def receipt_text(outcome: dict, partner_name: str = "") -> str:
    """The receipt (ontvangstbevestiging) for the partner, in Dutch; never quotes personal data. Whatever it
    quotes from the delivery is one printable line each (``one_line``)."""
    # "• ", not "- ": a line a spreadsheet opens must not start a formula (``spreadsheet_safety``)
    listed = {k: [f"• {one_line(m)}" for m in outcome.get(k) or []] for k in ("notes", "reasons", "warning_messages")}
    lines = [
        f"Ontvangstbevestiging{' voor ' + one_line(partner_name) if partner_name else ''}",
        f"Bestand: {one_line(outcome['remote_name'])}",
        f"Ontvangen: {_dutch_timestamp(outcome.get('received_at', ''))}",
        f"Controlegetal (SHA-256): {outcome['file_id']}",
        *_delivery_lines(outcome),
        f"Resultaat: {_VERDICT[outcome['status']]}",
        *_count_lines(outcome),
    ]
    if listed["notes"]:
        lines += ["", "Opmerkingen:", *listed["notes"]]
    if listed["reasons"]:
        lines += ["", "Fouten:", *listed["reasons"]]
    if listed["warning_messages"]:
        heading = (
            "Waarschuwingen:" if outcome["status"] == "rejected" else "Waarschuwingen (de regels zijn wel verwerkt):"
        )
        lines += ["", heading, *listed["warning_messages"]]
    if outcome["status"] == "rejected":
        lines += [
            "",
            "Wat nu: pas het bestand aan en lever het opnieuw aan. Regelnummers tellen de kopregel als regel 1.",
        ]
    return "\n".join(lines) + "\n"


def receipt_name(outcome: dict) -> str:
    """``<file name>.<received yyyymmddThhmmssmmm>.ontvangstbevestiging.txt``: one receipt per delivery."""
    received = outcome.get("received_at")
    stamp = dt.datetime.fromisoformat(received).strftime("%Y%m%dT%H%M%S%f")[:-3] if received else "0"
    return f"{safe_name(outcome['remote_name'])}.{stamp}{RECEIPT_SUFFIX}"


# ------------------------------------------------------------------------------------------------ settle


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


def discard_landing_tmp(partner: str) -> None:
    shutil.rmtree(settings.landing_dir() / partner / "tmp", ignore_errors=True)


def purge_landing(partner: Partner, now: float | None = None) -> int:
    """Delete landed originals older than the partner's retention period; returns how many were deleted."""
    folder = settings.landing_dir() / partner.code
    if not folder.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - partner.landing_retention_days * 86400
    expired = [p for p in folder.iterdir() if p.is_file() and p.stat().st_mtime < cutoff]
    for path in expired:
        path.unlink()
    if expired:
        log.info(
            "partner %s: %d landed file(s) past %d days deleted",
            partner.code,
            len(expired),
            partner.landing_retention_days,
        )
    return len(expired)


# ------------------------------------------------------------------------------------------------ delivery windows


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date
    due: dt.date


def _period_of(day: dt.date, cadence: str) -> tuple[dt.date, dt.date]:
    if cadence == "weekly":
        start = day - dt.timedelta(days=day.weekday())
        return start, start + dt.timedelta(days=6)
    start = day.replace(day=1)
    following = (start + dt.timedelta(days=32)).replace(day=1)
    return start, following - dt.timedelta(days=1)


def delivery_due(partner: Partner, as_of: dt.date) -> dt.date:
    """The last day a file reporting on ``as_of`` is on time: its period's end plus the window."""
    return _period_of(as_of, partner.delivery.cadence)[1] + dt.timedelta(days=partner.delivery.window_days)


def delivered_on(fetched: FetchedFile, outcome: FileOutcome) -> dt.date:
    """The Dutch local date of the delivery (the file's own moment when known, else when it was read)."""
    return dutch_time.local_date(dt.datetime.fromisoformat(fetched.delivered_at or outcome.received_at))


def delivery_periods(partner: Partner, on: dt.date) -> list[Period]:
    """The partner's expected delivery periods from ``delivery.first_period`` up to the one containing ``on``."""
    delivery = partner.delivery
    if delivery.first_period is None:
        return []
    periods: list[Period] = []
    start, end = _period_of(delivery.first_period, delivery.cadence)
    while start <= on:
        periods.append(Period(start, end, delivery_due(partner, start)))
        start, end = _period_of(end + dt.timedelta(days=1), delivery.cadence)
    return periods


def refresh_delivery_periods(conn: Connection, partner: Partner, on: dt.date) -> int:
    """Replace the partner's rows in ``ref_delivery_periods`` (idempotent for a given date)."""
    rows = pd.DataFrame(
        [
            {
                "partner": partner.code,
                "kind": partner.kind,
                "cadence": partner.delivery.cadence,
                "period_start": p.start,
                "period_end": p.end,
                "due_date": p.due,
                "checked_on": on,
            }
            for p in delivery_periods(partner, on)
        ]
    )
    conn.execute(sa.text("DELETE FROM ref_delivery_periods WHERE partner = :p"), {"p": partner.code})
    return warehouse.insert_rows(conn, "ref_delivery_periods", rows)


def fill_received_on(conn: Connection) -> int:
    """Give ledger rows written before ``received_on`` existed their Dutch local receipt date."""
    rows = conn.execute(
        sa.text(
            "SELECT partner, file_id, received_at FROM meta_file_ledger "
            "WHERE received_on IS NULL AND received_at IS NOT NULL"
        )
    ).all()
    for partner, file_id, received_at in rows:
        conn.execute(
            sa.text("UPDATE meta_file_ledger SET received_on = :d WHERE partner = :p AND file_id = :f"),
            {"d": dutch_time.local_date(received_at), "p": partner, "f": file_id},
        )
    return len(rows)


def missed_deliveries(conn: Connection, partner: str) -> list[dict[str, Any]]:
    """Missed periods of a partner, computed by the mart_delivery_compliance model's own SQL."""
    model = (
        (settings.SQL_DIR / "models" / "mart_delivery_compliance.sql").read_text(encoding="utf-8").strip().rstrip(";")
    )
    result = conn.execute(
        sa.text(f"SELECT * FROM ({model}) AS m WHERE partner = :p AND status = 'missed' ORDER BY period_start"),
        {"p": partner},
    )
    return [dict(r) for r in result.mappings()]


def check_delivery_windows(partner: Partner, url: str | None = None, on: dt.date | None = None) -> list[dict[str, Any]]:
    """Refresh the partner's expected periods and log a warning for every missed delivery window."""
    on = on or today()
    with warehouse.connect(url) as conn:
        locks.ensure_schema(conn)
        fill_received_on(conn)
        refresh_delivery_periods(conn, partner, on)
        missed = missed_deliveries(conn, partner.code)
    for row in missed:
        log.warning(
            "partner %s missed its delivery window: nothing loaded for %s - %s (due %s, %s days overdue)",
            partner.code,
            row["period_start"],
            row["period_end"],
            row["due_date"],
            row["days_late"],
        )
    return missed
