"""Partner intake: fetch new files over SFTP, parse, validate, pseudonymise, load, settle.

Functions here are called by the intake DAG's tasks; they take plain values and return small
JSON-able dicts (file names, checksums, counts) - never personal data, since results go to XCom.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import posixpath
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eviction_prevention import schema, settings, warehouse
from eviction_prevention.parsing import Issue, parse_bytes
from eviction_prevention.partners import Partner
from eviction_prevention.pseudonymise import pseudonymise_frame
from eviction_prevention.validation import validate

log = logging.getLogger(__name__)

PROCESSED_DIR = "processed"
QUARANTINE_DIR = "quarantine"
OUTBOX_DIR = "outbox"


class SFTPClientLike(Protocol):  # the subset of paramiko.SFTPClient used here
    def listdir(self, path: str = ".") -> list[str]: ...
    def get(self, remotepath: str, localpath: str) -> None: ...
    def rename(self, oldpath: str, newpath: str) -> None: ...
    def putfo(self, fl: Any, remotepath: str) -> Any: ...


@dataclass
class FetchedFile:
    partner: str
    remote_name: str
    file_id: str  # sha256 of the bytes
    landing_path: str
    size_bytes: int


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
    reasons: list[str] = field(default_factory=list)  # Dutch, no personal data


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def landing_path(partner: str, file_id: str, remote_name: str) -> Path:
    suffix = Path(remote_name).suffix.lower()
    return settings.landing_dir() / partner / f"{file_id}{suffix}"


def matching_names(names: list[str], pattern: str) -> list[str]:
    return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))


def fetch_new_files(partner: Partner, sftp: SFTPClientLike) -> list[FetchedFile]:
    """Download every inbox file matching the partner's pattern into the landing archive."""
    fetched: list[FetchedFile] = []
    names = matching_names(sftp.listdir(partner.inbox), partner.file_pattern)
    tmp_dir = settings.landing_dir() / partner.code / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        tmp = tmp_dir / f"download-{hashlib.sha256(name.encode()).hexdigest()[:16]}"
        sftp.get(posixpath.join(partner.inbox, name), str(tmp))
        file_id = sha256_file(tmp)
        target = landing_path(partner.code, file_id, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.replace(target)
        fetched.append(FetchedFile(partner.code, name, file_id, str(target), target.stat().st_size))
    log.info("partner %s: %d new file(s) downloaded", partner.code, len(fetched))
    return fetched


def _ledger_row(conn: Connection, partner: str, file_id: str) -> dict[str, Any] | None:
    row = (
        conn.execute(
            sa.text(
                "SELECT status, rows_total, rows_loaded, rows_rejected, warnings, reasons "
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


def check_file(data: bytes, partner: Partner) -> tuple[pd.DataFrame, list[Issue]]:
    """Parse and validate one file. Returns the accepted canonical rows and every issue found."""
    parsed = parse_bytes(data, partner.layout, partner.kind)
    if parsed.rejected:
        return pd.DataFrame(), parsed.issues
    frame = parsed.frame
    as_of = frame[schema.AS_OF_COLUMN[partner.kind]]
    parameters = {"max_date": as_of.max() if as_of.notna().any() else pd.Timestamp.max}
    issues = parsed.issues + validate(frame, partner.kind, partner.layout.columns, parameters)
    if as_of.nunique() > 1:
        header = partner.layout.columns[schema.AS_OF_COLUMN[partner.kind]]
        issues.append(Issue("as_of", f"kolom '{header}' moet in het hele bestand dezelfde datum hebben"))
    if any(i.severity == "critical" for i in issues):
        return pd.DataFrame(), issues
    bad_rows = {i.row for i in issues if i.severity == "row"}
    accepted = frame[~frame["source_row"].isin(bad_rows)].copy()
    warned = pd.Series([i.row for i in issues if i.severity == "warning" and i.row is not None], dtype="int64")
    counts = warned.value_counts()
    accepted["row_warnings"] = accepted["source_row"].map(counts).fillna(0).astype("int64")
    return accepted, issues


def to_staging(frame: pd.DataFrame, partner: Partner, file_id: str, key: bytes) -> pd.DataFrame:
    """Pseudonymise and drop identifiers; add provenance columns."""
    out = pseudonymise_frame(frame, partner.kind, key)
    out["partner"] = partner.code
    out["file_id"] = file_id
    out["source_row"] = frame["source_row"].to_numpy()
    out["row_warnings"] = frame["row_warnings"].to_numpy()
    forbidden = set(schema.identifier_columns(partner.kind))
    leaked = forbidden & set(out.columns)
    if leaked:
        raise RuntimeError(f"identifier columns would reach the warehouse: {sorted(leaked)}")
    return out


def ingest_file(conn: Connection, partner: Partner, fetched: FetchedFile, key: bytes) -> FileOutcome:
    """Load one landed file exactly once: a file already in the ledger is not loaded again."""
    known = _ledger_row(conn, partner.code, fetched.file_id)
    if known is not None:
        return FileOutcome(
            partner.code,
            fetched.remote_name,
            fetched.file_id,
            "duplicate",
            rows_total=known["rows_total"],
            rows_loaded=0,
        )
    data = Path(fetched.landing_path).read_bytes()
    accepted, issues = check_file(data, partner)
    critical = [i for i in issues if i.severity == "critical"]
    rejected_rows = {i.row for i in issues if i.severity == "row"}
    warnings = [i for i in issues if i.severity == "warning"]
    rows_total = len(accepted) + len(rejected_rows) if not critical else 0
    status = "rejected" if critical else "loaded"
    rows_loaded = 0
    as_of = None
    if not critical:
        staging = to_staging(accepted, partner, fetched.file_id, key)
        table = schema.STAGING_TABLE[partner.kind]
        rows_loaded = warehouse.replace_rows(
            conn, table, staging, {"partner": partner.code, "file_id": fetched.file_id}
        )
        as_of = warehouse.as_date(accepted[schema.AS_OF_COLUMN[partner.kind]].max())
    reasons = [i.message for i in critical] or [i.message for i in issues if i.severity == "row"]
    conn.execute(
        sa.text(
            "INSERT INTO meta_file_ledger (partner, file_id, kind, file_name, size_bytes, delivery_seq, "
            "snapshot_date, status, rows_total, rows_loaded, rows_rejected, warnings, reasons) VALUES "
            "(:partner, :file_id, :kind, :file_name, :size, :seq, :as_of, :status, :total, :loaded, "
            ":rejected, :warnings, :reasons)"
        ),
        {
            "partner": partner.code,
            "file_id": fetched.file_id,
            "kind": partner.kind,
            "file_name": fetched.remote_name,
            "size": fetched.size_bytes,
            "seq": _next_sequence(conn, partner.code),
            "as_of": as_of,
            "status": status,
            "total": rows_total,
            "loaded": rows_loaded,
            "rejected": len(rejected_rows),
            "warnings": len(warnings),
            "reasons": "\n".join(reasons[:50]) or None,
        },
    )
    log.info(
        "partner %s file %s: %s, %d rows loaded, %d rejected, %d warnings",
        partner.code,
        fetched.file_id[:12],
        status,
        rows_loaded,
        len(rejected_rows),
        len(warnings),
    )
    return FileOutcome(
        partner.code,
        fetched.remote_name,
        fetched.file_id,
        status,
        rows_total,
        rows_loaded,
        len(rejected_rows),
        len(warnings),
        [i.message for i in critical + warnings][:50],
    )


def ingest_files(partner: Partner, fetched: list[FetchedFile], key: bytes, url: str | None = None) -> list[dict]:
    outcomes = []
    for item in fetched:
        with warehouse.connect(url) as conn:  # one transaction per file: all or nothing
            warehouse.ensure_schema(conn)
            outcomes.append(asdict(ingest_file(conn, partner, item, key)))
    return outcomes


def receipt_text(outcome: dict) -> str:
    """The receipt (ontvangstbevestiging) for the partner, in Dutch; never quotes personal data."""
    verdict = {
        "loaded": "GEACCEPTEERD",
        "rejected": "AFGEWEZEN",
        "duplicate": "AL EERDER ONTVANGEN (niet opnieuw verwerkt)",
    }[outcome["status"]]
    lines = [
        f"Ontvangstbevestiging voor bestand: {outcome['remote_name']}",
        f"Controlegetal (SHA-256): {outcome['file_id']}",
        f"Resultaat: {verdict}",
        f"Regels verwerkt: {outcome['rows_loaded']}",
        f"Regels afgewezen: {outcome['rows_rejected']}",
        f"Waarschuwingen: {outcome['warnings']}",
    ]
    if outcome["reasons"]:
        lines += ["", "Bevindingen:"] + [f"- {r}" for r in outcome["reasons"]]
    if outcome["status"] == "rejected":
        lines += ["", "Het bestand is niet verwerkt. Pas het bestand aan en lever het opnieuw aan."]
    return "\n".join(lines) + "\n"


def settle_files(partner: Partner, outcomes: list[dict], sftp: SFTPClientLike) -> dict[str, int]:
    """Move each file out of the inbox (processed/ or quarantine/) and write its receipt to the outbox."""
    import io

    moved = {"processed": 0, "quarantine": 0}
    for outcome in outcomes:
        folder = QUARANTINE_DIR if outcome["status"] == "rejected" else PROCESSED_DIR
        source = posixpath.join(partner.inbox, outcome["remote_name"])
        target = posixpath.join(folder, f"{outcome['file_id'][:12]}_{outcome['remote_name']}")
        try:
            sftp.rename(source, target)
        except FileNotFoundError:
            log.info("partner %s: %s already moved", partner.code, outcome["remote_name"])
        receipt = io.BytesIO(receipt_text(outcome).encode("utf-8"))
        sftp.putfo(receipt, posixpath.join(OUTBOX_DIR, f"{outcome['remote_name']}.ontvangstbevestiging.txt"))
        moved["quarantine" if folder == QUARANTINE_DIR else "processed"] += 1
    log.info("partner %s: %d processed, %d quarantined", partner.code, moved["processed"], moved["quarantine"])
    return moved


def discard_landing_tmp(partner: str) -> None:
    shutil.rmtree(settings.landing_dir() / partner / "tmp", ignore_errors=True)
