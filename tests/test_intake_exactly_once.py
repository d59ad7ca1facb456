"""Exactly once: duplicate deliveries (same bytes, same or other name), corrected re-deliveries, and crashes
between download, load, ledger update and settle followed by a rerun. Real embedded SFTP server; DuckDB and
PostgreSQL warehouses.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from eviction_prevention import warehouse
from eviction_prevention.intake import fetch, ingest
from eviction_prevention.intake import receipts as intake_receipts
from eviction_prevention.intake import settle as intake_settle
from eviction_prevention.partners import get_partner

from tests.conftest import PartnerSFTP, run_intake

pytestmark = pytest.mark.sftp

GOOD = Path(__file__).resolve().parent / "fixtures" / "good" / "trivire" / "huurachterstand_2026-10-31.csv"
TRIVIRE = get_partner("trivire")


def staged(url: str) -> list[tuple[str, int]]:
    with warehouse.connect(url) as conn:
        rows = conn.exec_driver_sql(
            "SELECT file_id, count(*) FROM stg_arrears_snapshots GROUP BY file_id ORDER BY file_id"
        ).fetchall()
    return [(r[0], int(r[1])) for r in rows]


def ledger(url: str) -> list[tuple]:
    with warehouse.connect(url) as conn:
        return [
            tuple(r)
            for r in conn.exec_driver_sql(
                "SELECT file_name, status, rows_loaded, settled_at IS NOT NULL "
                "FROM meta_file_ledger ORDER BY delivery_seq"
            ).fetchall()
        ]


def drop(sftp: PartnerSFTP, tmp_path: Path, name: str, data: bytes) -> None:
    local = tmp_path / "out" / name
    local.parent.mkdir(exist_ok=True)
    local.write_bytes(data)
    sftp.upload("trivire", local)


def test_same_bytes_under_another_name_is_not_loaded_again(
    tmp_path: Path, partner_sftp: PartnerSFTP, warehouse_url: str, key: bytes
) -> None:
    data = GOOD.read_bytes()
    drop(partner_sftp, tmp_path, "huurachterstand_2026-10-31.csv", data)
    with partner_sftp.client("trivire") as client:
        (first,) = run_intake("trivire", client, warehouse_url, key)
        drop(partner_sftp, tmp_path, "huurachterstand_2026-10-31_kopie.csv", data)
        drop(partner_sftp, tmp_path, "huurachterstand_2026-10-31.csv", data)
        second = run_intake("trivire", client, warehouse_url, key)
    assert first["status"] == "loaded" and first["rows_loaded"] == 3
    assert sorted((o["remote_name"], o["status"], o["rows_loaded"]) for o in second) == [  # read by arrival
        ("huurachterstand_2026-10-31.csv", "duplicate", 0),
        ("huurachterstand_2026-10-31_kopie.csv", "duplicate", 0),
    ]
    assert staged(warehouse_url) == [(first["file_id"], 3)]
    assert ledger(warehouse_url) == [("huurachterstand_2026-10-31.csv", "loaded", 3, True)]
    with warehouse.connect(warehouse_url) as conn:
        deliveries = conn.exec_driver_sql(
            "SELECT file_name, status FROM meta_file_deliveries ORDER BY received_at, file_name"
        ).fetchall()
    assert sorted(tuple(d) for d in deliveries) == [
        ("huurachterstand_2026-10-31.csv", "duplicate"),
        ("huurachterstand_2026-10-31.csv", "loaded"),
        ("huurachterstand_2026-10-31_kopie.csv", "duplicate"),
    ]
    home = partner_sftp.root / "trivire"
    assert os.listdir(home / "inbox") == []
    kopie = next(o for o in second if o["remote_name"] == "huurachterstand_2026-10-31_kopie.csv")
    receipt = (home / "outbox" / intake_receipts.receipt_name(kopie)).read_text(encoding="utf-8")
    assert "Resultaat: AL EERDER ONTVANGEN - niet opnieuw verwerkt" in receipt
    assert "dit bestand is eerder ontvangen op " in receipt and "als 'huurachterstand_2026-10-31.csv'" in receipt


def test_corrected_redelivery_of_the_same_snapshot_supersedes_the_first(
    tmp_path: Path, partner_sftp: PartnerSFTP, warehouse_url: str, key: bytes
) -> None:
    data = GOOD.read_bytes()
    corrected = data.replace(b"1.234,56", b"1.000,00")
    assert corrected != data
    drop(partner_sftp, tmp_path, "huurachterstand_2026-10-31.csv", data)
    with partner_sftp.client("trivire") as client:
        (_first,) = run_intake("trivire", client, warehouse_url, key)
        drop(partner_sftp, tmp_path, "huurachterstand_2026-10-31_correctie.csv", corrected)
        (second,) = run_intake("trivire", client, warehouse_url, key)
    assert second["notes"] == [
        "dit bestand vervangt de eerdere levering 'huurachterstand_2026-10-31.csv' met dezelfde datum"
    ]
    assert ledger(warehouse_url) == [
        ("huurachterstand_2026-10-31.csv", "superseded", 3, True),
        ("huurachterstand_2026-10-31_correctie.csv", "loaded", 3, True),
    ]
    with warehouse.connect(warehouse_url) as conn:
        amounts = conn.exec_driver_sql(
            "SELECT s.arrears_amount FROM stg_arrears_snapshots s JOIN meta_file_ledger l "
            "ON l.partner = s.partner AND l.file_id = s.file_id WHERE l.status = 'loaded' ORDER BY s.source_row"
        ).fetchall()
    assert [float(a[0]) for a in amounts] == [1000.00, 1235.56, 1236.56]


class Crash(RuntimeError):
    pass


def _crash(*_args, **_kwargs):
    raise Crash("simulated crash")


@pytest.mark.parametrize("where", ["after_download", "before_ledger_insert", "before_settle_mark", "during_move"])
def test_crash_then_rerun_loads_rows_exactly_once(
    where: str,
    tmp_path: Path,
    partner_sftp: PartnerSFTP,
    warehouse_url: str,
    key: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drop(partner_sftp, tmp_path, "huurachterstand_2026-10-31.csv", GOOD.read_bytes())
    with partner_sftp.client("trivire") as client, monkeypatch.context() as patch:
        fetched = fetch.fetch_new_files(TRIVIRE, client, sleep=lambda _s: None)
        if where == "after_download":
            pass  # the process dies before load: only the landing copy exists
        elif where == "before_ledger_insert":
            patch.setattr(ingest, "insert_ledger", _crash)  # staging rows inserted, then the crash
            with pytest.raises(Crash):
                ingest.ingest_files(TRIVIRE, fetched, key, warehouse_url)
        else:
            outcomes = ingest.ingest_files(TRIVIRE, fetched, key, warehouse_url)
            patch.setattr(intake_settle, "mark_settled" if where == "before_settle_mark" else "_move", _crash)
            with pytest.raises(Crash):
                intake_settle.settle_files(TRIVIRE, outcomes, client, warehouse_url)
    with partner_sftp.client("trivire") as client:
        rerun = run_intake("trivire", client, warehouse_url, key)
        assert run_intake("trivire", client, warehouse_url, key) == []  # nothing left to do
    if where == "before_settle_mark":  # file and receipt were already out; the rerun only records it
        assert rerun == []
        outcome = outcomes[0]
    else:
        (outcome,) = rerun
    assert (outcome["status"], outcome["rows_loaded"]) == ("loaded", 3)  # the original outcome, not "duplicate"
    assert staged(warehouse_url) == [(outcome["file_id"], 3)]
    assert ledger(warehouse_url) == [("huurachterstand_2026-10-31.csv", "loaded", 3, True)]
    home = partner_sftp.root / "trivire"
    assert os.listdir(home / "inbox") == []
    assert os.listdir(home / "processed") == [intake_settle.settled_name(outcome)]
    receipts = [n for n in os.listdir(home / "outbox") if not n.startswith(".")]
    assert receipts == [intake_receipts.receipt_name(outcome)]
    assert "Resultaat: GEACCEPTEERD" in (home / "outbox" / receipts[0]).read_text(encoding="utf-8")
