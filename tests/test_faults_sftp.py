"""The SFTP connection drops in the middle of a download (the connection is cut, or the server process is
killed): the fetch fails with a retryable error and leaves no partial file; the retry downloads every file
intact (landing copy's SHA-256 = the partner's bytes), and the marts equal a clean run's. Real SFTP server
process behind a throttling loopback proxy (so the download is observably in flight); PostgreSQL.
"""

from __future__ import annotations

import concurrent.futures
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException
from eviction_prevention import settings
from eviction_prevention.intake import files as intake_files

from tests import faults

pytestmark = [pytest.mark.postgres, pytest.mark.sftp]

RATE = 2048  # bytes/s from server to client through the proxy: a ~2 kB file takes about a second


def landing() -> Path:
    return settings.landing_dir() / faults.FAULT_PARTNER


def downloading() -> list[Path]:
    tmp = landing() / "tmp"
    return sorted(tmp.iterdir()) if tmp.is_dir() else []


def fetch_dropped_midway(env: faults.FaultEnv, state: Path, drop: Callable[[], None]) -> BaseException:
    with faults.TcpProxy(env.server.port, rate=RATE) as proxy, concurrent.futures.ThreadPoolExecutor(1) as pool:
        fetch = pool.submit(faults.run_steps, faults.FAULT_PARTNER, env.connect(proxy.port), state, ("fetch",))
        deadline = time.monotonic() + 60
        while not downloading() and time.monotonic() < deadline and not fetch.done():
            time.sleep(0.01)
        (partial,) = downloading()
        time.sleep(0.3)
        assert partial.stat().st_size < faults.partner_files(faults.FAULT_PARTNER)[0].stat().st_size
        drop()
        proxy.cut()  # the connection of a killed server drops; for a cut it already has
        error = fetch.exception(timeout=60)
    assert error is not None, "the download finished before the drop"
    return error


def assert_dropped_cleanly(error: BaseException, env: faults.FaultEnv, state: Path) -> None:
    assert not isinstance(error, AirflowFailException)  # a network error: the fetch task is retried
    assert downloading() == []  # no partial download left behind
    assert not (state / "fetch.json").exists()
    landed = [p for p in landing().iterdir() if p.is_file()]
    assert all(intake_files.sha256_file(p) == p.stem for p in landed)  # only complete files are ever landed
    assert len(os.listdir(env.sftp_home / "inbox")) == len(faults.expected_rows())


def retry_and_converge(env: faults.FaultEnv, state: Path, fault: str) -> None:
    fetched = env.run(state, ("fetch",))["fetch"]["files"]
    originals = {p.name: intake_files.sha256_file(p) for p in faults.partner_files(faults.FAULT_PARTNER)}
    assert {f["remote_name"]: f["file_id"] for f in fetched} == originals
    assert all(intake_files.sha256_file(Path(f["landing_path"])) == f["file_id"] for f in fetched)  # intact
    env.run(state)
    env.assert_converged(fault)


def test_connection_cut_mid_download_is_retried_and_the_file_is_intact(tmp_path: Path, pg_url: str) -> None:
    with faults.fault_env(tmp_path, pg_url) as env:
        state = tmp_path / "state"
        error = fetch_dropped_midway(env, state, lambda: None)
        assert_dropped_cleanly(error, env, state)
        retry_and_converge(env, state, "SFTP connection cut mid-download")


def test_server_killed_mid_download_is_retried_and_the_file_is_intact(tmp_path: Path, pg_url: str) -> None:
    with faults.fault_env(tmp_path, pg_url) as env:
        state = tmp_path / "state"
        error = fetch_dropped_midway(env, state, env.server.kill)
        assert_dropped_cleanly(error, env, state)
        env.server.start()  # the partner's server comes back
        retry_and_converge(env, state, "SFTP server killed mid-download")
