"""Check a file: parse it in the sandbox, validate it with the partner kind's suite and closed lists, and turn
the valid rows into pseudonymised staging rows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from eviction_prevention import warehouse
from eviction_prevention.dutch_time import today
from eviction_prevention.parse import layouts, sandbox
from eviction_prevention.parse.issues import Issue
from eviction_prevention.partners import Partner
from eviction_prevention.pseudonymise import identity_vault, keys
from eviction_prevention.pseudonymise.frames import pseudonymise_frame
from eviction_prevention.pseudonymise.pseudonymiser import REFERENCE_COLUMN
from eviction_prevention.validate.closed_values import closed_value_issues, with_closed_values
from eviction_prevention.validate.suites import History, run_suite, suite_parameters

STAGING_CHUNK_ROWS = 100_000  # rows pseudonymised and inserted at a time (bounds memory for national files)


@dataclass
class Checked:
    accepted: pd.DataFrame
    issues: list[Issue]
    as_of: dt.date | None = None
    gx_result: Any = None
    rows: int = 0  # data rows in the file (0 when it could not be read)
    stated_as_of: dt.date | None = None  # the as-of date the file states, also when it is rejected (receipt)


def _as_of_issues(frame: pd.DataFrame, partner: Partner) -> list[Issue]:
    as_of = frame[layouts.AS_OF_COLUMN[partner.kind]]
    if as_of.nunique() > 1:
        header = partner.layout.columns[layouts.AS_OF_COLUMN[partner.kind]]
        return [Issue("as_of", f"kolom '{header}' moet in het hele bestand dezelfde datum hebben")]
    return []


def promote_row_errors(issues: list[Issue], partner: Partner) -> list[Issue]:
    """With ``reject_file_on_row_errors`` a row error rejects the file (a snapshot must be complete)."""
    if not partner.reject_file_on_row_errors:
        return issues
    return [dataclasses.replace(i, severity="critical") if i.severity == "row" else i for i in issues]


def check_file(
    data: bytes, partner: Partner, history: History | None = None, on: dt.date | None = None
) -> tuple[pd.DataFrame, list[Issue]]:
    """Parse and validate one file. Returns the accepted canonical rows and every issue found."""
    checked = check(data, partner, history or History(), on or today())
    return checked.accepted, checked.issues


def check(data: bytes, partner: Partner, history: History, on: dt.date) -> Checked:
    parsed = sandbox.parse(data, partner.layout, partner.kind, partner.read_limits)
    if parsed.rejected:
        return Checked(pd.DataFrame(), promote_row_errors(parsed.issues, partner), rows=len(parsed.frame))
    frame = parsed.frame
    as_of = frame[layouts.AS_OF_COLUMN[partner.kind]]
    report = run_suite(frame, partner.kind, partner.layout.columns, suite_parameters(as_of, history, on))
    closed = closed_value_issues(frame, partner)
    issues = promote_row_errors(parsed.issues + closed + report.issues + _as_of_issues(frame, partner), partner)
    # the date the file states: one date on every row (a file whose columns slipped states none)
    stated = warehouse.as_date(as_of.iloc[0]) if len(as_of) and as_of.notna().all() and as_of.nunique() == 1 else None
    if any(i.severity == "critical" for i in issues):
        return Checked(pd.DataFrame(), issues, gx_result=report.result, rows=len(frame), stated_as_of=stated)
    bad_rows = {i.row for i in issues if i.severity == "row"}
    accepted = frame[~frame["source_row"].isin(bad_rows)].copy()
    warned = pd.Series([i.row for i in issues if i.severity == "warning" and i.row is not None], dtype="int64")
    accepted["row_warnings"] = accepted["source_row"].map(warned.value_counts()).fillna(0).astype("int64")
    return Checked(accepted, issues, warehouse.as_date(as_of.max()), report.result, len(frame), stated)


def to_staging(frame: pd.DataFrame, partner: Partner, file_id: str, key: bytes) -> pd.DataFrame:
    """Pseudonymise and drop identifiers, keep free-text attributes to their lists; add provenance columns."""
    out = with_closed_values(pseudonymise_frame(frame, partner.kind, key), partner)
    out["partner"] = partner.code
    out["file_id"] = file_id
    out["source_row"] = frame["source_row"].to_numpy()
    out["row_warnings"] = frame["row_warnings"].to_numpy()
    forbidden = set(layouts.identifier_columns(partner.kind))
    leaked = forbidden & set(out.columns)
    if leaked:
        raise RuntimeError(f"identifier columns would reach the warehouse: {sorted(leaked)}")
    return out


def load_staging(
    conn: Connection, accepted: pd.DataFrame, partner: Partner, file_id: str, key: bytes, vault: keys.KeyChain
) -> int:
    """Replace the file's staging rows by its accepted rows, pseudonymised and inserted ``STAGING_CHUNK_ROWS``
    at a time: the pseudonym columns (the bulk of a staging row) never exist for the whole file at once, and
    one chunk is inserted while the next is pseudonymised. Each row's own reference goes to the identity
    vault, sealed under the vault key (``identity_vault``).
    Re-running gives the same state (the file's earlier rows are deleted first, in the same transaction)."""
    table = layouts.STAGING_TABLE[partner.kind]
    warehouse.delete_rows(conn, table, {"partner": partner.code, "file_id": file_id})
    sealed: list[pd.DataFrame] = []
    reference = REFERENCE_COLUMN[partner.kind]

    def chunks() -> Iterator[pd.DataFrame]:
        for start in range(0, len(accepted), STAGING_CHUNK_ROWS):
            part = accepted.iloc[start : start + STAGING_CHUNK_ROWS]
            staged = to_staging(part, partner, file_id, key)
            sealed.append(identity_vault.vault_rows(partner.code, file_id, staged, part[reference], vault))
            yield staged

    loaded = warehouse.insert_frames(conn, table, chunks())  # chunk n is inserted while n + 1 is pseudonymised
    identity_vault.store(conn, partner.code, file_id, sealed)
    return loaded
