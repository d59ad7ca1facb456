"""Migration of warehouses made before sealing: staging's pseudonym columns become ``person_seal``.

A warehouse created by an earlier version stores the person pseudonyms as columns (``pk_*``, ``bf_*``) in its
staging tables. The next publish (``rebuild.publish``, right after ``warehouse.ensure_schema``, which has added
the ``person_seal`` column) migrates each staging table that still has such columns:

1. every row without a seal is sealed (``sealing.seal``) from its stored pseudonyms under its
   ``key_version`` (a row from before key versions: the chain's first version, then written to
   ``key_version``), one delivered file at a time, into a temporary table; rows an intake loaded after the
   upgrade already have a seal and keep it;
2. the table is rebuilt from its current ``CREATE TABLE`` (``sql/schema``) and its rows copied in with their
   seals, so the old columns are gone from the rows too (PostgreSQL frees the old table's files at commit,
   where a dropped column would leave its values in every row); the layer views on it go with the old
   table and the publish recreates them (``access.apply_access``).

The int_* models that copied the columns are rebuilt by the same publish. Everything runs in the publish's
one transaction on DuckDB and PostgreSQL alike: a crash rolls it back and the next publish starts again, and
a staging table without ``pk_*``/``bf_*`` columns is left alone, so rerunning is safe. Only counts are logged.
"""

from __future__ import annotations

import logging

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eviction_prevention import warehouse
from eviction_prevention.parse.layouts import STAGING_TABLE
from eviction_prevention.pseudonymise import keys, sealing
from eviction_prevention.pseudonymise.pseudonymiser import PERSON_PSEUDONYMS

log = logging.getLogger(__name__)

LEGACY_PREFIXES = ("pk_", "bf_")
SEALS_TABLE = "tmp_person_seals"
ROW_KEY = ("partner", "file_id", "source_row")  # a staging row: one line of one delivered file


def legacy_columns(conn: Connection, table: str) -> list[str]:
    """The pseudonym columns an earlier version stored in ``table`` (none once migrated)."""
    return [c for c in warehouse.table_columns(conn, table) if c.startswith(LEGACY_PREFIXES)]


def _seal_file(frame: pd.DataFrame, kind: str, chain: keys.KeyChain) -> pd.DataFrame:
    """Seals for the staging rows ``frame`` of one file (record_key, key_version, stored pseudonyms)."""
    versions = frame["key_version"].astype(object).where(frame["key_version"].notna(), chain.versions[0][0])
    tokens = frame[[c for c in frame.columns if c in PERSON_PSEUDONYMS]]
    return pd.DataFrame(
        {
            "source_row": frame["source_row"],
            "key_version": versions,
            sealing.SEAL_COLUMN: sealing.seal(tokens, frame["record_key"], versions, kind, chain).to_numpy(),
        }
    )


def seal_rows(conn: Connection, table: str, kind: str, chain: keys.KeyChain, columns: list[str]) -> int:
    """Seal every unsealed row of ``table`` from its pseudonym ``columns`` into the temporary SEALS_TABLE
    (one file at a time: a file's pseudonyms are the most held in memory). Returns how many rows."""
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {SEALS_TABLE}"))
    conn.execute(
        sa.text(
            f"CREATE TEMPORARY TABLE {SEALS_TABLE} (partner VARCHAR, file_id VARCHAR, source_row INTEGER, "
            f"key_version VARCHAR, {sealing.SEAL_COLUMN} VARCHAR)"
        )
    )
    unsealed = f"FROM {table} WHERE {sealing.SEAL_COLUMN} IS NULL"
    files = conn.execute(sa.text(f"SELECT DISTINCT partner, file_id {unsealed} ORDER BY partner, file_id")).all()
    sealed = 0
    for partner, file_id in files:
        frame = warehouse.read_frame(
            conn,
            f"SELECT source_row, record_key, key_version, {', '.join(columns)} {unsealed} "
            "AND partner = :partner AND file_id = :file_id",
            partner=partner,
            file_id=file_id,
        )
        rows = _seal_file(frame, kind, chain).assign(partner=partner, file_id=file_id)
        sealed += warehouse.insert_rows(conn, SEALS_TABLE, rows)
    return sealed


def rebuild(conn: Connection, table: str) -> None:
    """Recreate ``table`` from its current definition with its rows, the seals of SEALS_TABLE joined in."""
    old = f"{table}_before_sealing"
    conn.execute(sa.text(f"ALTER TABLE {table} RENAME TO {old}"))
    warehouse.recreate_table(conn, table)
    kept = set(warehouse.table_columns(conn, old))
    columns = [c for c in warehouse.table_columns(conn, table) if c in kept and c not in ("key_version", "person_seal")]
    joined = " AND ".join(f"s.{c} = o.{c}" for c in ROW_KEY)
    conn.execute(
        sa.text(
            f"INSERT INTO {table} ({', '.join(columns)}, key_version, {sealing.SEAL_COLUMN}) "
            f"SELECT {', '.join('o.' + c for c in columns)}, coalesce(s.key_version, o.key_version), "
            f"coalesce(o.{sealing.SEAL_COLUMN}, s.{sealing.SEAL_COLUMN}) "
            f"FROM {old} AS o LEFT JOIN {SEALS_TABLE} AS s ON {joined}"
        )
    )
    conn.execute(sa.text(f"DROP TABLE {old} CASCADE"))  # and the layer views on it (publish recreates them)


def migrate(conn: Connection, key: bytes | keys.KeyChain) -> dict[str, int]:
    """Seal the pseudonym columns of every staging table that still has them, then drop them (see the
    module doc). Returns the rows sealed per migrated table; an already migrated warehouse gives ``{}``."""
    chain = keys.parse_key_chain(key)
    counts = {}
    for kind, table in STAGING_TABLE.items():
        columns = legacy_columns(conn, table)
        if not columns:
            continue
        counts[table] = seal_rows(conn, table, kind, chain, columns)
        rebuild(conn, table)
        conn.execute(sa.text(f"DROP TABLE {SEALS_TABLE}"))
        log.info("%s: %d row(s) sealed, %d pseudonym column(s) dropped", table, counts[table], len(columns))
    return counts
