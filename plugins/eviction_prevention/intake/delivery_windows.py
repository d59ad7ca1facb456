"""Delivery windows: the periods a partner must deliver a file for, their due dates, and the missed ones."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eviction_prevention import dutch_time, warehouse
from eviction_prevention.intake import locks
from eviction_prevention.intake.files import FetchedFile, FileOutcome
from eviction_prevention.partners import Partner
from eviction_prevention.publish import models

log = logging.getLogger(__name__)


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
    model = models.plain_sql("mart_delivery_compliance")
    result = conn.execute(
        sa.text(f"SELECT * FROM ({model}) AS m WHERE partner = :p AND status = 'missed' ORDER BY period_start"),
        {"p": partner},
    )
    return [dict(r) for r in result.mappings()]


def check_delivery_windows(partner: Partner, url: str | None = None, on: dt.date | None = None) -> list[dict[str, Any]]:
    """Refresh the partner's expected periods and log a warning for every missed delivery window."""
    on = on or dutch_time.today()
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
