"""`make airflow` serves the real Airflow UI: log in with headless Chromium and see the project's DAGs, unpaused;
Ctrl-C or SIGTERM stops every process it started within 30 s."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from eviction_prevention import settings

from devtools.airflow_api import FINISHED, AirflowAPI
from devtools.local_airflow import ADMIN_USER, STOP_SECONDS, password_file
from tests.browser import Browser, available, free_port
from tests.conftest import unavailable

SCREENSHOT = settings.REPO_ROOT / "var" / "screenshots" / "airflow_dag_list.png"
STARTUP_SECONDS = 150
DAG_IDS = ("partner_intake", "publish_referrals", "retention")


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=3) as response:
            health = json.load(response)
    except (OSError, ValueError):
        return False
    return all(health.get(c, {}).get("status") == "healthy" for c in ("metadatabase", "scheduler", "dag_processor"))


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the runner (it stops airflow standalone and the SFTP server); kill its process group if stuck."""
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=120)  # standalone stops four components; under a loaded CI this takes > 40 s
    with contextlib.suppress(ProcessLookupError):  # the group this test started: leftovers of standalone
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)  # reap the runner (it may have been killed just now, after a slow shutdown)


def start(tmp_path: Path) -> tuple[subprocess.Popen, Path, int, Path]:
    """`make airflow` in a home of its own, as a person starts it; returns once its UI is healthy."""
    home, api_port = tmp_path / "var", free_port()
    env = {
        **os.environ,
        # DAGs created paused, as after `make demo`: `make airflow` must unpause them itself
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    }
    log_file = tmp_path / "airflow-standalone.log"
    started = time.monotonic()
    with open(log_file, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.local_airflow", "--home", str(home),
             "--api-port", str(api_port), "--sftp-port", "0"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    while not healthy(api_port):
        if proc.poll() is not None or time.monotonic() - started > STARTUP_SECONDS:
            stop(proc)
            pytest.fail(f"make airflow gave no healthy UI: {log_file.read_text(errors='replace')[-3000:]}")
        time.sleep(2)
    return proc, home, api_port, log_file


def stops_everything(proc: subprocess.Popen, sig: signal.Signals) -> float:
    """Send ``sig`` to `make airflow` as a terminal (Ctrl-C) or a service manager (SIGTERM) would; returns the
    seconds until it and every process it had started are gone (or fails after STOP_SECONDS + 10)."""
    tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    assert len(tree) >= 5  # the runner, standalone, and standalone's scheduler, API server, DAG processor, ...
    sent = time.monotonic()
    proc.send_signal(sig)
    _gone, alive = psutil.wait_procs(tree, timeout=STOP_SECONDS + 10)
    took = time.monotonic() - sent
    assert alive == [], f"still running {took:.0f} s after {sig.name}: {[p.name() for p in alive if p.is_running()]}"
    print(f"{sig.name}: {len(tree)} processes stopped in {took:.1f} s")
    return took


def triggered_run_state(api_port: int, password: str, timeout: float = 240) -> str:
    """Trigger partner_intake through the REST API, as the UI's trigger button does; its final state."""
    api = AirflowAPI(f"http://127.0.0.1:{api_port}", ADMIN_USER, password)
    run_id = api.trigger("partner_intake")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = next(r["state"] for r in api.runs("partner_intake") if r["dag_run_id"] == run_id)
        if state in FINISHED:
            return state
        time.sleep(3)
    return f"still {state} after {timeout:.0f} s"


@pytest.mark.airflow
def test_make_airflow_serves_the_ui_with_the_dags_unpaused_and_stops_on_sigterm(tmp_path) -> None:
    if reason := available():
        unavailable(reason)
    started = time.monotonic()
    proc, home, api_port, log_file = start(tmp_path)
    try:
        password = json.loads(password_file(home).read_text())[ADMIN_USER]
        with Browser(width=1400, height=900) as browser:
            browser.get(f"http://127.0.0.1:{api_port}/")
            browser.type(browser.wait_for("input[name=username]"), ADMIN_USER)
            browser.type(browser.find("input[name=password]"), password)
            browser.click(browser.find("button[type=submit]"))
            text = ""
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not all(d in text for d in DAG_IDS):
                time.sleep(2)
                if "/auth/login" not in browser.execute("return location.pathname"):
                    browser.get(f"http://127.0.0.1:{api_port}/dags")  # logged in: the DAG list
                    browser.wait_for("a[href*='/dags/']", timeout=30)
                text = browser.execute("return document.body.innerText")
            browser.screenshot(SCREENSHOT)
            path = browser.execute("return location.pathname")

        assert path == "/dags"
        for dag_id in DAG_IDS:
            assert dag_id in text
        assert "0 * * * 1-5" in text  # intake: hourly on weekdays
        assert "30 2 * * *" in text  # retention: daily
        assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with sqlite3.connect(home / "airflow" / "airflow.db") as db:
            paused = dict(db.execute("SELECT dag_id, is_paused FROM dag"))
        assert paused == dict.fromkeys(DAG_IDS, 0)  # created paused, unpaused by make airflow
        assert time.monotonic() - started < 240
        assert triggered_run_state(api_port, password) == "success"  # a run a person triggers goes
        assert stops_everything(proc, signal.SIGTERM) <= STOP_SECONDS
    finally:
        stop(proc)
    assert proc.returncode == 0
    assert "Shutting down components" in log_file.read_text(errors="replace")


@pytest.mark.airflow
def test_ctrl_c_stops_make_airflow_and_everything_it_started(tmp_path) -> None:
    proc, _home, _port, _log = start(tmp_path)
    try:
        assert stops_everything(proc, signal.SIGINT) <= STOP_SECONDS
    finally:
        stop(proc)
    assert proc.returncode == 0
