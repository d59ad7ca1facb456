"""`make demo` as a newcomer reads it: the steps, a refused file's receipt, the feedback files and where to
look on the console; the servers' and libraries' log lines in var/logs/."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.sftp, pytest.mark.airflow]


def test_the_demo_console_shows_steps_a_refused_receipt_and_where_to_look(tmp_path) -> None:
    home = tmp_path / "var"
    env = {**os.environ, "EVICTION_PREVENTION_HOME": str(home)}
    env.pop("EVICTION_PREVENTION_WAREHOUSE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "devtools.cli", "demo", "--scale", "0.1", "--seed", "3"],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    console = done.stdout + done.stderr
    assert done.returncode in (0, 1), console[-3000:]  # 1: the small world's compliance differs from the truth
    lines = console.splitlines()
    assert [line for line in lines if line.startswith("[5/5] airflow dags test publish_referrals done")]
    assert "== a faulty delivery, refused: sftp/trivire/outbox/huurachterstand_" in console
    assert "Resultaat: AFGEWEZEN" in console and "de kopregel ontbreekt" in console
    assert "== where to look ==" in console and "mart_worklist_overdue" in console
    assert f"dbt docs    {home / 'reports' / 'dbt_docs.html'}" in console
    assert "mart_referrals" in (home / "reports" / "dbt_docs.html").read_text(encoding="utf-8")
    for partner in ("trivire", "woonbron", "tablis", "sociale_teams"):
        assert f"sftp/{partner}/outbox/terugkoppeling_{partner}_" in console
    # the chatter is in the log file, not on the console
    assert "Socket exception" not in console and "sftp user=" not in console
    assert "sftp user=trivire" in (home / "logs" / "demo.log").read_text(encoding="utf-8")
    assert len(lines) < 400, len(lines)
