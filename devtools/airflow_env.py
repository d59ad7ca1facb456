"""Run the project's DAGs through real Airflow (``airflow dags test``) with a local, self-contained setup."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from eviction_prevention import settings
from eviction_prevention.partners import load_partners

log = logging.getLogger(__name__)


def airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def base_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for an Airflow subprocess: metadata DB, logs and DAGs all under ``home``."""
    env = dict(os.environ)
    airflow_home = home / "airflow"
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(settings.REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.REPO_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(airflow_home / "logs"),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "EVICTION_PREVENTION_HOME": str(home),
            "GX_ANALYTICS_ENABLED": "False",
            "NO_PROXY": "*",
        }
    )
    env.update(extra or {})
    return env


def sftp_connections(host: str, port: int, keys: object) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` variables for every partner's SFTP account (host key pinned)."""
    from devtools.sftp_server import airflow_connection

    return {
        f"AIRFLOW_CONN_{p.sftp_conn_id.upper()}": airflow_connection(p.code, host, port, keys) for p in load_partners()
    }


def run(args: list[str], env: dict[str, str], log_file: Path) -> None:
    """Run an airflow CLI command; its output goes to ``log_file``; raise on failure."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as out:
        proc = subprocess.run([airflow_bin(), *args], env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"airflow {' '.join(args)} failed (exit {proc.returncode}); see {log_file}")


def migrate(env: dict[str, str], log_file: Path) -> None:
    run(["db", "migrate"], env, log_file)


def dags_test(dag_id: str, env: dict[str, str], log_file: Path, logical_date: str | None = None) -> None:
    """``airflow dags test``: it exits non-zero when the DAG run fails, and then so do we.

    DAG deadlines are switched off for it: Airflow 3.3.2's ``dags test`` fails after a run of a DAG with a
    DeadlineAlert (it looks the SDK alert objects up as ids). Scheduled runs keep their deadlines.
    """
    env = {**env, "EVICTION_PREVENTION_DAG_DEADLINES": "off"}
    run(["dags", "test", dag_id, *([logical_date] if logical_date else [])], env, log_file)
