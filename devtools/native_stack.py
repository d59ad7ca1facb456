"""``make production``: the production topology of docker-compose.yml, run natively, without a Docker engine.

docker-compose.yml is the one description of the services; this module reads it and starts what it
describes, as processes on this machine:

* ``postgres``: a PostgreSQL cluster of its own (``initdb``, its own port), initialised by the same
  ``docker/postgres/init-databases.sh`` the image runs from ``docker-entrypoint-initdb.d``;
* ``redis``: ``redis-server`` on its own port;
* ``sftp``: OpenSSH's ``sshd`` started by ``docker/sftp/entrypoint.sh`` (one chrooted account per partner)
  with ``docker/sftp/sshd_config``;
* ``airflow-init``: what the official image's entrypoint does for ``_AIRFLOW_DB_MIGRATE`` and
  ``_AIRFLOW_WWW_USER_CREATE``: migrate the metadata database, create the first admin;
* every other ``airflow-*`` service with its command, environment and ``deploy.replicas`` (two Celery workers).

Only what exists in containers alone is translated: service host names become 127.0.0.1 with a free port
per service, ``/run/secrets/<name>`` the secret's file, image paths the repository's files; each worker
replica gets the host name its container would have (``airflow-worker-1``, ...), so task instances record
which worker ran them. Secrets are generated into ``<state>/secrets`` as an operator would write them,
with a trailing newline. Like compose's ``restart: always``, a service that dies is started again.
Needs root (partner accounts, chroot, the ``postgres`` system user), as the containers' entrypoints do.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from eviction_prevention import settings

from devtools.sftp_server import free_port

log = logging.getLogger(__name__)

COMPOSE_FILE = settings.REPO_ROOT / "docker-compose.yml"
DOCKER_DIR = settings.REPO_ROOT / "docker"
ADMIN_USER = "admin"
READY_TIMEOUT = 300.0


# ------------------------------------------------------------------------------------------ the description


def compose_spec(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """docker-compose.yml with its YAML anchors and merge keys resolved."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class AirflowService:
    """One process of an ``airflow-*`` service: its compose name, replica number (1..n) and settings."""

    service: str
    replica: int
    replicas: int
    command: list[str]
    environment: dict[str, str]

    @property
    def name(self) -> str:
        return f"{self.service}-{self.replica}" if self.replicas > 1 else self.service


def airflow_services(spec: dict[str, Any]) -> list[AirflowService]:
    """The long-running Airflow services of the compose file, one entry per replica (``airflow-init`` apart)."""
    out = []
    for name, service in spec["services"].items():
        if not name.startswith("airflow-") or name == "airflow-init":
            continue
        replicas = int(service.get("deploy", {}).get("replicas", 1))
        env = {k: str(v) for k, v in service.get("environment", {}).items()}
        out += [AirflowService(name, i, replicas, list(service["command"]), env) for i in range(1, replicas + 1)]
    return out


@dataclass
class NativePorts:
    postgres: int
    redis: int
    sftp: int
    api: int
    scheduler_health: int
    log_servers: list[int]


def native_ports(n_log_servers: int) -> NativePorts:
    return NativePorts(free_port(), free_port(), free_port(), free_port(), free_port(),
                       [free_port() for _ in range(n_log_servers)])  # fmt: skip


@dataclass
class NativePaths:
    state: Path  # logs, secrets, Airflow home, the pipeline's home
    runtime: Path  # root-owned: PostgreSQL's data, the partners' chroot (OpenSSH checks every parent)

    @property
    def secrets(self) -> Path:
        return self.state / "secrets"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def home(self) -> Path:
        return self.state / "var"

    @property
    def airflow_home(self) -> Path:
        return self.state / "airflow"

    @property
    def postgres_data(self) -> Path:
        return self.runtime / "postgres"

    @property
    def postgres_socket(self) -> Path:
        return self.runtime / "postgres-socket"

    @property
    def sftp_root(self) -> Path:
        return self.runtime / "sftp"

    @property
    def ssh(self) -> Path:
        return self.runtime / "ssh"


def native_value(value: str, spec: dict[str, Any], paths: NativePaths, ports: NativePorts) -> str:
    """A setting of the compose file as it reads outside containers (host names, secrets, image paths)."""
    for name, secret in spec.get("secrets", {}).items():
        value = value.replace(f"/run/secrets/{name}", str(paths.secrets / Path(secret["file"]).name))
    replacements = {
        "/opt/eviction-prevention/read-secret": str(DOCKER_DIR / "read-secret.sh"),
        "/opt/airflow/var": str(paths.home),
        "/opt/airflow/keys/sftp": str(paths.secrets / "sftp-client-keys"),
        "redis://redis:6379": f"redis://127.0.0.1:{ports.redis}",
        "http://airflow-apiserver:8080": f"http://127.0.0.1:{ports.api}",
    }
    for container, native in replacements.items():
        value = value.replace(container, native)
    return value


# ------------------------------------------------------------------------------------------------ secrets


@dataclass
class Secrets:
    postgres_password: str
    airflow_db_password: str
    warehouse_db_password: str
    admin_password: str
    pseudonym_key: str
    vault_key: str
    airflow_db_url: str = ""
    warehouse_url: str = ""
    superuser_url: str = ""


def write_secret(path: Path, value: str) -> None:
    """A secret file as an operator writes one (``echo ... > file``): mode 0600, ending in a newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value + "\n", encoding="utf-8")
    path.chmod(0o600)


def generate_secrets(
    paths: NativePaths, ports: NativePorts, partners: list[str], pseudonym_key: str | None = None
) -> Secrets:
    """Every file of README's secrets table except the connections (they need the SFTP host key).
    ``pseudonym_key``: a given key instead of a new one (a test that compares with a ground truth)."""
    from cryptography.fernet import Fernet

    s = Secrets(
        *(secrets.token_urlsafe(18) for _ in range(4)), pseudonym_key or secrets.token_hex(32), secrets.token_hex(32)
    )
    host = f"127.0.0.1:{ports.postgres}"
    s.airflow_db_url = f"postgresql+psycopg2://airflow:{s.airflow_db_password}@{host}/airflow"
    s.warehouse_url = f"postgresql+psycopg2://warehouse:{s.warehouse_db_password}@{host}/warehouse"
    s.superuser_url = f"postgresql+psycopg2://postgres@/postgres?host={paths.postgres_socket}&port={ports.postgres}"
    files = {
        "postgres_password": s.postgres_password,
        "airflow_db_password": s.airflow_db_password,
        "warehouse_db_password": s.warehouse_db_password,
        "airflow_db_url": s.airflow_db_url,
        "airflow_celery_result_backend": f"db+postgresql://airflow:{s.airflow_db_password}@{host}/airflow",
        "warehouse_url": s.warehouse_url,
        "airflow_fernet_key": Fernet.generate_key().decode(),
        "airflow_jwt_secret": secrets.token_urlsafe(64),  # HS512: at least 64 bytes
        "airflow_admin_password": s.admin_password,
        "airflow_variables.json": json.dumps(
            {settings.KEY_VARIABLE: s.pseudonym_key, settings.VAULT_KEY_VARIABLE: s.vault_key}
        ),
    }
    for name, value in files.items():
        write_secret(paths.secrets / name, value)
    for code in partners:
        key = paths.secrets / "sftp-client-keys" / f"{code}_ed25519"
        key.parent.mkdir(parents=True, exist_ok=True)
        key.unlink(missing_ok=True)
        key.with_name(key.name + ".pub").unlink(missing_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"pipeline@{code}", "-f", str(key)],
                       check=True)  # fmt: skip
        public = paths.secrets / "sftp-partner-keys" / f"{code}.pub"
        public.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(key.with_name(key.name + ".pub"), public)
    return s


def write_connections(paths: NativePaths, ports: NativePorts, host_key: str) -> None:
    """``airflow_connections.json``: one pinned-host-key SFTP connection per partner (README's secrets table)."""
    from eviction_prevention.partners import load_partners

    connections = {
        p.sftp_conn_id: {
            "conn_type": "sftp",
            "host": "127.0.0.1",
            "port": ports.sftp,
            "login": p.code,
            "extra": {
                "key_file": str(paths.secrets / "sftp-client-keys" / f"{p.code}_ed25519"),
                "host_key": host_key,
                "no_host_key_check": False,
                "look_for_keys": False,
            },
        }
        for p in load_partners()
    }
    write_secret(paths.secrets / "airflow_connections.json", json.dumps(connections, indent=2))


# ----------------------------------------------------------------------------------------------- services


@dataclass
class Process:
    """A supervised service process (compose's ``restart: always``): own session, so it is killed whole."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_file: Path
    user: str | None = None
    restart: bool = True
    proc: subprocess.Popen | None = None
    starts: int = 0

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        argv = ["runuser", "-u", self.user, "--", *self.argv] if self.user else self.argv
        with open(self.log_file, "ab") as out:
            self.proc = subprocess.Popen(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        self.starts += 1

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pids(self) -> list[int]:
        """The process and every descendant, also those orphaned since (they keep the service's session):
        a container's processes."""
        import psutil

        if self.proc is None:
            return []
        session = self.proc.pid
        found = set()
        for process in psutil.process_iter(["pid"]):
            with suppress(ProcessLookupError, PermissionError, psutil.Error):
                if os.getsid(process.pid) == session:
                    found.add(process.pid)
        with suppress(psutil.Error):
            found |= {self.proc.pid, *(c.pid for c in psutil.Process(self.proc.pid).children(recursive=True))}
        return sorted(pid for pid in found if _exists(pid))

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal every process of the service, as ``docker kill`` does to a container."""
        for pid in self.pids():
            with suppress(ProcessLookupError):
                os.kill(pid, sig)

    def stop(self, timeout: float = 30.0) -> None:
        pids = self.pids()
        if not pids:
            return
        self.kill(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_exists(p) for p in pids):
            time.sleep(0.2)
        for pid in pids:
            if _exists(pid):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def service_hostname() -> str:
    """Airflow's ``hostname_callable`` in the native run: the host name the service's container would have."""
    return os.environ.get("EVICTION_PREVENTION_SERVICE_HOSTNAME") or socket.getfqdn()


def postgres_bin(name: str) -> str:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql")
    return str(versions[-1] / name)


def wait_for(check: Any, what: str, timeout: float = READY_TIMEOUT, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # the service is not up yet
            last = exc
        time.sleep(every)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s" + (f" ({last.__class__.__name__})" if last else ""))


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class NativeStack:
    """The running topology; use ``with start_stack(...) as stack``."""

    spec: dict[str, Any]
    paths: NativePaths
    ports: NativePorts
    secrets: Secrets
    partners: list[str]
    processes: dict[str, Process] = field(default_factory=dict)
    created_accounts: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _supervisor: threading.Thread | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    def supervise(self) -> None:
        """compose's ``restart: always``: start again what died, every second, until the stack stops."""
        while not self._stop.wait(1.0):
            for process in list(self.processes.values()):
                if process.restart and not process.alive():
                    log.warning("service %s exited; starting it again", process.name)
                    process.start()

    def worker(self, hostname: str) -> Process:
        return self.processes[hostname]

    def start_supervisor(self) -> None:
        self._supervisor = threading.Thread(target=self.supervise, name="restart-always", daemon=True)
        self._supervisor.start()

    def stop(self) -> None:
        self._stop.set()
        if self._supervisor is not None:  # not restarting anything while the services are stopped
            self._supervisor.join(timeout=60)
        order = [n for n in self.processes if n.startswith("airflow-")] + ["sftp", "redis", "postgres"]
        for name in order:
            if name in self.processes:
                self.processes[name].stop()
        for account in self.created_accounts:
            subprocess.run(["userdel", account], check=False, capture_output=True)


def _start_postgres(stack: NativeStack) -> None:
    paths, ports = stack.paths, stack.ports
    for folder in (paths.postgres_data, paths.postgres_socket):
        folder.mkdir(parents=True, exist_ok=True)
        shutil.chown(folder, "postgres", "postgres")
    paths.postgres_socket.chmod(0o700)  # the socket trusts whoever reaches it: root and postgres only
    pw = paths.runtime / "postgres_password"
    shutil.copyfile(paths.secrets / "postgres_password", pw)
    pw.chmod(0o600)
    shutil.chown(pw, "postgres", "postgres")
    # as the image's docker-entrypoint.sh: superuser password from POSTGRES_PASSWORD_FILE, password auth
    # over TCP, trust on the local socket (where the init scripts run)
    subprocess.run(["runuser", "-u", "postgres", "--", postgres_bin("initdb"), "-D", str(paths.postgres_data),
                    "-U", "postgres", f"--pwfile={pw}", "--auth-local=trust", "--auth-host=scram-sha-256"],
                   check=True, capture_output=True)  # fmt: skip
    argv = [postgres_bin("postgres"), "-D", str(paths.postgres_data), "-p", str(ports.postgres),
            "-k", str(paths.postgres_socket), "-c", "listen_addresses=127.0.0.1",
            "-c", "unix_socket_permissions=0700"]  # fmt: skip
    env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    process = Process("postgres", argv, env, paths.logs / "postgres.log", user="postgres")
    process.start()
    stack.processes["postgres"] = process
    wait_for(lambda: (paths.postgres_socket / f".s.PGSQL.{ports.postgres}").exists(), "postgres", 60)
    pw.unlink()
    env = {**os.environ, "POSTGRES_USER": "postgres", "PGHOST": str(paths.postgres_socket),
           "PGPORT": str(ports.postgres), "SECRETS_DIR": str(paths.secrets)}  # fmt: skip
    wait_for(lambda: subprocess.run(["pg_isready", "-q"], env=env, check=False).returncode == 0, "postgres", 60)
    with open(paths.logs / "postgres-init.log", "ab") as out:
        subprocess.run(["bash", str(DOCKER_DIR / "postgres" / "init-databases.sh")], env=env, check=True,
                       stdout=out, stderr=subprocess.STDOUT)  # fmt: skip


def _start_redis(stack: NativeStack) -> None:
    process = Process("redis", ["redis-server", "--port", str(stack.ports.redis), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no"],
                      {"PATH": os.environ["PATH"]}, stack.paths.logs / "redis.log")  # fmt: skip
    process.start()
    stack.processes["redis"] = process
    wait_for(lambda: port_open(stack.ports.redis), "redis", 30)


def native_sshd_config(paths: NativePaths, ports: NativePorts) -> str:
    """docker/sftp/sshd_config with the container's port and paths replaced, plus a pid file of its own."""
    text = (DOCKER_DIR / "sftp" / "sshd_config").read_text(encoding="utf-8")
    text = re.sub(r"^Port 22$", f"Port {ports.sftp}\nListenAddress 127.0.0.1\nPidFile {paths.ssh / 'sshd.pid'}",
                  text, flags=re.M)  # fmt: skip
    for container, native in {
        "/etc/ssh/host/": f"{paths.ssh / 'host'}/",
        "/etc/ssh/authorized_keys/": f"{paths.ssh / 'authorized_keys'}/",
        "/srv/sftp/": f"{paths.sftp_root}/",
    }.items():
        text = text.replace(container, native)
    return text


def _start_sftp(stack: NativeStack) -> str:
    """OpenSSH through the image's entrypoint; returns the host key as ``ssh-keyscan`` shows it (README)."""
    paths, ports = stack.paths, stack.ports
    for folder in (paths.ssh, paths.sftp_root):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
    config = paths.ssh / "sshd_config"
    config.write_text(native_sshd_config(paths, ports), encoding="utf-8")
    for code in stack.partners:
        try:
            pwd.getpwnam(code)
        except KeyError:
            stack.created_accounts.append(code)
    env = {
        "PATH": os.environ["PATH"],
        "PARTNERS_FILE": str(settings.CONFIG_DIR / "partners.yaml"),
        "SFTP_ROOT": str(paths.sftp_root),
        "HOST_KEY_DIR": str(paths.ssh / "host"),
        "AUTHORIZED_KEYS_DIR": str(paths.ssh / "authorized_keys"),
        "PARTNER_KEYS_DIR": str(paths.secrets / "sftp-partner-keys"),
        "SSHD_CONFIG": str(config),
    }
    process = Process("sftp", ["bash", str(DOCKER_DIR / "sftp" / "entrypoint.sh")], env, paths.logs / "sftp.log")
    process.start()
    stack.processes["sftp"] = process

    def keyscan() -> str:
        out = subprocess.run(["ssh-keyscan", "-p", str(ports.sftp), "-t", "ed25519", "127.0.0.1"],
                             capture_output=True, text=True, check=False, timeout=10).stdout  # fmt: skip
        found = re.search(r"(ssh-ed25519 \S+)", out)
        return found.group(1) if found else ""

    return wait_for(keyscan, "sftp (ssh-keyscan)", 60)


def airflow_environment(stack: NativeStack, service: AirflowService, log_port: int) -> dict[str, str]:
    """The service's compose environment as it reads here, plus what the image itself provides."""
    paths = stack.paths
    env = {name: os.environ[name] for name in ("PATH", "LANG", "TZ") if name in os.environ}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update({k: native_value(v, stack.spec, paths, stack.ports) for k, v in service.environment.items()})
    env.update(
        {
            # the image's AIRFLOW_HOME holds dags/ and plugins/; here they are the repository's
            "AIRFLOW_HOME": str(paths.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(settings.REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.REPO_ROOT / "plugins"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(paths.airflow_home / "logs"),
            # one host: each service listens on its own port where containers all use the same one
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(stack.ports.api),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(stack.ports.scheduler_health),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(log_port),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "devtools.native_stack.service_hostname",
            "EVICTION_PREVENTION_SERVICE_HOSTNAME": service.name,
            "NO_PROXY": "*",
        }
    )
    return env


def airflow_argv(service: AirflowService) -> list[str]:
    from devtools.airflow_env import airflow_bin

    argv = [airflow_bin(), *service.command]
    if service.command[:2] == ["celery", "worker"]:  # containers differ by host name, processes here do not
        argv += ["--celery-hostname", f"{service.name}@%h"]
    return argv


def _airflow_init(stack: NativeStack) -> None:
    """airflow-init: ``_AIRFLOW_DB_MIGRATE`` and ``_AIRFLOW_WWW_USER_CREATE`` of the official entrypoint."""
    from devtools.airflow_env import airflow_bin

    init = stack.spec["services"]["airflow-init"]
    service = AirflowService("airflow-init", 1, 1, [], {k: str(v) for k, v in init["environment"].items()})
    env = airflow_environment(stack, service, free_port())
    with open(stack.paths.logs / "airflow-init.log", "ab") as out:
        if env.get("_AIRFLOW_DB_MIGRATE") == "true":
            subprocess.run([airflow_bin(), "db", "migrate"], env=env, check=True, stdout=out, stderr=subprocess.STDOUT)
        if env.get("_AIRFLOW_WWW_USER_CREATE") == "true":
            user = env.get("_AIRFLOW_WWW_USER_USERNAME", ADMIN_USER)
            # --password=...: a random password may start with "-", which argparse would read as an option
            subprocess.run([airflow_bin(), "users", "create", "--username", user,
                            f"--password={stack.secrets.admin_password}", "--firstname", "Airflow",
                            "--lastname", "Admin", "--email", "admin@example.org", "--role", "Admin"],
                           env=env, check=True, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip


def _start_airflow(stack: NativeStack) -> None:
    services = airflow_services(stack.spec)
    for service, log_port in zip(services, stack.ports.log_servers, strict=True):
        process = Process(service.name, airflow_argv(service), airflow_environment(stack, service, log_port),
                          stack.paths.logs / f"{service.name}.log")  # fmt: skip
        process.start()
        stack.processes[service.name] = process
    wait_for(lambda: _http_ok(f"{stack.api_url}/api/v2/version"), "airflow-apiserver")
    wait_for(lambda: _http_ok(f"http://127.0.0.1:{stack.ports.scheduler_health}/health"), "airflow-scheduler")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def start_stack(
    state: Path, spec: dict[str, Any] | None = None, pseudonym_key: str | None = None
) -> Iterator[NativeStack]:
    """Start every service of the compose file; stop them all (and remove the partner accounts it created)."""
    from eviction_prevention.partners import load_partners

    if os.geteuid() != 0:
        raise PermissionError("make production needs root: partner accounts, chroot, the postgres system user")
    spec = spec or compose_spec()
    state = state.resolve()
    shutil.rmtree(state, ignore_errors=True)
    # OpenSSH refuses a chroot below a group- or world-writable directory (such as /tmp or /var/tmp)
    runtime_parent = Path("/srv")
    runtime_parent.mkdir(mode=0o755, exist_ok=True)
    paths = NativePaths(state, Path(tempfile.mkdtemp(prefix="ep-production-", dir=runtime_parent)))
    paths.runtime.chmod(0o755)
    for folder in (paths.logs, paths.home, paths.airflow_home):
        folder.mkdir(parents=True, exist_ok=True)
    partners = [p.code for p in load_partners()]
    ports = native_ports(len(airflow_services(spec)))
    try:
        stack = NativeStack(spec, paths, ports, generate_secrets(paths, ports, partners, pseudonym_key), partners)
    except BaseException:
        shutil.rmtree(paths.runtime, ignore_errors=True)
        raise
    try:
        _start_postgres(stack)
        _start_redis(stack)
        write_connections(paths, ports, _start_sftp(stack))
        _airflow_init(stack)
        _start_airflow(stack)
        stack.start_supervisor()
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(paths.runtime, ignore_errors=True)
