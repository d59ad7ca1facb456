"""How `make production` reads docker-compose.yml: the services, replicas, environment and sshd settings it
runs natively are the compose file's, with only container names and paths translated (pure: no processes)."""

from __future__ import annotations

import copy
from pathlib import Path

from devtools import native_stack
from devtools.native_stack import NativePaths, NativePorts

SPEC = native_stack.compose_spec()
PATHS = NativePaths(Path("/state"), Path("/srv/rt"))
PORTS = NativePorts(postgres=5001, redis=5002, sftp=5003, api=5004, scheduler_health=5005, log_servers=[1, 2, 3])


def test_every_airflow_service_and_replica_of_the_compose_file() -> None:
    services = native_stack.airflow_services(SPEC)
    assert [(s.name, s.command) for s in services] == [
        ("airflow-apiserver", ["api-server"]),
        ("airflow-scheduler", ["scheduler"]),
        ("airflow-dag-processor", ["dag-processor"]),
        ("airflow-triggerer", ["triggerer"]),
        ("airflow-worker-1", ["celery", "worker"]),
        ("airflow-worker-2", ["celery", "worker"]),
    ]
    argv = native_stack.airflow_argv(services[-1])
    assert argv[1:] == ["celery", "worker", "--celery-hostname", "airflow-worker-2@%h"]


def test_settings_are_the_compose_files_with_container_names_translated() -> None:
    env = native_stack.native_value
    assert env("/opt/eviction-prevention/read-secret /run/secrets/airflow_db_url", SPEC, PATHS, PORTS) == (
        f"{native_stack.DOCKER_DIR / 'read-secret.sh'} /state/secrets/airflow_db_url"
    )
    assert env("redis://redis:6379/0", SPEC, PATHS, PORTS) == "redis://127.0.0.1:5002/0"
    assert env("http://airflow-apiserver:8080/execution/", SPEC, PATHS, PORTS) == "http://127.0.0.1:5004/execution/"
    assert env("/run/secrets/airflow_connections", SPEC, PATHS, PORTS) == "/state/secrets/airflow_connections.json"
    assert env("/opt/airflow/var", SPEC, PATHS, PORTS) == "/state/var"


def test_a_setting_added_to_the_compose_file_reaches_the_native_services() -> None:
    spec = copy.deepcopy(SPEC)
    for name, service in spec["services"].items():
        if name.startswith("airflow-"):
            service["environment"]["AIRFLOW__CORE__PARALLELISM"] = "7"
    spec["services"]["airflow-worker"]["deploy"]["replicas"] = 3
    services = native_stack.airflow_services(spec)
    assert [s.name for s in services][-3:] == ["airflow-worker-1", "airflow-worker-2", "airflow-worker-3"]
    assert {s.environment["AIRFLOW__CORE__PARALLELISM"] for s in services} == {"7"}
    assert services[0].environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_sshd_runs_the_images_config_on_its_own_port_and_paths() -> None:
    config = native_stack.native_sshd_config(PATHS, PORTS)
    original = (native_stack.DOCKER_DIR / "sftp" / "sshd_config").read_text(encoding="utf-8")
    assert "Port 5003\nListenAddress 127.0.0.1\nPidFile /srv/rt/ssh/sshd.pid" in config
    assert "ChrootDirectory /srv/rt/sftp/%u" in config
    assert "AuthorizedKeysFile /srv/rt/ssh/authorized_keys/%u" in config
    assert "HostKey /srv/rt/ssh/host/ssh_host_ed25519_key" in config
    kept = [line for line in original.splitlines() if not line.startswith(("Port", "HostKey", "AuthorizedKeysFile"))]
    kept = [line for line in kept if "ChrootDirectory" not in line]
    assert all(line in config.splitlines() for line in kept)  # everything else as in the image


def test_secrets_are_written_as_an_operator_writes_them(tmp_path) -> None:
    native_stack.write_secret(tmp_path / "s", "value")
    assert (tmp_path / "s").read_bytes() == b"value\n"
    assert (tmp_path / "s").stat().st_mode & 0o777 == 0o600
