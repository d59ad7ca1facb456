"""`make bench` works end to end on a tiny size and writes results in the agreed schema.

Not a timed test: it checks the benchmark's structure, not its speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

STAGES = {"download", "parse", "validate", "pseudonymise", "load", "dbt_start", "case_building", "link", "publish"}


def test_bench_runs_and_writes_results(tmp_path: Path) -> None:
    env = {**os.environ, "EVICTION_PREVENTION_HOME": str(tmp_path / "var")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "devtools.bench",
            "--sizes",
            "3000",
            "--no-airflow",
            "--no-baselines",
            "--warehouse",
            "both",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((tmp_path / "var" / "bench" / "results.json").read_text())
    assert [(run["warehouse"], run["arrears_rows"]) for run in results["runs"]] == [
        ("duckdb", 3000),
        ("postgres", 3000),
    ]
    for run in results["runs"]:
        assert set(run["stages"]) >= STAGES
        assert all(stage["seconds"] > 0 and stage["rows"] > 0 for stage in run["stages"].values())
        assert run["peak_rss_mb"] > 0 and run["total_seconds"] > 0
    duck, pg = results["runs"]
    assert pg["rows_loaded"] == duck["rows_loaded"] and pg["links"] == duck["links"]  # the same pipeline on both
    assert set(results["summary"]["postgres_over_duckdb"]["3000"]) == STAGES | {"total"}
    assert "pg/duck" in proc.stdout


def _run(warehouse: str, rows: int, total: float, rss: float, stage_seconds: float) -> dict:
    stages = {stage: {"seconds": stage_seconds, "rows": rows * 2} for stage in STAGES}
    return {"warehouse": warehouse, "arrears_rows": rows, "total_seconds": total, "peak_rss_mb": rss,
            "delivered_rows": rows * 2, "stages": stages}  # fmt: skip


def test_target_checks_compare_each_measured_value_with_its_limit() -> None:
    from devtools import bench

    results = {
        "runs": [_run("duckdb", 100_000, 24.0, 900.0, 3.0), _run("postgres", 100_000, 30.0, 700.0, 3.75),
                 _run("duckdb", 1_000_000, 61.5, 2516.4, 7.5), _run("postgres", 1_000_000, 110.7, 3100.0, 13.75)],
        "airflow": {"total_seconds": 33.6},
        "baselines": {"csv_floor": {"ours_over_duckdb": 3.9},
                      "linkage": {"ours_over_splink": 0.169, "ours": {"pairs_per_record": 4.76}}},
        "dag_parse_seconds": {"partner_intake.py": 0.099, "retention.py": 0.51},
    }  # fmt: skip
    results["summary"] = bench.summarise(results)
    assert results["summary"]["postgres_over_duckdb"]["1000000"]["total"] == 1.8
    assert results["summary"]["postgres_over_duckdb"]["100000"]["link"] == 1.25
    assert results["summary"]["duckdb"]["linearity_s_per_row_largest_over_smallest"]["parse"] == 0.25
    assert results["summary"]["postgres"]["linearity_s_per_row_largest_over_smallest"]["load"] == 0.37
    checks = {c["target"]: (c["value"], c["limit"], c["met"]) for c in bench.target_checks(results)}
    assert checks == {
        "duckdb 1M rows end to end, seconds": (61.5, 60.0, False),
        "duckdb 1M rows peak RSS, MB": (2516.4, 3072.0, True),
        "duckdb s/row largest N over smallest, worst stage": (0.25, 1.3, True),
        "postgres 1M rows peak RSS, MB": (3100.0, 3072.0, False),
        "postgres s/row largest N over smallest, worst stage": (0.37, 1.3, True),
        "postgres 1M end to end over duckdb": (1.8, 2.0, True),
        "parse + pseudonymise over DuckDB CSV read": (3.9, 4.0, True),
        "Airflow (DAG runs) over in-process, smallest N": (1.4, 1.5, True),
        "linkage candidate pairs per record": (4.76, 50.0, True),
        "linkage seconds, ours over splink": (0.169, 1.0, True),
        "DAG file parse, slowest file, seconds": (0.51, 0.5, False),
    }
    assert "NOT MET" in bench.targets_table(bench.target_checks(results))
    printed = bench.table(results).splitlines()
    assert printed[0].split() == ["100,000", "duckdb", "100,000", "postgres", "100,000", "pg/duck",
                                  "1,000,000", "duckdb", "1,000,000", "postgres", "1,000,000", "pg/duck"]  # fmt: skip
    assert any(line.startswith('postgres_over_duckdb: {"100000": {"download": 1.25,') for line in printed)
    total = next(line for line in printed if line.startswith("total"))
    assert total.split() == ["total", "24.00", "s", "30.00", "s", "1.25x", "61.50", "s", "110.70", "s", "1.80x"]


def test_target_checks_leave_out_what_a_run_did_not_measure() -> None:
    from devtools import bench

    results = {"runs": [{"arrears_rows": 3000, "total_seconds": 5.0}], "summary": {}}
    assert bench.target_checks(results) == []


def test_airflow_time_is_the_dag_runs_duration_as_airflow_records_it(tmp_path) -> None:
    """The orchestration figure: each DAG's last run from its creation to its end (what a running scheduler
    pays), not the `airflow dags test` command's own start."""
    import sqlite3
    from contextlib import closing

    from devtools import bench

    with closing(sqlite3.connect(tmp_path / "airflow.db")) as db:
        db.execute("CREATE TABLE dag_run (id INTEGER, dag_id TEXT, created_at TEXT, end_date TEXT)")
        db.executemany(
            "INSERT INTO dag_run VALUES (?, ?, ?, ?)",
            [
                (1, "partner_intake", "2026-12-02 15:00:00.000000", "2026-12-02 15:00:10.000000"),
                (2, "partner_intake", "2026-12-02 15:13:58.293356", "2026-12-02 15:14:36.033074"),
                (3, "publish_referrals", "2026-12-02 15:14:43.455631", "2026-12-02 15:14:55.582259"),
            ],
        )
        db.commit()
    assert bench.dag_run_seconds(tmp_path / "airflow.db") == {"partner_intake": 37.74, "publish_referrals": 12.127}
