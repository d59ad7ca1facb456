"""The bad-file corpus (tests/fixtures/bad/): every fault is rejected with its own Dutch reason, a receipt,
the file in quarantine and zero rows in the warehouse, while the good files of the same run load.

Driven through the intake functions (fetch -> load -> settle) against the real embedded SFTP server;
runs on DuckDB and on PostgreSQL. Regenerate the fixtures with ``python -m tests.fixtures.build_corpus``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from eviction_prevention import warehouse
from eviction_prevention.intake import receipts
from eviction_prevention.intake import settle as intake_settle
from eviction_prevention.partners import get_partner

from tests.conftest import PartnerSFTP, run_intake

pytestmark = pytest.mark.sftp

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MANIFEST = json.loads((FIXTURES / "bad" / "manifest.json").read_text(encoding="utf-8"))
GOOD_ROWS = {"trivire": 3, "woonbron": 3, "tablis": 3, "sociale_teams": 3, "sdd": 3}
# Values from the fixtures that identify (invented) people: none may appear in a receipt.
PERSONAL = [
    "Oosterzee",
    "Verzonnen",
    "Bedachtsma",
    "Proefstraat",
    "Testlaan",
    "Voorbeeldweg",
    "078-1234567",
    "fictief@example.org",
    "111222333",
    "123456782",
    "123456789",
    "100000009",
    "12-04-1971",
    "30-09-1988",
    "05-01-1965",
    "-0000",
]


def test_corpus_has_at_least_25_distinct_faults() -> None:
    faults = [e["fault"] for e in MANIFEST]
    assert len(faults) == len(set(faults)) >= 25
    data = [(FIXTURES / "bad" / e["fixture"]).read_bytes() for e in MANIFEST if e["fixture"]]
    assert len({bytes(d) for d in data}) == len(data), "every bad file has distinct bytes"


def _deliver(sftp: PartnerSFTP, tmp_path: Path) -> None:
    for partner, folder in ((p.name, p) for p in sorted((FIXTURES / "good").iterdir())):
        for path in folder.iterdir():
            sftp.upload(partner, path)
    for entry in MANIFEST:
        if entry["fixture"] is None:  # one byte over the limit, as a sparse file straight into the inbox
            target = sftp.root / entry["partner"] / "inbox" / entry["deliver_as"]
            with open(target, "wb") as fh:
                fh.truncate(get_partner(entry["partner"]).max_file_bytes + 1)
            continue
        local = tmp_path / "deliver" / entry["fault"] / entry["deliver_as"]
        local.parent.mkdir(parents=True)
        local.write_bytes((FIXTURES / "bad" / entry["fixture"]).read_bytes())
        sftp.upload(entry["partner"], local)


def test_every_bad_file_is_quarantined_with_its_reason_and_good_files_load(
    tmp_path: Path, partner_sftp: PartnerSFTP, warehouse_url: str, key: bytes
) -> None:
    _deliver(partner_sftp, tmp_path)
    outcomes: dict[str, dict] = {}
    for code in GOOD_ROWS:
        with partner_sftp.client(code) as client:
            for outcome in run_intake(code, client, warehouse_url, key):
                outcomes[outcome["remote_name"]] = outcome
    assert len(outcomes) == len(MANIFEST) + len(GOOD_ROWS)

    with warehouse.connect(warehouse_url) as conn:
        ledger = warehouse.read_frame(
            conn, "SELECT partner, file_id, file_name, status, rows_loaded FROM meta_file_ledger"
        )
        staged = {
            table: warehouse.read_frame(conn, f"SELECT file_id, count(*) AS n FROM {table} GROUP BY file_id")
            for table in ("stg_arrears_snapshots", "stg_social_team_cases", "stg_sdd_records")
        }
    rows_by_file = {r.file_id: int(r.n) for frame in staged.values() for r in frame.itertuples()}

    for entry in MANIFEST:
        partner, name = entry["partner"], entry["deliver_as"]
        outcome = outcomes[name]
        assert outcome["status"] == "rejected", entry["fault"]
        assert any(entry["expected"] in r for r in outcome["reasons"]), (entry["fault"], outcome["reasons"])
        assert rows_by_file.get(outcome["file_id"], 0) == 0, entry["fault"]
        row = ledger[ledger.file_id == outcome["file_id"]].iloc[0]
        assert (row.status, row.rows_loaded, row.file_name) == ("rejected", 0, name)
        home = partner_sftp.root / partner
        assert (home / "quarantine" / intake_settle.settled_name(outcome)).exists(), entry["fault"]
        receipt = (home / "outbox" / receipts.receipt_name(outcome)).read_text(encoding="utf-8")
        assert "Resultaat: AFGEWEZEN" in receipt
        assert entry["expected"] in receipt
        assert not [p for p in PERSONAL if p in receipt], entry["fault"]

    for code, expected_rows in GOOD_ROWS.items():
        home = partner_sftp.root / code
        assert os.listdir(home / "inbox") == [], code
        (good,) = [o for o in outcomes.values() if o["partner"] == code and o["status"] == "loaded"]
        assert (good["rows_loaded"], good["reasons"]) == (expected_rows, []), code
        assert rows_by_file[good["file_id"]] == expected_rows
        assert (home / "processed" / intake_settle.settled_name(good)).exists()
        receipt = (home / "outbox" / receipts.receipt_name(good)).read_text(encoding="utf-8")
        assert "Resultaat: GEACCEPTEERD" in receipt and f"Regels verwerkt: {expected_rows}" in receipt

    oversize = next(o for o in outcomes.values() if o["file_id"].startswith("unread-"))
    assert not list((Path(os.environ["EVICTION_PREVENTION_HOME"]) / "landing" / "trivire").glob("unread-*"))
    assert oversize["remote_name"] == "huurachterstand_2026-10-31_over-size-limit.csv"


def test_rejected_receipt_reads_like_a_letter_to_a_clerk(
    tmp_path: Path, partner_sftp: PartnerSFTP, duckdb_url: str, key: bytes
) -> None:
    entry = next(e for e in MANIFEST if e["fault"] == "impossible_date")
    local = tmp_path / entry["deliver_as"]
    local.write_bytes((FIXTURES / "bad" / entry["fixture"]).read_bytes())
    partner_sftp.upload("trivire", local)
    with partner_sftp.client("trivire") as client:
        (outcome,) = run_intake("trivire", client, duckdb_url, key)
    receipt = (partner_sftp.root / "trivire" / "outbox" / receipts.receipt_name(outcome)).read_text(encoding="utf-8")
    lines = receipt.splitlines()
    assert lines[0] == "Ontvangstbevestiging voor Trivire"
    assert lines[1] == f"Bestand: {entry['deliver_as']}"
    assert lines[4] == "Peildatum: 31-10-2026"
    # a monthly file for October is due ten days after the month ends; this one arrives today
    assert lines[5].startswith("Aanlevertermijn: uiterlijk 10-11-2026; aangeleverd op ")
    assert lines[6] == "Resultaat: AFGEWEZEN - het bestand is niet verwerkt, er zijn geen gegevens uit opgeslagen"
    assert lines[7:11] == [  # the rows add up: 3 in the file, none processed, 3 not (one of them with an error)
        "Regels in het bestand: 3",
        "Regels verwerkt: 0",
        "Regels afgewezen: 3 (het hele bestand; met fouten: 1 (regel 4))",
        "Waarschuwingen: 0",
    ]
    assert "• regel 4: datum '31-02-2026' in kolom 'Datum 1 maand achterstand' bestaat niet" in lines
    assert lines[-1].startswith("Wat nu: pas het bestand aan en lever het opnieuw aan.")
