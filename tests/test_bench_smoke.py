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
