"""The file ledger ``meta_file_ledger``: one row per partner and SHA-256 of the bytes, the history a file is
checked against, and corrected re-deliveries superseding earlier files.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eviction_prevention import warehouse
from eviction_prevention.dutch_time import utcnow
from eviction_prevention.intake.files import FetchedFile, FileOutcome
from eviction_prevention.partners import Partner
from eviction_prevention.validate.suites import History


def ledger_row(conn: Connection, partner: str, file_id: str) -> dict[str, Any] | None:
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


def record_delivery(conn: Connection, fetched: FetchedFile, status: str) -> None:
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


def supersede(conn: Connection, partner: str, file_id: str, as_of: dt.date) -> list[str]:
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


def insert_ledger(conn: Connection, partner: Partner, fetched: FetchedFile, outcome: FileOutcome, as_of: Any) -> None:
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
