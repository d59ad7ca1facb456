"""PostgreSQL refuses connections, drops them, or terminates the loading backend (what a restart does to
its sessions) during a load: the load task fails cleanly (no file half loaded), the retry loads every file
once, and the marts equal a clean run's. Real PostgreSQL behind a loopback TCP proxy; real SFTP server.
"""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import faults

pytestmark = [pytest.mark.postgres, pytest.mark.sftp]


def loaded_files(url: str) -> int:
    return len(faults.fault_partner_state(url)["ledger"])


def load_failing_midway(env: faults.FaultEnv, state: Path, fault: Callable[[], None]) -> BaseException:
    """Start the load; as soon as its first file is committed, inject ``fault``; return the load's error."""
    fetched = env.run(state, ("fetch",))["fetch"]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        load = pool.submit(faults.run_step, "load", faults.FAULT_PARTNER, env.connect(), fetched)
        deadline = time.monotonic() + 60
        while loaded_files(env.url) == 0 and time.monotonic() < deadline and not load.done():
            time.sleep(0.02)
        fault()
        error = load.exception(timeout=60)
    assert error is not None, "the load finished before the fault"
    return error


def assert_failed_cleanly(error: BaseException, direct_url: str) -> None:
    """An operational database error (retried), and every file is either fully loaded or not at all."""
    assert isinstance(error, sa.exc.OperationalError), repr(error)
    state = faults.fault_partner_state(direct_url)
    assert state["orphan_rows"] == 0
    rows = faults.expected_rows()
    assert all(n == rows[name] for name, n in state["staged"]), state["staged"]
    assert 0 < len(state["ledger"]) < len(rows)  # the fault hit in the middle of the load


def retry_and_converge(env: faults.FaultEnv, state: Path, direct_url: str, fault: str) -> None:
    env.url = direct_url
    with faults.environment(EVICTION_PREVENTION_WAREHOUSE_URL=direct_url):
        env.run(state)  # the retry of the load task, then settle and publish
        env.assert_converged(fault)


def test_refused_connections_fail_the_load_and_the_retry_loads_once(tmp_path: Path, pg_url: str) -> None:
    with faults.fault_env(tmp_path, pg_url) as env, faults.TcpProxy(5432) as proxy:
        proxied = faults.proxied_pg_url(pg_url, proxy.port)
        state = tmp_path / "state"
        env.run(state, ("fetch",))
        proxy.refuse()
        with faults.environment(EVICTION_PREVENTION_WAREHOUSE_URL=proxied), pytest.raises(sa.exc.OperationalError):
            env.run(state, ("load",))
        assert faults.fault_partner_state(pg_url)["ledger"] == []
        proxy.accept()
        with faults.environment(EVICTION_PREVENTION_WAREHOUSE_URL=proxied):
            env.run(state)
        env.assert_converged("PostgreSQL refuses connections during the load")


def test_connections_cut_mid_load_then_retry_loads_once(tmp_path: Path, pg_url: str) -> None:
    with faults.fault_env(tmp_path, pg_url) as env, faults.TcpProxy(5432) as proxy:
        state = tmp_path / "state"
        with faults.environment(EVICTION_PREVENTION_WAREHOUSE_URL=faults.proxied_pg_url(pg_url, proxy.port)):
            error = load_failing_midway(env, state, proxy.cut)
        assert_failed_cleanly(error, pg_url)
        retry_and_converge(env, state, pg_url, "PostgreSQL connections cut mid-load")


def test_backend_terminated_mid_load_as_in_a_restart_then_retry_loads_once(tmp_path: Path, pg_url: str) -> None:
    """``pg_terminate_backend`` sends the loading session what a server shutdown sends every session
    (FATAL 57P01, then the connection closes) without taking the shared server down."""
    name = f"fault-{uuid.uuid4().hex[:8]}"
    with faults.fault_env(tmp_path, pg_url) as env:
        state = tmp_path / "state"
        admin = sa.create_engine(faults.PG_BASE_URL)
        terminated: list[int] = []

        def terminate() -> None:
            with admin.begin() as conn:
                result = conn.execute(
                    sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :n"),
                    {"n": name},
                )
                terminated.extend(pid for (pid,) in result if pid)

        try:
            with faults.environment(EVICTION_PREVENTION_WAREHOUSE_URL=f"{pg_url}&application_name={name}"):
                error = load_failing_midway(env, state, terminate)
        finally:
            admin.dispose()
        assert_failed_cleanly(error, pg_url)
        assert terminated  # the load's session (and its lock session) were terminated
        retry_and_converge(env, state, pg_url, "PostgreSQL backend terminated mid-load (restart)")
