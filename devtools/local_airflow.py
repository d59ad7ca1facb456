"""``make airflow``: the real Airflow UI on this machine, without Docker.

Starts the embedded SFTP server (one account per partner, pinned host key) in this process, then runs
``airflow standalone`` (scheduler, DAG processor, triggerer, API server with the UI) as a child process
with the project's dags and plugins, the SFTP connections, the pseudonymisation key and the embedded
DuckDB warehouse, all state under ``EVICTION_PREVENTION_HOME`` (default ``var/``).

Before it starts, the project's DAGs are parsed into the metadata database and unpaused, whatever an
earlier ``make demo`` (``airflow dags test``) left behind. Ctrl-C or SIGTERM stops everything it started
within ``STOP_SECONDS``: standalone gets SIGINT (its own orderly shutdown), and whatever of its process
tree still runs after ``GRACE_SECONDS`` is terminated, then killed.

Login: the simple auth manager with user ``admin``; its password is generated once into
``<home>/airflow/simple_auth_manager_passwords.json.generated`` (printed at start).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from eviction_prevention import settings

from devtools import airflow_env

log = logging.getLogger(__name__)

ADMIN_USER = "admin"
DAG_IDS = ("partner_intake", "publish_referrals", "retention")
GRACE_SECONDS = 15  # standalone's own shutdown of its components
STOP_SECONDS = 30  # Ctrl-C or SIGTERM to nothing of ours left running


def password_file(home: Path) -> Path:
    return home / "airflow" / "simple_auth_manager_passwords.json.generated"


def ensure_admin_password(path: Path) -> str:
    """The admin password from Airflow's simple auth manager password file; created once (mode 0600)."""
    if path.exists():
        passwords = json.loads(path.read_text(encoding="utf-8") or "{}")
        if ADMIN_USER in passwords:
            return passwords[ADMIN_USER]
    else:
        passwords = {}
    passwords[ADMIN_USER] = secrets.token_urlsafe(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(passwords) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return passwords[ADMIN_USER]


def standalone_env(home: Path, api_port: int, connections: dict[str, str], key: str, vault_key: str) -> dict[str, str]:
    """Environment for ``airflow standalone``; settings already in the environment win (e.g. in tests)."""
    env = airflow_env.base_env(home, {settings.KEY_ENV: key, settings.VAULT_KEY_ENV: vault_key, **connections})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # standalone runs `airflow`
    defaults = {
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file(home)),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "EVICTION_PREVENTION_WAREHOUSE_URL": settings.warehouse_url(),
    }
    for name, value in defaults.items():
        env[name] = os.environ.get(name, value)
    if env["EVICTION_PREVENTION_WAREHOUSE_URL"].startswith("duckdb:"):
        env["AIRFLOW__CORE__PARALLELISM"] = "1"  # an embedded DuckDB file has one writer process at a time
    return env


def run(home: Path, api_port: int, sftp_port: int) -> int:
    from eviction_prevention.partners import load_partners

    from devtools.demo import pseudonym_key_file, vault_key_file
    from devtools.sftp_server import EmbeddedSFTPServer, ensure_keys

    users = [p.code for p in load_partners()]
    keys = ensure_keys(home / "keys" / "sftp", users)
    key = pseudonym_key_file(home / "keys").read_text().strip()
    vault_key = vault_key_file(home / "keys").read_text().strip()
    ensure_admin_password(password_file(home))
    with EmbeddedSFTPServer(home / "sftp", keys, users, port=sftp_port) as server:
        env = standalone_env(
            home, api_port, airflow_env.sftp_connections("127.0.0.1", server.port, keys), key, vault_key
        )
        print(
            f"Airflow UI: http://127.0.0.1:{api_port}  user {ADMIN_USER}, password in {password_file(home)}\n"
            f"SFTP server for the partners on 127.0.0.1:{server.port} (keys in {home / 'keys' / 'sftp'})",
            flush=True,
        )
        prepare_dags(env, home / "logs" / "make-airflow.log")
        return serve(env)


def prepare_dags(env: dict[str, str], log_file: Path) -> None:
    """Parse the project's DAGs into the metadata database and unpause them (a demo's ``dags test`` leaves
    them paused), so the UI shows them running from the start."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    airflow_env.migrate(env, log_file)
    airflow_env.run(["dags", "reserialize"], env, log_file)
    airflow_env.run(["dags", "unpause", "--treat-dag-id-as-regex", "-y", f"^({'|'.join(DAG_IDS)})$"], env, log_file)


def serve(env: dict[str, str]) -> int:
    """Run ``airflow standalone`` until it exits or this process gets SIGINT/SIGTERM; then stop its whole tree."""
    import threading

    stop_requested = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stop_requested.set()

    # Installed before the child starts: a caught signal is reset to its default in the child, but an ignored
    # one stays ignored (a shell starts background jobs with SIGINT ignored). The child runs in a session of its
    # own, so a terminal's Ctrl-C reaches this process only, and the stop below is the one orderly path.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    proc = subprocess.Popen([airflow_env.airflow_bin(), "standalone"], env=env, start_new_session=True)
    while proc.poll() is None and not stop_requested.wait(timeout=1):
        pass
    stop_tree(proc)
    return 0 if stop_requested.is_set() else (proc.returncode or 0)


def stop_tree(proc: subprocess.Popen) -> None:
    """SIGINT to standalone, then SIGTERM and SIGKILL to every process of its tree still alive."""
    import psutil

    try:
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("airflow standalone did not stop within %d s: terminating its processes", GRACE_SECONDS)
    with contextlib.suppress(psutil.NoSuchProcess):  # processes started during the shutdown
        tree += [c for c in psutil.Process(proc.pid).children(recursive=True) if c not in tree]
    alive = [p for p in tree if p.is_running()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for process in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(sig)
        _gone, alive = psutil.wait_procs(alive, timeout=(STOP_SECONDS - GRACE_SECONDS) / 2)
        if not alive:
            break
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # anything of its session that left the tree
    proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=settings.home())
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("AIRFLOW_PORT", "8080")))
    parser.add_argument("--sftp-port", type=int, default=int(os.environ.get("EVICTION_PREVENTION_SFTP_PORT", "2222")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    home = args.home.resolve()
    os.environ["EVICTION_PREVENTION_HOME"] = str(home)
    return run(home, args.api_port, args.sftp_port)


if __name__ == "__main__":
    sys.exit(main())
