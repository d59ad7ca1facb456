"""The same partner's intake runs twice at the same time (two real processes, started together): the runs
take turns per step (partner lock), each file is loaded once, one receipt per file, no duplicate deliveries,
and the marts equal a clean run's. Real SFTP server process, PostgreSQL. Also: the lock itself across
processes (DuckDB file lock and PostgreSQL advisory lock), and the interleaving where one run downloaded a
file that the other then loaded and settled.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eviction_prevention import warehouse
from eviction_prevention.intake import fetch as intake_fetch
from eviction_prevention.intake import ingest, receipts
from eviction_prevention.intake import settle as intake_settle
from eviction_prevention.partners import get_partner

from tests import faults
from tests.conftest import PartnerSFTP

pytestmark = [pytest.mark.postgres, pytest.mark.sftp]


def test_two_simultaneous_runs_load_each_file_once(tmp_path: Path, pg_url: str) -> None:
    with faults.fault_env(tmp_path, pg_url) as env:
        go = tmp_path / "go"
        states = [tmp_path / "run-a", tmp_path / "run-b"]
        for state in states:
            state.mkdir()
            for step in faults.PUBLISH_STEPS:  # publish once, after both runs
                (state / f"{step}.json").write_text("{}")
        runs = [env.runner(state, start_when=go) for state in states]
        deadline = time.monotonic() + 120
        while not all(s.with_suffix(".ready").exists() for s in states) and time.monotonic() < deadline:
            time.sleep(0.05)
        go.touch()  # both processes are up: start them at the same moment
        logs = []
        for run, state in zip(runs, states, strict=True):
            code = run.wait(timeout=180)
            logs.append(state.with_suffix(".log").read_text())
            assert code == 0, logs[-1]
        assert any("is held by another run; waiting" in log for log in logs)  # they did overlap
        outcomes = [faults.run_steps(faults.FAULT_PARTNER, env.connect(), s, ("load",))["load"] for s in states]
        # a run that fetched a file the other run then loaded resumes that outcome: never "duplicate"
        assert all(o["status"] == "loaded" for run in outcomes for o in run["outcomes"])
        assert {o["remote_name"] for run in outcomes for o in run["outcomes"]} == set(faults.expected_rows())
        env.run(tmp_path / "publish", faults.PUBLISH_STEPS)
        env.assert_converged("the same intake twice at the same time")


LOCK_PROBE = """
import sys
from eviction_prevention.intake.locks import LockTimeout, partner_lock
try:
    with partner_lock("trivire", sys.argv[1], timeout=0.5):
        print("acquired")
except LockTimeout as exc:
    print("timeout:", exc)
"""


def probe_lock(url: str) -> str:
    done = subprocess.run([sys.executable, "-c", LOCK_PROBE, url], capture_output=True, text=True, timeout=60)
    return done.stdout.strip()


def test_partner_lock_excludes_other_processes_until_released(warehouse_url: str) -> None:
    from eviction_prevention.intake.locks import partner_lock

    with partner_lock("trivire", warehouse_url):
        assert probe_lock(warehouse_url) == (
            "timeout: lock eviction_prevention:intake:trivire still held by another run after 0 s"
        )
        with partner_lock("woonbron", warehouse_url, timeout=0.5):
            pass  # other partners are not blocked
    assert probe_lock(warehouse_url) == "acquired"


GOOD = Path(__file__).resolve().parent / "fixtures" / "good" / "trivire" / "huurachterstand_2026-10-31.csv"


def test_a_run_that_downloaded_a_file_another_run_settled_resumes_it(
    tmp_path: Path, partner_sftp: PartnerSFTP, warehouse_url: str, key: bytes
) -> None:
    """Interleaving a-fetch, b-fetch, a-load, a-settle, b-load, b-settle: b reports a's outcome, not a
    duplicate; one ledger row, one delivery, one receipt."""
    partner = get_partner("trivire")
    partner_sftp.upload("trivire", GOOD)
    with partner_sftp.client("trivire") as client:
        first = intake_fetch.fetch_new_files(partner, client, sleep=lambda _s: None)
        second = intake_fetch.fetch_new_files(partner, client, sleep=lambda _s: None)
        (a,) = ingest.ingest_files(partner, first, key, warehouse_url)
        intake_settle.settle_files(partner, [a], client, warehouse_url)
        (b,) = ingest.ingest_files(partner, second, key, warehouse_url)
        intake_settle.settle_files(partner, [b], client, warehouse_url)
    assert (a["status"], a["rows_loaded"]) == ("loaded", 3)
    assert b == a
    with warehouse.connect(warehouse_url) as conn:
        assert conn.exec_driver_sql("SELECT status FROM meta_file_deliveries").fetchall() == [("loaded",)]
        assert conn.exec_driver_sql("SELECT count(*) FROM stg_arrears_snapshots").scalar() == 3
    home = partner_sftp.root / "trivire"
    assert [n for n in os.listdir(home / "outbox") if not n.startswith(".")] == [receipts.receipt_name(a)]
    assert os.listdir(home / "inbox") == []
