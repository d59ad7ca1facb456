"""`make bench` works end to end on a tiny size and writes results in the agreed schema.

Not a timed test: it checks the benchmark's structure, not its speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

STAGES = {"download", "parse", "validate", "pseudonymise", "load", "case_building", "link", "publish"}


def test_bench_runs_and_writes_results(tmp_path: Path) -> None:
    env = {**os.environ, "EVICTION_PREVENTION_HOME": str(tmp_path / "var")}
    proc = subprocess.run(
        [sys.executable, "-m", "eviction_prevention.bench", "--sizes", "3000", "--no-airflow", "--no-baselines"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((tmp_path / "var" / "bench" / "results.json").read_text())
    (run,) = results["runs"]
    assert run["arrears_rows"] == 3000
    assert set(run["stages"]) >= STAGES
    assert all(stage["seconds"] > 0 and stage["rows"] > 0 for stage in run["stages"].values())
    assert run["peak_rss_mb"] > 0 and run["total_seconds"] > 0


def test_target_checks_compare_each_measured_value_with_its_limit() -> None:
    from eviction_prevention import bench

    results = {
        "runs": [{"arrears_rows": 100_000, "total_seconds": 24.0}, {"arrears_rows": 1_000_000,
                 "total_seconds": 121.5, "peak_rss_mb": 2516.4}],
        "summary": {"linearity_s_per_row_largest_over_smallest": {"parse": 0.6, "link": 1.07, "publish": None},
                    "candidate_pairs_per_record": 4.76, "linkage_ours_over_splink": 0.169},
        "dag_parse_seconds": {"partner_intake.py": 0.099, "retention.py": 0.51},
    }  # fmt: skip
    checks = {c["target"]: (c["value"], c["limit"], c["met"]) for c in bench.target_checks(results)}
    assert checks == {
        "1M rows end to end, seconds": (121.5, 120.0, False),
        "1M rows peak RSS, MB": (2516.4, 3072.0, True),
        "s/row largest N over smallest N, worst stage": (1.07, 1.3, True),
        "linkage candidate pairs per record": (4.76, 50.0, True),
        "linkage seconds, ours over splink": (0.169, 1.0, True),
        "DAG file parse, slowest file, seconds": (0.51, 0.5, False),
    }
    assert "NOT MET" in bench.targets_table(bench.target_checks(results))


def test_target_checks_leave_out_what_a_run_did_not_measure() -> None:
    from eviction_prevention import bench

    results = {"runs": [{"arrears_rows": 3000, "total_seconds": 5.0}], "summary": {}}
    assert bench.target_checks(results) == []
