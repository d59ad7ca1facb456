"""Replay partner files from disk: a file a partner mailed, a backfill of old deliveries.

The same path as the intake DAG's load step, without SFTP: each file is archived in the landing folder
by its checksum, then parsed, validated, pseudonymised, loaded and written to the ledger in one
transaction (exactly once per file, as from the inbox), under the partner's lock. The Dutch receipt is
written next to the file. ``received_at`` is the moment the partner delivered it (default: now); delivery
compliance judges it by its Dutch local date. File names are not held to the partner's inbox patterns
(the operator chose the partner), but a name outside them is replaced by a neutral one
(``<partner>_<checksum>.<ext>``) wherever it would be stored or shown.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from eviction_prevention import dutch_time, warehouse
from eviction_prevention.intake import files, ingest, locks, receipts, settle
from eviction_prevention.partners import Partner


def delivered_name(path: Path, partner: Partner, file_id: str) -> str:
    """The name the file is known by in the ledger, receipts and output: its own when it follows the partner's
    agreed pattern, else a neutral one (a mailed file may be named after the tenant it is about)."""
    if files.name_refusal(path.name, partner) is None:
        return path.name
    suffix = path.suffix.lower() if path.suffix.lower() in (".csv", ".xlsx", ".txt") else ".bin"
    return f"{partner.code}_{file_id[:12]}{suffix}"


def land_local_file(partner: Partner, path: Path, received_at: dt.datetime) -> files.FetchedFile:
    """Archive a local file in the landing folder (``<sha256><ext>``) as a download would."""
    file_id = files.sha256_file(path)
    target = files.landing_path(partner.code, file_id, path.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        tmp = target.with_name(f"{target.name}.tmp")
        shutil.copyfile(path, tmp)
        tmp.replace(target)
    size = target.stat().st_size
    moment = received_at.isoformat()
    name = delivered_name(path, partner, file_id)
    return files.FetchedFile(partner.code, name, file_id, str(target), size, moment, delivered_at=moment)


def ingest_paths(
    partner: Partner, paths: list[Path], key: bytes, url: str | None = None, received_at: dt.datetime | None = None
) -> list[dict]:
    """Ingest local files of one partner in order; write each receipt next to its file. Returns the outcomes
    (the receipt's data: counts and Dutch messages, never personal data)."""
    received = received_at or dutch_time.utcnow()
    outcomes: list[dict] = []
    with locks.partner_lock(partner.code, url):
        for path in paths:
            fetched = land_local_file(partner, path, received)
            outcome = ingest.ingest_files(partner, [fetched], key, url, on=dutch_time.local_date(received))[0]
            receipt = path.parent / receipts.receipt_name(outcome)
            receipt.write_text(receipts.receipt_text(outcome, partner.name), encoding="utf-8")
            outcomes.append(outcome | {"receipt": str(receipt)})
        with warehouse.connect(url) as conn:
            settle.mark_settled(conn, partner.code, [o["file_id"] for o in outcomes if o["status"] != "duplicate"])
    return outcomes
