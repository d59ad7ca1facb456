"""End to end through real components: synthetic files -> embedded SFTP -> `airflow dags test` -> warehouse.

Checks the published compliance table and links against the generator's ground truth, and that no
personal value from the partner files reaches the warehouse, the task logs, Airflow's XComs or the receipts,
also on the error paths: the demo delivers a file without its header row and one with shifted columns.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from eviction_prevention import evaluation, warehouse
from eviction_prevention.demo import DemoPaths, receipts_for, run_pipeline
from eviction_prevention.parsing import parse_file
from eviction_prevention.partners import get_partner

pytestmark = [pytest.mark.sftp, pytest.mark.airflow]

PERSONAL_COLUMNS = ["given_name", "surname", "street", "phone", "email", "tenancy_ref", "case_ref", "record_ref", "bsn"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("e2e") / "var"
    url = f"duckdb:///{home / 'warehouse.duckdb'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("EVICTION_PREVENTION_HOME", str(home))
    try:
        result = run_pipeline(DemoPaths(home), scale=0.3, seed=7, url=url)
    finally:
        mp.undo()
    return result | {"home": home, "url": url, "paths": DemoPaths(home)}


def raw_personal_values(data_dir: Path) -> tuple[set[str], set[dt.date]]:
    """Every name, street, phone, e-mail, reference, BSN and birth date in the generated partner files."""
    texts: set[str] = set()
    births: set[dt.date] = set()
    for partner_dir in sorted((data_dir / "partners").iterdir()):
        partner = get_partner(partner_dir.name)
        for path in sorted(partner_dir.iterdir()):
            frame = parse_file(path, partner.layout, partner.kind).frame
            for col in PERSONAL_COLUMNS:
                if col in frame.columns:
                    texts |= {str(v) for v in frame[col].dropna() if len(str(v)) >= 4}
            births |= {v.date() for v in frame["birth_date"].dropna()}
    return texts, births


def test_compliance_equals_ground_truth(demo_run: dict) -> None:
    with warehouse.connect(demo_run["url"]) as conn:
        published = evaluation.published_compliance(conn)
    truth = evaluation.truth_compliance(demo_run["truth_dir"])
    assert evaluation.compliance_differences(published, truth).empty
    totals = published[evaluation.COMPLIANCE_COUNTS].sum()
    assert totals["reported_on_time"] > 0 and totals["reported_late"] > 0
    assert totals["analysed_on_time"] > 0 and totals["analysed_late"] > 0
    episodes = evaluation.read_truth(demo_run["truth_dir"], "cases")
    assert totals["cases"] == (episodes["t0_date"] != "").sum()  # episodes below the threshold have no T0
    assert totals["cases"] + totals["below_threshold"] == len(episodes)


def test_linkage_precision_and_recall(demo_run: dict) -> None:
    with warehouse.connect(demo_run["url"]) as conn:
        quality = evaluation.linkage_quality(conn, demo_run["truth_dir"], demo_run["key"])
    for link_type, q in quality.items():
        assert q["precision"] >= 0.95, (link_type, q)
        assert q["recall"] >= 0.95, (link_type, q)


HEADERLESS = (
    "de eerste regel heeft niet de afgesproken kolomnamen: de kopregel ontbreekt of komt uit een ander sjabloon "
    "(verwacht onder meer 'Contractnummer', 'Voorletters', 'Tussenvoegsel', 'Achternaam')"
)


def test_files_settled_on_the_server(demo_run: dict) -> None:
    root = demo_run["home"] / "sftp"
    faulty = dict(demo_run["faulty"])
    assert sorted(faulty) == ["trivire", "woonbron"]
    for partner in ("trivire", "woonbron", "tablis", "sociale_teams", "sdd"):
        assert list((root / partner / "inbox").iterdir()) == []
        processed = list((root / partner / "processed").iterdir())
        quarantined = (root / partner / "quarantine").iterdir() if partner in faulty else []
        refused = [p.name.split("_", 1)[1] for p in quarantined]  # kept as <file id>_<name>
        receipts = list((root / partner / "outbox").iterdir())
        assert len(processed) == (1 if partner in ("sociale_teams", "sdd") else 6)
        assert refused == ([faulty[partner]] if partner in faulty else [])
        assert len(receipts) == len(processed) + len(refused)
        accepted = [r for r in receipts if "Resultaat: GEACCEPTEERD" in r.read_text(encoding="utf-8")]
        assert len(accepted) == len(processed)


def test_faulty_deliveries_are_refused_for_what_is_wrong(demo_run: dict) -> None:
    receipts = {
        r.parent.parent.name: r.read_text(encoding="utf-8") for r in receipts_for(demo_run["paths"], demo_run["faulty"])
    }
    assert sorted(receipts) == ["trivire", "woonbron"]
    assert "Resultaat: AFGEWEZEN" in receipts["trivire"] and HEADERLESS in receipts["trivire"]
    # Woonbron's rows moved one column right: each problem is listed once, with the lines it is on
    assert "Resultaat: AFGEWEZEN" in receipts["woonbron"]
    assert "• op elke regel staan in dezelfde kolommen verkeerde waarden ('geboortedatum', " in receipts["woonbron"]
    assert "• kolom 'huisnr' bevat geen geldig getal: regel 2-" in receipts["woonbron"]


def test_no_personal_data_in_warehouse(demo_run: dict) -> None:
    texts, births = raw_personal_values(demo_run["truth_dir"].parent)
    assert len(texts) > 1000 and len(births) > 500  # the check has something to find
    with warehouse.connect(demo_run["url"]) as conn:
        tables = [r[0] for r in conn.exec_driver_sql("SELECT table_name FROM information_schema.tables")]
        assert "mart_referrals" in tables
        for table in tables:
            frame = warehouse.read_frame(conn, f"SELECT * FROM {table}")
            for col in frame.columns:
                values = set(frame[col].dropna().map(lambda v: v.date() if isinstance(v, pd.Timestamp) else v))
                assert not (values & texts), f"{table}.{col} holds raw identifiers"
                assert not (values & births), f"{table}.{col} holds birth dates"


def test_no_personal_data_in_logs_xcoms_or_receipts(demo_run: dict) -> None:
    texts, births = raw_personal_values(demo_run["truth_dir"].parent)
    needles = texts | {d.isoformat() for d in births} | {d.strftime("%d-%m-%Y") for d in births}
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(n)}(?!\w)" for n in sorted(needles, key=len, reverse=True)))
    airflow_home = demo_run["home"] / "airflow"
    receipts = [*(demo_run["home"] / "sftp").glob("*/outbox/*")]
    assert len(receipts_for(demo_run["paths"], demo_run["faulty"])) == 2  # the error paths are among them
    log_files = [demo_run["home"] / "logs" / "demo-airflow.log", *(airflow_home / "logs").rglob("*"), *receipts]
    scanned = 0
    for path in log_files:
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            scanned += len(text)
            match = pattern.search(text)
            assert match is None, f"personal value in {path.name} at offset {match.start() if match else 0}"
    assert scanned > 10_000
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        xcoms = [str(v) for (v,) in db.execute("SELECT value FROM xcom")]
    assert xcoms, "the DAG runs pushed XComs"
    for value in xcoms:
        assert pattern.search(value) is None
