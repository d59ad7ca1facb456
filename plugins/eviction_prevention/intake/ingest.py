"""Ingest: one file exactly once.

The ledger is keyed by partner and the SHA-256 of the bytes. Parsing, loading the staging rows and writing
the ledger row happen in one warehouse transaction, so a crash anywhere before the commit leaves nothing
behind and the rerun loads the file; a crash after the commit but before the file is settled makes the rerun
resume (same outcome, same receipt, no second load). The same bytes delivered again later, under any name,
are recorded as a duplicate delivery and not loaded. Two runs of one partner take turns per step
(``locks.partner_lock``, held by the tasks); a run that downloaded a file which another run then loaded and
settled resumes that outcome instead of calling it a duplicate (it was downloaded before the settle). A
corrected re-delivery (other bytes, same as-of date) supersedes the earlier file.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eviction_prevention import gc_tuning, settings, warehouse
from eviction_prevention.dutch_time import today, utcnow
from eviction_prevention.intake import locks
from eviction_prevention.intake.check import Checked, check, load_staging
from eviction_prevention.intake.delivery_windows import delivered_on, delivery_due
from eviction_prevention.intake.files import FetchedFile, FileOutcome, safe_name
from eviction_prevention.intake.issue_summary import slipped_columns, summarised
from eviction_prevention.intake.ledger import insert_ledger, ledger_row, load_history, record_delivery, supersede
from eviction_prevention.parse import layouts
from eviction_prevention.parse.issues import Issue
from eviction_prevention.partners import Partner
from eviction_prevention.pseudonymise import keys
from eviction_prevention.validate.suites import build_data_docs, scrubbed

log = logging.getLogger(__name__)

MAX_LISTED_MESSAGES = 200


def _capped(messages: list[str]) -> list[str]:
    if len(messages) <= MAX_LISTED_MESSAGES:
        return messages
    return [*messages[:MAX_LISTED_MESSAGES], f"... en nog {len(messages) - MAX_LISTED_MESSAGES} meldingen"]


def _outcome_from_issues(fetched: FetchedFile, checked: Checked, rows_loaded: int) -> FileOutcome:
    issues = checked.issues
    critical = [i for i in issues if i.severity == "critical"]
    row_errors = [i for i in issues if i.severity == "row" or (i.severity == "critical" and i.row is not None)]
    warnings = [i for i in issues if i.severity == "warning"]
    rejected_rows = sorted({i.row for i in row_errors if i.row is not None})
    errors = critical or [i for i in issues if i.severity == "row"]
    return FileOutcome(
        partner=fetched.partner,
        remote_name=fetched.remote_name,
        file_id=fetched.file_id,
        status="rejected" if critical else "loaded",
        rows_total=checked.rows,
        rows_loaded=rows_loaded,
        rows_rejected=len(rejected_rows),
        warnings=len(warnings),
        reasons=_capped([*filter(None, [slipped_columns(row_errors, checked.rows)]), *summarised(errors)]),
        warning_messages=_capped(summarised(warnings)),
        received_at=fetched.received_at or utcnow().isoformat(),
        rejected_row_numbers=rejected_rows[:MAX_LISTED_MESSAGES],
        marker=fetched.marker,
        size_bytes=fetched.size_bytes,
        mtime=fetched.mtime,
        name_refused=fetched.name_refused,
    )


def _same_delivery(known: dict[str, Any], fetched: FetchedFile) -> bool:
    """The ledger row is this very delivery: not settled yet, or settled by a concurrent run after this run
    had already downloaded the file (a new delivery of the same bytes arrives after the settle)."""
    if known["file_name"] != fetched.remote_name or not known["outcome"]:
        return False
    settled = known["settled_at"]
    return settled is None or (bool(fetched.received_at) and dt.datetime.fromisoformat(fetched.received_at) < settled)


def _refused_for_name(known: dict[str, Any], fetched: FetchedFile) -> bool:
    """The ledger row is an earlier, settled delivery of these bytes that was refused for its name alone."""
    stored = json.loads(known["outcome"]) if known["outcome"] else {}
    return bool(stored.get("name_refused")) and known["settled_at"] is not None and not _same_delivery(known, fetched)


def _forget_refusal(conn: Connection, partner: str, file_id: str) -> None:
    """Drop a name refusal's ledger row (its delivery stays in meta_file_deliveries), so the bytes are read."""
    conn.execute(
        sa.text("DELETE FROM meta_file_ledger WHERE partner = :p AND file_id = :f AND status = 'rejected'"),
        {"p": partner, "f": file_id},
    )


def _resumed_or_duplicate(known: dict[str, Any], fetched: FetchedFile) -> FileOutcome:
    """The file's bytes are in the ledger already: resume an unsettled run, or report a duplicate."""
    if _same_delivery(known, fetched):
        stored = json.loads(known["outcome"])
        return FileOutcome(**(stored | {"marker": fetched.marker}))
    first = warehouse.as_date(known["received_at"])
    when = f" op {first.strftime('%d-%m-%Y')}" if first else ""
    return FileOutcome(
        fetched.partner,
        fetched.remote_name,
        fetched.file_id,
        "duplicate",
        rows_total=int(known["rows_total"]),
        notes=[
            f"dit bestand is eerder ontvangen{when} als '{safe_name(known['file_name'])}' en is niet opnieuw verwerkt"
        ],
        received_at=fetched.received_at or utcnow().isoformat(),
        marker=fetched.marker,
    )


def _checked(conn: Connection, partner: Partner, fetched: FetchedFile, on: dt.date | None) -> Checked:
    """Parse and validate a landed file; an exception while doing so (the reading itself is isolated in
    ``parse.sandbox``) is the file's rejection, with the exception's class only: its text can quote a cell."""
    data = Path(fetched.landing_path).read_bytes()
    history = load_history(conn, partner.code)
    try:
        return check(data, partner, history, on or today())
    except Exception as exc:  # one file's failure is that file's rejection
        log.warning("partner %s file %s: checking failed (%s)", partner.code, fetched.file_id[:12], type(exc).__name__)
        return Checked(pd.DataFrame(), [Issue("check_error", unexpected_failure("gecontroleerd", exc))])


def unexpected_failure(stage: str, exc: BaseException) -> str:
    """The Dutch reason for an unexpected failure while a file was ``stage`` (gecontroleerd, opgeslagen)."""
    return (
        f"het bestand kon niet worden {stage} (onverwachte fout van het type {type(exc).__name__}); "
        "neem contact op met het datateam als het opnieuw gebeurt"
    )


def ingest_file(
    conn: Connection,
    partner: Partner,
    fetched: FetchedFile,
    key: bytes,
    on: dt.date | None = None,
    failure: Issue | None = None,
    vault: keys.KeyChain | None = None,
) -> tuple[FileOutcome, Any]:
    """Load one landed file exactly once (inside the caller's transaction). Returns the outcome and GX result.
    ``failure``: record the file as rejected for that reason without reading it (``ingest_files``, after its
    rows could not be stored). ``vault``: the vault key chain (default ``settings.vault_key``)."""
    known = ledger_row(conn, partner.code, fetched.file_id)
    if known is not None and not fetched.refusal and _refused_for_name(known, fetched):
        _forget_refusal(conn, partner.code, fetched.file_id)  # the same bytes, now under an acceptable name
        known = None
    if known is not None:
        outcome = _resumed_or_duplicate(known, fetched)
        if outcome.status == "duplicate":
            record_delivery(conn, fetched, "duplicate")
        return outcome, None
    if fetched.refusal:
        checked = Checked(pd.DataFrame(), [Issue("refused", fetched.refusal)])
    elif failure is not None:
        checked = Checked(pd.DataFrame(), [failure])
    else:
        checked = _checked(conn, partner, fetched, on)
    rows_loaded = 0
    notes: list[str] = []
    if not any(i.severity == "critical" for i in checked.issues):
        vault = vault or keys.parse_key_chain(settings.vault_key())
        rows_loaded = load_staging(conn, checked.accepted, partner, fetched.file_id, key, vault)
        replaced = supersede(conn, partner.code, fetched.file_id, checked.as_of)
        notes = [f"dit bestand vervangt de eerdere levering '{safe_name(n)}' met dezelfde datum" for n in replaced]
    outcome = _outcome_from_issues(fetched, checked, rows_loaded)
    outcome.notes = notes
    outcome.delivered_on = delivered_on(fetched, outcome).isoformat()
    if checked.stated_as_of is not None:
        outcome.as_of = checked.stated_as_of.isoformat()
        outcome.delivery_due = delivery_due(partner, checked.stated_as_of).isoformat()
    insert_ledger(conn, partner, fetched, outcome, checked.as_of)
    record_delivery(conn, fetched, outcome.status)
    log.info(
        "partner %s file %s: %s, %d rows loaded, %d rejected, %d warnings",
        partner.code,
        fetched.file_id[:12],
        outcome.status,
        outcome.rows_loaded,
        outcome.rows_rejected,
        outcome.warnings,
    )
    return outcome, checked.gx_result


def ingest_files(
    partner: Partner,
    fetched: list[FetchedFile],
    key: bytes,
    url: str | None = None,
    on: dt.date | None = None,
    data_docs: bool = False,
    vault_key: bytes | None = None,
) -> list[dict]:
    """Ingest each file in its own transaction (all or nothing per file); optionally build the Data Docs.
    ``vault_key``: the identity vault's key (default ``settings.vault_key``; without one nothing is read)."""
    vault = keys.parse_key_chain(vault_key if vault_key is not None else settings.vault_key())
    outcomes: list[dict] = []
    results: list[tuple[str, str, Any]] = []
    identifiers = set(layouts.identifier_columns(partner.kind))
    with warehouse.session(url) as eng, gc_tuning.fewer_collections():
        with eng.begin() as conn:  # short: its DDL locks are not held while files are validated
            locks.ensure_schema(conn)
        for item in fetched:
            try:
                with eng.begin() as conn:
                    outcome, gx_result = ingest_file(conn, partner, item, key, on, vault=vault)
            except Exception as exc:
                if warehouse.is_unavailable(exc):
                    raise  # the warehouse, not the file: the task fails and its retry resumes the batch
                log.warning(
                    "partner %s file %s: its rows could not be stored (%s)",
                    partner.code,
                    item.file_id[:12],
                    type(exc).__name__,
                )
                failure = Issue("store_error", unexpected_failure("opgeslagen", exc))
                with eng.begin() as conn:
                    outcome, gx_result = ingest_file(conn, partner, item, key, on, failure=failure, vault=vault)
            outcomes.append(asdict(outcome))
            if gx_result is not None:
                results.append((partner.kind, f"{partner.code}-{item.file_id[:12]}", scrubbed(gx_result, identifiers)))
    if data_docs and results:
        index = build_data_docs(results)
        log.info("partner %s: GX Data Docs updated at %s", partner.code, index)
    return outcomes
