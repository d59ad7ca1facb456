"""``make airflow``: the real Airflow UI on this machine, without Docker.

Starts the embedded SFTP server (one account per partner, pinned host key) in this process, then runs
``airflow standalone`` (scheduler, DAG processor, triggerer, API server with the UI) as a child process
with the project's dags and plugins, the SFTP connections, the pseudonymisation key and the embedded
DuckDB warehouse, all state under ``EVICTION_PREVENTION_HOME`` (default ``var/``). Ctrl-C stops both.

Login: the simple auth manager with user ``admin``; its password is generated once into
``<home>/airflow/simple_auth_manager_passwords.json.generated`` (printed at start).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from eviction_prevention import airflow_env, settings

log = logging.getLogger(__name__)

ADMIN_USER = "admin"


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
    from eviction_prevention.demo import pseudonym_key_file, vault_key_file
    from eviction_prevention.partners import load_partners
    from eviction_prevention.sftp_server import EmbeddedSFTPServer, ensure_keys

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
        started: list[subprocess.Popen] = []

        def stop(signum: int, _frame: object) -> None:
            if not started:
                raise KeyboardInterrupt
            started[0].send_signal(signal.SIGINT)  # standalone shuts its components down on KeyboardInterrupt

        # Installed before the child starts: a caught signal is reset to its default in the child, but an
        # ignored one stays ignored (a shell starts background jobs with SIGINT ignored), and standalone
        # with SIGINT ignored would never stop.
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        started.append(subprocess.Popen([airflow_env.airflow_bin(), "standalone"], env=env))
        return started[0].wait()


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
