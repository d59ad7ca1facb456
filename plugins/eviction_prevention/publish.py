"""Publish: build intermediate models, link people across sources, build the marts.

Everything is rebuilt from the staging tables on each run, so a rerun gives the same warehouse.
"""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eviction_prevention import linking, settings, warehouse

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
        counts: dict[str, object] = dict(warehouse.build_models(conn, "before_linkage"))
        reference = set_reference_date(conn)
        counts["links"] = linking.link_sources(conn)
        counts.update(warehouse.build_models(conn, "after_linkage"))
        counts["reference_date"] = reference.isoformat() if reference else None
    return counts
