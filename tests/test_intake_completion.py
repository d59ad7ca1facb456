"""No half-written files (stable size+mtime across polls, or a done-marker), settling, the landing archive's
retention, the registry, delivery windows (mart_delivery_compliance + task-log warning) and GX Data Docs.
Real embedded SFTP server; DuckDB warehouse (the mart also on PostgreSQL).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import time
from pathlib import Path

import pytest
import yaml
from eviction_prevention import settings, warehouse
from eviction_prevention.intake import delivery_windows, fetch, ingest, settle
from eviction_prevention.intake import files as intake_files
from eviction_prevention.intake import landing as intake_landing
from eviction_prevention.partners import Completion, Delivery, RegistryError, get_partner, parse_registry, registry_path

from tests.conftest import PartnerSFTP, run_intake

pytestmark = pytest.mark.sftp

GOOD = Path(__file__).resolve().parent / "fixtures" / "good" / "trivire" / "huurachterstand_2026-10-31.csv"
TRIVIRE = get_partner("trivire")


def test_upload_in_progress_is_left_until_size_and_mtime_are_stable(partner_sftp: PartnerSFTP) -> None:
    data = GOOD.read_bytes()
    chunks = [data[:300], data[300:600], data[600:]]
    with partner_sftp.client("trivire") as client:
        handle = client.open(f"inbox/{GOOD.name}", "wb")  # the partner writes straight to the final name
        handle.write(chunks[0])
        handle.flush()

        def partner_keeps_writing(_seconds: float) -> None:
            handle.write(chunks[1])
            handle.flush()

        assert fetch.fetch_new_files(TRIVIRE, client, sleep=partner_keeps_writing) == []
        assert not list((settings.landing_dir() / "trivire").glob("*.csv"))
        handle.write(chunks[2])
        handle.close()
        (fetched,) = fetch.fetch_new_files(TRIVIRE, client, sleep=lambda _s: None)
    assert Path(fetched.landing_path).read_bytes() == data
    assert fetched.file_id == intake_files.sha256_file(GOOD)


def test_hidden_partial_uploads_are_never_read(partner_sftp: PartnerSFTP) -> None:
    with partner_sftp.client("trivire") as client:
        with client.open(f"inbox/.{GOOD.name}.part", "wb") as fh:
            fh.write(GOOD.read_bytes()[:100])
        assert fetch.fetch_new_files(TRIVIRE, client, sleep=lambda _s: None) == []


def test_done_marker_rule(partner_sftp: PartnerSFTP, duckdb_url: str, key: bytes) -> None:
    partner = dataclasses.replace(TRIVIRE, completion=Completion(rule="done_marker", marker_suffix=".klaar"))
    partner_sftp.upload("trivire", GOOD)
    with partner_sftp.client("trivire") as client:
        assert fetch.fetch_new_files(partner, client) == []  # no marker yet: not complete
        with client.open(f"inbox/{GOOD.name}.klaar", "wb"):
            pass
        (fetched,) = fetch.fetch_new_files(partner, client)
        assert fetched.marker == f"{GOOD.name}.klaar"
        outcomes = ingest.ingest_files(partner, [fetched], key, duckdb_url)
        settle.settle_files(partner, outcomes, client, duckdb_url)
    home = partner_sftp.root / "trivire"
    assert os.listdir(home / "inbox") == []
    name = settle.settled_name(outcomes[0])
    assert sorted(os.listdir(home / "processed")) == [name, f"{name}.done"]


def test_landing_archive_keeps_originals_for_the_retention_period(
    partner_sftp: PartnerSFTP, duckdb_url: str, key: bytes
) -> None:
    partner_sftp.upload("trivire", GOOD)
    with partner_sftp.client("trivire") as client:
        (outcome,) = run_intake("trivire", client, duckdb_url, key)
    landed = settings.landing_dir() / "trivire" / f"{outcome['file_id']}.csv"
    assert landed.read_bytes() == GOOD.read_bytes()
    old = settings.landing_dir() / "trivire" / ("0" * 64 + ".csv")
    old.write_bytes(b"old")
    past = time.time() - (TRIVIRE.landing_retention_days + 1) * 86400
    os.utime(old, (past, past))
    assert intake_landing.purge_landing(TRIVIRE) == 1
    assert not old.exists() and landed.exists()
    assert (
        intake_landing.purge_landing(dataclasses.replace(TRIVIRE, landing_retention_days=0), now=time.time() + 1) == 1
    )
    assert not landed.exists()


def test_registry_fields_and_adding_a_partner_is_config_only(tmp_path: Path) -> None:
    assert TRIVIRE.file_patterns == ("huurachterstand_*.csv",)
    assert (TRIVIRE.inbox, TRIVIRE.outbox, TRIVIRE.processed, TRIVIRE.quarantine) == (
        "inbox",
        "outbox",
        "processed",
        "quarantine",
    )
    assert TRIVIRE.delivery == Delivery("monthly", 10, dt.date(2026, 5, 1))
    assert TRIVIRE.completion == Completion("stable", 2, 2.0, ".done")
    assert (TRIVIRE.landing_retention_days, TRIVIRE.max_file_bytes) == (400, 52428800)
    assert TRIVIRE.municipalities == ("Dordrecht", "Papendrecht", "Zwijndrecht", "Hendrik-Ido-Ambacht")

    data = yaml.safe_load(registry_path().read_text(encoding="utf-8"))
    new = dict(data["partners"][0]) | {
        "code": "fien",
        "name": "Fien Wonen",
        "sftp_conn_id": "sftp_fien",
        "file_patterns": ["fien_*.csv", "FIEN_*.csv"],
        "delivery": {"cadence": "weekly", "window_days": 3, "first_period": "2026-11-02"},
        "completion": {"rule": "done_marker", "marker_suffix": ".ok"},
    }
    partners = parse_registry({"partners": [*data["partners"], new]})
    fien = partners[-1]
    assert (fien.code, fien.cadence, fien.completion.rule, fien.file_patterns) == (
        "fien",
        "weekly",
        "done_marker",
        ("fien_*.csv", "FIEN_*.csv"),
    )
    with pytest.raises(RegistryError, match="cadence"):
        parse_registry({"partners": [new | {"delivery": {"cadence": "daily"}}]})
    with pytest.raises(RegistryError, match="completion rule"):
        parse_registry({"partners": [new | {"completion": {"rule": "guess"}}]})


def test_delivery_periods_are_calendar_months_or_iso_weeks() -> None:
    monthly = delivery_windows.delivery_periods(TRIVIRE, dt.date(2026, 7, 3))
    assert [(p.start, p.end, p.due) for p in monthly] == [
        (dt.date(2026, 5, 1), dt.date(2026, 5, 31), dt.date(2026, 6, 10)),
        (dt.date(2026, 6, 1), dt.date(2026, 6, 30), dt.date(2026, 7, 10)),
        (dt.date(2026, 7, 1), dt.date(2026, 7, 31), dt.date(2026, 8, 10)),
    ]
    weekly = dataclasses.replace(TRIVIRE, delivery=Delivery("weekly", 3, dt.date(2026, 11, 4)))
    assert [(p.start, p.end, p.due) for p in delivery_windows.delivery_periods(weekly, dt.date(2026, 11, 10))] == [
        (dt.date(2026, 11, 2), dt.date(2026, 11, 8), dt.date(2026, 11, 11)),
        (dt.date(2026, 11, 9), dt.date(2026, 11, 15), dt.date(2026, 11, 18)),
    ]


def _ledger_file(conn, file_id: str, as_of: dt.date, received: dt.datetime, status: str = "loaded") -> None:
    conn.exec_driver_sql(
        "INSERT INTO meta_file_ledger (partner, file_id, kind, file_name, size_bytes, delivery_seq, snapshot_date, "
        "status, rows_total, rows_loaded, rows_rejected, warnings, received_at) "
        f"VALUES ('trivire', '{file_id}', 'corporation', '{file_id}.csv', 1, "
        f"(SELECT coalesce(max(delivery_seq), 0) + 1 FROM meta_file_ledger), "
        f"DATE '{as_of}', '{status}', 1, 1, 0, 0, TIMESTAMP '{received}')"
    )


def test_missed_delivery_window_is_in_the_mart_and_warned_in_the_log(
    warehouse_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from eviction_prevention.publish import rebuild

    with warehouse.connect(warehouse_url) as conn:
        warehouse.ensure_schema(conn)
        _ledger_file(conn, "may", dt.date(2026, 5, 31), dt.datetime(2026, 6, 3, 9, 0))  # on time
        _ledger_file(conn, "june", dt.date(2026, 6, 30), dt.datetime(2026, 7, 15, 9, 0))  # 5 days late
        _ledger_file(conn, "july", dt.date(2026, 7, 31), dt.datetime(2026, 8, 2, 9, 0), status="rejected")
    with caplog.at_level(logging.WARNING, logger="eviction_prevention.intake"):
        missed = delivery_windows.check_delivery_windows(TRIVIRE, warehouse_url, on=dt.date(2026, 9, 20))
    assert [(str(m["period_start"]), int(m["days_late"])) for m in missed] == [("2026-07-01", 41), ("2026-08-01", 10)]
    assert caplog.messages == [
        "partner trivire missed its delivery window: nothing loaded for 2026-07-01 - 2026-07-31 "
        "(due 2026-08-10, 41 days overdue)",
        "partner trivire missed its delivery window: nothing loaded for 2026-08-01 - 2026-08-31 "
        "(due 2026-09-10, 10 days overdue)",
    ]
    rebuild.publish(warehouse_url, reference_date=dt.date(2026, 9, 20))  # the mart: as of the reference date
    with warehouse.connect(warehouse_url) as conn:
        rows = conn.exec_driver_sql(
            "SELECT partner, period_start, due_date, delivered_on, status, days_late FROM mart_delivery_compliance "
            "WHERE partner = 'trivire' ORDER BY period_start"
        ).fetchall()
    assert [(str(r[1]), str(r[2]), str(r[3]) if r[3] else None, r[4], int(r[5])) for r in rows] == [
        ("2026-05-01", "2026-06-10", "2026-06-03", "on_time", 0),
        ("2026-06-01", "2026-07-10", "2026-07-15", "late", 5),
        ("2026-07-01", "2026-08-10", None, "missed", 41),
        ("2026-08-01", "2026-09-10", None, "missed", 10),
        ("2026-09-01", "2026-10-10", None, "open", 0),
    ]


def test_gx_data_docs_site_is_built_without_personal_values(
    partner_sftp: PartnerSFTP, duckdb_url: str, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    partner = get_partner("sdd")
    bad = Path(__file__).resolve().parent / "fixtures" / "bad" / "bsn_fails_11_test.csv"
    local = partner_sftp.root.parent / "sdd_klanten_2026-10-31.csv"
    local.write_bytes(bad.read_bytes())
    partner_sftp.upload("sdd", local)
    with partner_sftp.client("sdd") as client, caplog.at_level(logging.INFO, logger="eviction_prevention.intake"):
        fetched = fetch.fetch_new_files(partner, client, sleep=lambda _s: None)
        ingest.ingest_files(partner, fetched, key, duckdb_url, data_docs=True)
    index = settings.home() / "gx" / "data_docs" / "index.html"
    assert index.exists()
    assert f"partner sdd: GX Data Docs updated at {index}" in caplog.messages
    pages = [p.read_text(encoding="utf-8", errors="replace") for p in index.parent.rglob("*.html")]
    assert any("expect_column_values_to_pass_bsn11_test" in p or "pass_bsn11_test" in p for p in pages)
    for value in ("123456789", "Verzonnen", "Oosterzee", "Proefstraat", "3312 CD"):
        assert not [p for p in pages if value in p], value
