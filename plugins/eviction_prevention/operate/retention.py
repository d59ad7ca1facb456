"""Retention: delete personal data past its configured retention period (``config/retention.yaml``).

Three kinds of data hold (pseudonymised) personal data and are purged here:

* landing files: the partners' original bytes, kept ``landing_retention_days`` per partner
  (``config/partners.yaml``; deleted by :func:`eviction_prevention.intake.landing.purge_landing`);
* staging rows: deleted when their as-of date is older than the table's period;
* linkage data: ``int_persons`` and ``int_links`` rows whose records have no staging rows left (a record
  that keeps rows keeps its ``int_persons.first_seen``, which the next publish reads: its person's id stays);
* sealed references (``identity_vault``): a staged row's sealed reference leaves with the row.

Only counts are logged and returned, never keys or contents.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eviction_prevention import dutch_time, settings, warehouse
from eviction_prevention.pseudonymise import identity_vault

log = logging.getLogger(__name__)

POLICY_FILE = settings.CONFIG_DIR / "retention.yaml"
# The staging tables and the as-of columns a rule may name: config never reaches SQL unchecked.
STAGING_DATE_COLUMNS = {
    "stg_arrears_snapshots": "snapshot_date",
    "stg_social_team_cases": "export_date",
    "stg_sdd_records": "export_date",
}


@dataclass(frozen=True)
class StagingRule:
    table: str
    date_column: str
    days: int


def parse_policy(raw: dict) -> list[StagingRule]:
    """Staging rules from the YAML document; unknown tables or columns and non-positive periods are refused."""
    rules = []
    for table, spec in (raw.get("staging") or {}).items():
        if STAGING_DATE_COLUMNS.get(table) != spec.get("date_column"):
            raise ValueError(f"retention: unknown staging table/column {table}.{spec.get('date_column')}")
        days = int(spec["days"])
        if days <= 0:
            raise ValueError(f"retention: {table} needs a positive number of days, got {days}")
        rules.append(StagingRule(table, spec["date_column"], days))
    if (raw.get("linkage") or {}).get("follows") != "staging":
        raise ValueError("retention: linkage.follows must be 'staging' (linkage data is derived from staging)")
    return rules


def load_policy(path: Path = POLICY_FILE) -> list[StagingRule]:
    return parse_policy(settings.read_yaml(path))


def cutoff(today: dt.date, days: int) -> dt.date:
    """Rows dated before this day are past retention (a row dated exactly ``days`` ago is still kept)."""
    return today - dt.timedelta(days=days)


def _count(conn: Connection, sql: str, **params: object) -> int:
    return int(conn.execute(sa.text(f"SELECT count(*) {sql}"), params).scalar_one())


def purge_staging(conn: Connection, rule: StagingRule, today: dt.date) -> int:
    """Delete the table's rows dated before the cutoff; returns how many."""
    where = f"FROM {rule.table} WHERE {rule.date_column} < :cutoff"
    limit = cutoff(today, rule.days)
    expired = _count(conn, where, cutoff=limit)
    if expired:
        conn.execute(sa.text(f"DELETE {where}"), {"cutoff": limit})
    log.info("retention %s: %d row(s) dated before %s deleted (%d days)", rule.table, expired, limit, rule.days)
    return expired


LIVE_RECORDS = " UNION ".join(f"SELECT partner || ':' || record_key FROM {t}" for t in STAGING_DATE_COLUMNS)


def _record_of(column: str) -> str:
    """SQL for the record id (``partner:record_key``) a linkage key starts with (case ids add ``:t0``)."""
    return f"split_part({column}, ':', 1) || ':' || split_part({column}, ':', 2)"


def purge_linkage(conn: Connection) -> dict[str, int]:
    """Delete linkage rows of records that no longer have staging rows; returns counts per table."""
    conditions = {
        "int_persons": f"record_id NOT IN ({LIVE_RECORDS})",
        "int_links": f"{_record_of('left_key')} NOT IN ({LIVE_RECORDS}) "
        f"OR {_record_of('right_key')} NOT IN ({LIVE_RECORDS})",
    }
    counts = {}
    for table, condition in conditions.items():
        counts[table] = _count(conn, f"FROM {table} WHERE {condition}")
        if counts[table]:
            conn.execute(sa.text(f"DELETE FROM {table} WHERE {condition}"))
        log.info("retention %s: %d row(s) of records without staging rows deleted", table, counts[table])
    return counts


def purge_warehouse(
    url: str | None = None, today: dt.date | None = None, rules: list[StagingRule] | None = None
) -> dict[str, int]:
    """Staging rows past retention, then the linkage rows they leave behind, in one transaction."""
    today = today or dutch_time.today()
    rules = load_policy() if rules is None else rules
    with warehouse.connect(url) as conn:
        warehouse.ensure_schema(conn)
        counts = {rule.table: purge_staging(conn, rule, today) for rule in rules}
        counts.update(purge_linkage(conn))
        counts[identity_vault.TABLE] = identity_vault.purge_orphans(conn, STAGING_DATE_COLUMNS)
    return counts


def staging_changed(counts: dict[str, int]) -> bool:
    """Whether a purge deleted staging rows (what the marts are built from; linkage and vault rows follow)."""
    return any(counts.get(table, 0) > 0 for table in STAGING_DATE_COLUMNS)


def purge_landing_files(now: dt.datetime | None = None) -> dict[str, int]:
    """Landed originals past each partner's ``landing_retention_days``; returns counts per partner."""
    from eviction_prevention.intake.landing import purge_landing
    from eviction_prevention.partners import load_partners

    stamp = (now or dt.datetime.now(dt.UTC)).timestamp()
    counts = {p.code: purge_landing(p, now=stamp) for p in load_partners()}
    log.info("retention landing: %d file(s) deleted (%s)", sum(counts.values()), counts)
    return counts
