"""Exactly-once at the edges (issue 16, class 5), through the embedded SFTP server on DuckDB and PostgreSQL:
a file changed after it was read is not settled as handled, corrections win by arrival rather than by name,
bytes refused for their name alone can come again under the right name, and a move that fails is a failure."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from eviction_prevention import warehouse
from eviction_prevention.intake import fetch, ingest, settle
from eviction_prevention.partners import get_partner

from tests.conftest import PartnerSFTP, run_intake
from tests.fixtures.build_corpus import arrears_rows, csv_bytes

pytestmark = pytest.mark.sftp

NAME = "huurachterstand_2026-10-31{}.csv"


def _ledger(url: str) -> list[tuple]:
    with warehouse.connect(url) as conn:
        frame = warehouse.read_frame(
            conn, "SELECT file_name, status, rows_loaded, settled_at IS NOT NULL AS settled FROM meta_file_ledger"
        )
    return sorted((r.file_name, r.status, int(r.rows_loaded), bool(r.settled)) for r in frame.itertuples())


def test_a_file_changed_after_it_was_read_stays_for_the_next_run(
    tmp_path: Path, partner_sftp: PartnerSFTP, warehouse_url: str, key: bytes
):
    local = tmp_path / NAME.format("")
    local.write_bytes(csv_bytes("trivire", arrears_rows("TRC", n=3)))
    partner_sftp.upload("trivire", local, mtime=time.time() - 600)
    partner = get_partner("trivire")
    with partner_sftp.client("trivire") as client:
        fetched = fetch.fetch_new_files(partner, client, sleep=lambda _s: None)
        outcomes = ingest.ingest_files(partner, fetched, key, warehouse_url)
        local.write_bytes(csv_bytes("trivire", arrears_rows("TRC", n=4)))  # the partner replaces it meanwhile
        partner_sftp.upload("trivire", local, mtime=time.time() - 300)
        moved = settle.settle_files(partner, outcomes, client, warehouse_url)
    assert (moved["changed"], moved["processed"]) == (1, 0)
    home = partner_sftp.root / "trivire"
    assert os.listdir(home / "inbox") == [local.name] and os.listdir(home / "processed") == []
    with partner_sftp.client("trivire") as client:
        (again,) = run_intake("trivire", client, warehouse_url, key)
    assert (again["status"], again["rows_loaded"]) == ("loaded", 4)
    assert os.listdir(home / "inbox") == []
    assert os.listdir(home / "processed") == [settle.settled_name(again)]
    assert [row[1:] for row in _ledger(warehouse_url)] == [("loaded", 4, True), ("superseded", 3, True)]


def test_a_correction_uploaded_with_its_original_wins_by_arrival_not_by_name(
    tmp_path: Path, partner_sftp: PartnerSFTP, warehouse_url: str, key: bytes
):
    original = tmp_path / NAME.format("_v2")  # sorts after the correction's name, arrived first
    original.write_bytes(csv_bytes("trivire", arrears_rows("TRO", n=3)))
    correction = tmp_path / NAME.format("_correctie")
    correction.write_bytes(csv_bytes("trivire", arrears_rows("TRO", n=4)))
    now = time.time()
    partner_sftp.upload("trivire", original, mtime=now - 600)
    partner_sftp.upload("trivire", correction, mtime=now - 300)
    with partner_sftp.client("trivire") as client:
        outcomes = run_intake("trivire", client, warehouse_url, key)
    assert [o["remote_name"] for o in outcomes] == [original.name, correction.name]
    assert outcomes[1]["notes"] == [f"dit bestand vervangt de eerdere levering '{original.name}' met dezelfde datum"]
    assert _ledger(warehouse_url) == [(correction.name, "loaded", 4, True), (original.name, "superseded", 3, True)]


def test_bytes_refused_for_their_name_alone_can_come_again_under_the_right_name(
    tmp_path: Path, partner_sftp: PartnerSFTP, warehouse_url: str, key: bytes
):
    data = csv_bytes("trivire", arrears_rows("TRN", n=3))
    wrong = tmp_path / "overzicht_2026-10-31.csv"
    wrong.write_bytes(data)
    partner_sftp.upload("trivire", wrong)
    with partner_sftp.client("trivire") as client:
        (refused,) = run_intake("trivire", client, warehouse_url, key)
    assert refused["status"] == "rejected"
    assert refused["reasons"][0].startswith("de bestandsnaam volgt de afspraak niet")
    right = tmp_path / NAME.format("")
    right.write_bytes(data)
    partner_sftp.upload("trivire", right)
    with partner_sftp.client("trivire") as client:
        (loaded,) = run_intake("trivire", client, warehouse_url, key)
    assert (loaded["status"], loaded["rows_loaded"], loaded["notes"]) == ("loaded", 3, [])
    assert _ledger(warehouse_url) == [(right.name, "loaded", 3, True)]
    with warehouse.connect(warehouse_url) as conn:  # both deliveries stay on record
        deliveries = warehouse.read_frame(conn, "SELECT file_name, status FROM meta_file_deliveries")
    assert sorted(map(tuple, deliveries.values.tolist())) == [(right.name, "loaded"), (wrong.name, "rejected")]
    # the same bytes under the right name once more: now they are a duplicate
    again = tmp_path / NAME.format("_nogmaals")
    again.write_bytes(data)
    partner_sftp.upload("trivire", again)
    with partner_sftp.client("trivire") as client:
        (duplicate,) = run_intake("trivire", client, warehouse_url, key)
    assert duplicate["status"] == "duplicate"


def test_a_deleted_processed_folder_is_made_again_and_a_failed_move_is_retried(
    tmp_path: Path, partner_sftp: PartnerSFTP, duckdb_url: str, key: bytes
):
    home = partner_sftp.root / "trivire"
    (home / "processed").rmdir()  # the partner deleted it: the move recreates it
    first = tmp_path / NAME.format("_a")
    first.write_bytes(csv_bytes("trivire", arrears_rows("TRM", n=3)))
    partner_sftp.upload("trivire", first)
    with partner_sftp.client("trivire") as client:
        (outcome,) = run_intake("trivire", client, duckdb_url, key)
    assert os.listdir(home / "processed") == [settle.settled_name(outcome)]
    # a folder that cannot be made (a file is in its place): the file stays and is not settled ...
    for path in (home / "processed").iterdir():
        path.unlink()
    (home / "processed").rmdir()
    (home / "processed").write_text("not a folder")
    second = tmp_path / NAME.format("_b")
    second.write_bytes(csv_bytes("trivire", arrears_rows("TRM2", n=3)))
    partner_sftp.upload("trivire", second)
    with partner_sftp.client("trivire") as client:
        (stuck,) = run_intake("trivire", client, duckdb_url, key)
    assert os.listdir(home / "inbox") == [second.name]
    assert (second.name, "loaded", 3, False) in _ledger(duckdb_url)
    # ... and once the folder is back, the next run settles it (resumed, not a duplicate)
    (home / "processed").unlink()
    (home / "processed").mkdir()
    with partner_sftp.client("trivire") as client:
        (resumed,) = run_intake("trivire", client, duckdb_url, key)
    assert (resumed["status"], resumed["file_id"]) == ("loaded", stuck["file_id"])
    assert os.listdir(home / "inbox") == []
    assert (second.name, "loaded", 3, True) in _ledger(duckdb_url)
