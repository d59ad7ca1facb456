"""The records each source brings to the linkage: read from staging with their sealed person tokens, unsealed in
memory right after reading, with the thresholds the linkage of the sources uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
from sqlalchemy.engine import Connection

from eviction_prevention import warehouse
from eviction_prevention.pseudonymise import keys, sealing
from eviction_prevention.pseudonymise.pseudonymiser import PERSON_PSEUDONYMS
from eviction_prevention.validate.closed_values import corporation_codes

PERSON_KEYS = [c for c in PERSON_PSEUDONYMS if c not in ("pk_phone", "pk_email")]
# A social-team case belongs to an arrears case when it was received this close to the corporation's report.
REPORT_MATCH_WINDOW_DAYS = 31
LINK_THRESHOLD = 0.9
# Direct links kept as steps of two-step paths (a path needs both steps; the product decides).
PATH_STEP_THRESHOLD = LINK_THRESHOLD
# Person links kept as candidates for two-step paths and person groups (those need LINK_THRESHOLD anyway).
CASE_CANDIDATE_THRESHOLD = 0.01
REPORT_DATE_CLOSE_DAYS = 3
# Assumed m-probabilities of the report-date levels: a social team registers a report within 3 days.
REPORT_DATE_M = {"close": 0.95, "window": 0.05}
# What a row's person pseudonyms are read from: the seal and its associated data (``sealing``), kept in
# staging only; the intermediate models point at their staging row (partner, file_id, source_row).
SEALED = ("record_key", "key_version", sealing.SEAL_COLUMN)


@dataclass(frozen=True)
class SourceRecords:
    """One source as read for linkage: its other columns (``frame``), and its rows' person pseudonyms,
    opened in memory (``tokens``: raw bytes). They stay inside the linkage step: never written, logged or
    returned."""

    frame: pd.DataFrame
    tokens: sealing.Opened


def _sealed_rows(model: str, staging: str, columns: str, where: str = "") -> str:
    """The rows of an intermediate model with the seal of each (from its staging row)."""
    sealed = ", ".join(f"s.{c}" for c in SEALED)
    return (
        f"SELECT {columns}, {sealed} FROM {model} AS m JOIN {staging} AS s "
        f"ON s.partner = m.partner AND s.file_id = m.file_id AND s.source_row = m.source_row {where}"
    )


def models_prefix(schema: str | None) -> str:
    """How the linkage names the intermediate models: in ``schema`` (a publish run's build), else in the
    connection's own schema."""
    return f'"{schema}".' if schema else ""


def _read_source(conn: Connection, kind: str, chain: keys.KeyChain, models: str | None = None) -> SourceRecords:
    """The records of one source kind (``SOURCE_QUERIES``; intermediate models in schema ``models``) with their
    seals opened. The query is read as a stream and each batch's seals opened as it comes, so the seals' text
    is never all in memory."""
    sql = SOURCE_QUERIES[kind].replace("{models}", models_prefix(models))
    n = int(warehouse.read_frame(conn, f"SELECT count(*) AS n FROM ({sql}) AS q")["n"].iloc[0])
    if not n:  # the columns, without rows
        frame = warehouse.read_frame(conn, f"SELECT * FROM ({sql}) AS q WHERE 1 = 0").drop(columns=list(SEALED))
        return SourceRecords(frame, sealing.open_seals([], [], [], kind, chain))
    kept: list[pa.RecordBatch] = []

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in warehouse.read_arrow_batches(conn, sql):
            kept.append(batch.drop_columns(list(SEALED)))
            yield batch

    tokens = sealing.open_seal_batches(batches(), n, kind, chain)
    frame = warehouse.frame_from_arrow(pa.Table.from_batches(kept))
    if kind == "social_team":
        # a corporation as reporter names the tenancy's corporation; a self-report, a GP or none says nothing
        frame = frame.assign(reporter=corporation_codes(frame["reporter"]))
    return SourceRecords(frame, tokens)


# Per source kind, its records with their seals: the tenant of each tenancy as last delivered (ties: the
# latest file, then the first row), the current state of each social-team case and SDD record. ``{models}``:
# the schema of the intermediate models read (``models_prefix``).
SOURCE_QUERIES = {
    "corporation": _sealed_rows(
        """(
        SELECT partner, file_id, source_row, record_key,
               row_number() OVER (PARTITION BY partner, record_key
                                  ORDER BY snapshot_date DESC, file_id, source_row) AS rn
        FROM {models}int_arrears_snapshots
    )""",
        "stg_arrears_snapshots",
        "m.partner || ':' || m.record_key AS id",
        "WHERE m.rn = 1",
    ),
    "social_team": _sealed_rows(
        "{models}int_social_team_cases",
        "stg_social_team_cases",
        "m.social_team_case_id AS id, m.reporter, m.report_received_date",
    ),
    "sdd": _sealed_rows("{models}int_sdd_records", "stg_sdd_records", "m.sdd_record_id AS id"),
}


def read_sources(
    conn: Connection, chain: keys.KeyChain, kinds: Sequence[str], models: str | None = None
) -> Iterator[SourceRecords]:
    """The sources ``kinds`` one after the other (``_read_source``): only one is open at a time."""
    for kind in kinds:
        yield _read_source(conn, kind, chain, models)
