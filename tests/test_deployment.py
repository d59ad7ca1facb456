"""The production stack's files: docker-compose.yml after Airflow 3.3's official compose, and the Dockerfile.

No Docker engine runs here, so these tests check structure: services, health checks, start order, pinned
images, separate databases, secrets kept out of the files, the image installing from the lock.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml
from eviction_prevention import settings
from eviction_prevention.partners import load_partners

ROOT = settings.REPO_ROOT
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
AIRFLOW_SERVICES = {
    "airflow-apiserver": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
    "airflow-worker": ["celery", "worker"],
}
LONG_RUNNING = {*AIRFLOW_SERVICES, "postgres", "redis", "sftp"}
PINNED = re.compile(r"^[a-z0-9./-]+:\d+(\.\d+)+[a-z0-9.-]*$")  # name:1.2[.3][-variant], never latest


def test_services_of_the_official_compose_plus_sftp() -> None:
    assert set(SERVICES) == {*LONG_RUNNING, "airflow-init"}
    for name, command in AIRFLOW_SERVICES.items():
        assert SERVICES[name]["command"] == command
        assert SERVICES[name]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert SERVICES["airflow-worker"]["environment"]["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
    assert SERVICES["airflow-apiserver"]["ports"] == ["8080:8080"]


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_every_long_running_service_has_a_health_check(name: str) -> None:
    check = SERVICES[name]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) >= 2
    assert {"interval", "retries"} <= set(check)


def test_start_order_waits_for_healthy_dependencies() -> None:
    for name in AIRFLOW_SERVICES:
        depends = SERVICES[name]["depends_on"]
        assert depends["postgres"] == {"condition": "service_healthy"}
        assert depends["redis"] == {"condition": "service_healthy"}
        assert depends["airflow-init"] == {"condition": "service_completed_successfully"}
    assert SERVICES["airflow-worker"]["depends_on"]["airflow-apiserver"] == {"condition": "service_healthy"}
    assert SERVICES["airflow-worker"]["depends_on"]["sftp"] == {"condition": "service_healthy"}
    assert SERVICES["airflow-init"]["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_images_are_pinned(name: str) -> None:
    image = SERVICES[name]["image"]
    assert PINNED.match(image), f"{name}: image {image!r} is not pinned to a version"
    for path in (ROOT / "Dockerfile", ROOT / "docker" / "sftp" / "Dockerfile"):
        for base in re.findall(r"^FROM\s+(\S+)", path.read_text(encoding="utf-8"), flags=re.M):
            assert PINNED.match(base), f"{path.name}: base image {base!r} is not pinned"


def test_separate_databases_for_airflow_metadata_and_warehouse() -> None:
    init = (ROOT / "docker" / "postgres" / "init-databases.sh").read_text(encoding="utf-8")
    assert "CREATE DATABASE airflow OWNER airflow;" in init
    assert "CREATE DATABASE warehouse OWNER warehouse;" in init
    mounted = SERVICES["postgres"]["volumes"]
    assert "./docker/postgres/init-databases.sh:/docker-entrypoint-initdb.d/10-init-databases.sh:ro" in mounted
    env = SERVICES["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"] == f"{READ_SECRET} /run/secrets/airflow_db_url"
    assert env["EVICTION_PREVENTION_WAREHOUSE_URL_FILE"] == "/run/secrets/warehouse_url"
    secrets = COMPOSE["secrets"]
    assert secrets["airflow_db_url"]["file"] != secrets["warehouse_url"]["file"]
    assert "warehouse_url" in SERVICES["airflow-worker"]["secrets"]


READ_SECRET = "/opt/eviction-prevention/read-secret"


def test_secret_files_are_read_without_their_trailing_newline(tmp_path) -> None:
    """Airflow uses a `*_CMD` command's output as it is: `cat` of a secret ending in a newline gave
    `database "airflow\\n" does not exist`. Every `*_CMD` reads through docker/read-secret.sh, which the
    image installs at READ_SECRET."""
    commands = {k: v for k, v in SERVICES["airflow-scheduler"]["environment"].items() if k.endswith("_CMD")}
    assert len(commands) == 4
    assert all(v.startswith(f"{READ_SECRET} /run/secrets/") for v in commands.values()), commands
    assert f"COPY --chown=airflow:root --chmod=0755 docker/read-secret.sh {READ_SECRET}" in (
        ROOT / "Dockerfile"
    ).read_text(encoding="utf-8")
    secret = tmp_path / "airflow_db_url"
    secret.write_text("postgresql+psycopg2://airflow:pw@postgres/airflow\n\n")
    out = subprocess.run([ROOT / "docker" / "read-secret.sh", secret], capture_output=True, check=True).stdout
    assert out == b"postgresql+psycopg2://airflow:pw@postgres/airflow"


def test_the_lock_holds_what_the_compose_topology_runs() -> None:
    """CeleryExecutor needs the Celery provider with celery and redis (celery 5.7 breaks the provider's import:
    `cannot import name 'retry' from 'celery.backends.database'`); the FAB auth manager needs its provider."""
    env = SERVICES["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].startswith("airflow.providers.fab.")
    lock = (ROOT / "uv.lock").read_text(encoding="utf-8")
    versions = dict(re.findall(r'^name = "([^"]+)"\nversion = "([^"]+)"', lock, flags=re.M))
    for package in ("apache-airflow-providers-celery", "apache-airflow-providers-fab", "celery", "redis", "kombu"):
        assert package in versions, package
    assert tuple(int(x) for x in versions["celery"].split(".")[:2]) < (5, 7)
    assert SERVICES["airflow-worker"]["deploy"]["replicas"] == 2
    # a dead worker's running task is retried after 90 s without heartbeats, its queued ones after 180 s
    assert env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"] == "90"
    assert env["AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT"] == "180"


SECRET_NAME = re.compile(r"PASSWORD|TOKEN|FERNET|JWT|SECRET_KEY|PSEUDONYM|_KEY(_CMD)?$", re.I)


def _strings(node: object, path: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in _strings(v, f"{path}.{k}")]
    if isinstance(node, list):
        return [s for i, v in enumerate(node) for s in _strings(v, f"{path}[{i}]")]
    return [(path, str(node))]


def test_no_secret_is_written_in_the_compose_file() -> None:
    for path, value in _strings(COMPOSE):
        assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", value), f"{path}: credentials in a URL"
        key = path.rsplit(".", 1)[-1]
        if SECRET_NAME.search(key) and ".environment." in f"{path}.":
            assert value.startswith(("/run/secrets/", f"{READ_SECRET} /run/secrets/")), f"{path}: secret value inline"
    for name, spec in COMPOSE["secrets"].items():
        assert spec["file"].startswith("./secrets/"), name
    ignored = (ROOT / "secrets" / ".gitignore").read_text(encoding="utf-8").split()
    assert ignored[0] == "*"


def test_dockerfile_installs_from_the_lock() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY --chown=airflow:root pyproject.toml uv.lock" in dockerfile
    assert re.search(r"uv export --frozen --no-dev\b", dockerfile)
    assert "pip install --no-cache-dir -r /tmp/requirements.txt" in dockerfile
    assert re.search(r"pip install --no-cache-dir uv==\d+\.\d+\.\d+", dockerfile)
    for folder in ("plugins", "dags", "config", "sql", "expectations"):
        assert f"COPY --chown=airflow:root {folder} /opt/airflow/{folder}" in dockerfile


def test_the_locked_export_the_image_installs_resolves(tmp_path) -> None:
    """The same `uv export --frozen` the Dockerfile runs succeeds on this lock and pins Airflow."""
    uv = next((p for p in ("uv", str(ROOT / ".tools" / "bin" / "uv")) if _runs(p)), None)
    if uv is None:
        pytest.skip("uv not installed")
    out = tmp_path / "requirements.txt"
    subprocess.run(
        [uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "--format", "requirements-txt",
         "-o", str(out)],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    requirements = out.read_text(encoding="utf-8")
    assert re.search(r"^apache-airflow==3\.3\.2\b", requirements, flags=re.M)
    assert not re.search(r"^(pytest|ruff)==", requirements, flags=re.M)  # dev tools stay out of the image


def _runs(binary: str) -> bool:
    try:
        return subprocess.run([binary, "--version"], capture_output=True, check=False).returncode == 0
    except OSError:
        return False


def test_sftp_server_has_one_chrooted_key_only_account_per_partner() -> None:
    sshd = (ROOT / "docker" / "sftp" / "sshd_config").read_text(encoding="utf-8")
    for line in (
        "PasswordAuthentication no",
        "PermitRootLogin no",
        "Subsystem sftp internal-sftp",
        "ChrootDirectory /srv/sftp/%u",
        "ForceCommand internal-sftp -l INFO",
        "AllowTcpForwarding no",
    ):
        assert line in sshd
    codes = subprocess.run(
        ["bash", str(ROOT / "docker" / "sftp" / "partners.sh"), str(settings.CONFIG_DIR / "partners.yaml")],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    assert codes == [p.code for p in load_partners()]
    entrypoint = (ROOT / "docker" / "sftp" / "entrypoint.sh").read_text(encoding="utf-8")
    assert 'install -d -o root -g root -m 0755 "$sftp_root/$code"' in entrypoint  # chroot must be root-owned
    assert 'sftp_root="${SFTP_ROOT:-/srv/sftp}"' in entrypoint
    assert "--shell /usr/sbin/nologin" in entrypoint
