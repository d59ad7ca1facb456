"""Publish: build intermediate models, link people across sources, build the marts.

Everything is rebuilt from the staging tables on each run, so a rerun gives the same warehouse.
"""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eviction_prevention import access, linking, settings, warehouse

log = logging.getLogger(__name__)


def seed_reference_data(conn: Connection) -> None:
    rows = pd.DataFrame(
        [
            {
                "municipality": name,
                "social_team": entry["social_team"],
                "no_eviction_families_with_children": bool(
                    (entry.get("policy") or {}).get("no_eviction_families_with_children", False)
                ),
            }
            for name, entry in settings.municipalities().items()
        ]
    )
    conn.execute(sa.text("DELETE FROM ref_municipalities"))
    warehouse.insert_rows(conn, "ref_municipalities", rows)


CALENDAR_YEARS = range(2015, 2036)


def working_day_calendar(years: range = CALENDAR_YEARS) -> pd.DataFrame:
    """Every date in ``years`` with whether it is a working day (no weekend, no Dutch public holiday)."""
    import holidays

    dutch = dict(holidays.country_holidays("NL", years=list(years)).items())  # a plain dict: fast lookups
    days = pd.date_range(f"{years.start}-01-01", f"{years.stop - 1}-12-31", freq="D").date
    working = [d.weekday() < 5 and d not in dutch for d in days]
    return pd.DataFrame(
        {
            "calendar_date": days,
            "is_working_day": working,
            "working_day_no": pd.Series(working).cumsum().astype("int64"),
            "holiday_name": [dutch.get(d) for d in days],
        }
    )


def seed_calendar(conn: Connection) -> None:
    days = (dt.date(CALENDAR_YEARS.stop, 1, 1) - dt.date(CALENDAR_YEARS.start, 1, 1)).days
    if conn.execute(sa.text("SELECT count(*) FROM ref_calendar")).scalar_one() == days:
        return  # seeded already (computing the holidays of 21 years costs seconds)
    calendar = working_day_calendar()
    conn.execute(sa.text("DELETE FROM ref_calendar"))
    warehouse.insert_rows(conn, "ref_calendar", calendar)


def set_reference_date(conn: Connection) -> dt.date | None:
    """Deadline states are computed as of the override date, or else the latest snapshot date."""
    override = settings.reference_date_override()
    if override:
        reference = dt.date.fromisoformat(override)
    else:
        reference = warehouse.as_date(
            conn.execute(sa.text("SELECT max(snapshot_date) FROM int_arrears_snapshots")).scalar()
        )
    conn.execute(sa.text("DELETE FROM meta_parameters WHERE name = 'reference_date'"))
    conn.execute(
        sa.text("INSERT INTO meta_parameters (name, value_date) VALUES ('reference_date', :d)"), {"d": reference}
    )
    return reference


def publish(url: str | None = None) -> dict[str, object]:
    """Rebuild intermediate models, links and marts in one transaction."""
    with warehouse.connect(url) as conn:
        warehouse.ensure_schema(conn)
        seed_reference_data(conn)
        seed_calendar(conn)
        counts: dict[str, object] = dict(warehouse.build_models(conn, "before_linkage"))
        reference = set_reference_date(conn)
        counts["links"] = linking.link_sources(conn)
        counts.update(warehouse.build_models(conn, "after_linkage"))
        counts["reference_date"] = reference.isoformat() if reference else None
        access.apply_access(conn)
    return counts
