"""Publish: build intermediate models, link people across sources, build the marts.

Everything is rebuilt from the staging tables on each run, so a rerun gives the same warehouse.
"""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eviction_prevention import settings, warehouse
from eviction_prevention.intake import delivery_windows, files
from eviction_prevention.link import sources
from eviction_prevention.operate import access
from eviction_prevention.partners import load_partners
from eviction_prevention.pseudonymise import keys, seal_migration
from eviction_prevention.publish import statutory_calendar

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


def seed_calendar(conn: Connection, rules: statutory_calendar.RuleSet | None = None) -> None:
    """Load the working-day calendar of the Algemene termijnenwet rule set into ``ref_calendar``; skipped
    when the stored calendar has the same days and the same working days (fingerprint)."""
    calendar = statutory_calendar.working_day_calendar(rules)
    stored = conn.execute(sa.text("SELECT count(*), sum(working_day_no) FROM ref_calendar")).one()
    if (stored[0], stored[1]) == (len(calendar), int(calendar["working_day_no"].sum())):
        return
    conn.execute(sa.text("DELETE FROM ref_calendar"))
    warehouse.insert_rows(conn, "ref_calendar", calendar)


def set_reference_date(conn: Connection, override: dt.date | None = None) -> dt.date | None:
    """The one reference date of a publish: ``override`` (``--reference-date``), else
    ``EVICTION_PREVENTION_REFERENCE_DATE``, else the latest snapshot date. Deadline states, delivery states
    and every "overdue now" are computed as of this date."""
    configured = settings.reference_date_override()
    if override is not None:
        reference: dt.date | None = override
    elif configured:
        reference = dt.date.fromisoformat(configured)
    else:
        reference = warehouse.as_date(
            conn.execute(
                sa.text(
                    "SELECT max(snapshot_date) FROM meta_file_ledger WHERE kind = 'corporation' AND status = 'loaded'"
                )
            ).scalar()
        )
    conn.execute(sa.text("DELETE FROM meta_parameters WHERE name = 'reference_date'"))
    conn.execute(
        sa.text("INSERT INTO meta_parameters (name, value_date) VALUES ('reference_date', :d)"), {"d": reference}
    )
    return reference


def refresh_delivery_periods(conn: Connection, reference: dt.date) -> None:
    """Every partner's expected delivery periods, evaluated as of the reference date."""
    for partner in load_partners():
        delivery_windows.refresh_delivery_periods(conn, partner, reference)


def publish(
    url: str | None = None, reference_date: dt.date | None = None, key: bytes | keys.KeyChain | None = None
) -> dict[str, object]:
    """Rebuild intermediate models, links and marts in one transaction, as of one reference date.

    The linkage opens the sealed person pseudonyms, so publishing needs the pseudonymisation key (``key``, by
    default ``settings.pseudonym_key``); a warehouse made before sealing is migrated first (``seal_migration``).
    """
    chain = keys.parse_key_chain(key if key is not None else settings.pseudonym_key())
    with warehouse.connect(url) as conn:
        warehouse.ensure_schema(conn)
        seal_migration.migrate(conn, chain)
        seed_reference_data(conn)
        rules = statutory_calendar.load_rules()
        seed_calendar(conn, rules)
        delivery_windows.fill_received_on(conn)
        reference = set_reference_date(conn, reference_date)
        statutory_calendar.warn_if_uncovered(reference, rules)
        counts: dict[str, object] = dict(warehouse.build_models(conn, "before_linkage"))
        refresh_delivery_periods(conn, reference or files.today())
        counts["links"] = sources.link_sources(conn, chain)
        counts.update(warehouse.build_models(conn, "after_linkage"))
        counts["reference_date"] = reference.isoformat() if reference else None
        access.apply_access(conn)
    return counts
