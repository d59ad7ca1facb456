"""Real OpenSSH besides the embedded server: Debian's sshd on a loopback port, a temporary host key, and one
chrooted, sftp-only account per partner (``ep_<code>``, ``Match User`` + ``ChrootDirectory`` +
``ForceCommand internal-sftp``). Needs root (accounts, chroot) and openssh-server (.ci/run installs it).

Checks: the pull through Airflow's SFTPHook works with the pinned host key; a changed host key fails the pull
loudly without retry; one partner's account cannot read another's folder; a file dropped with OpenSSH's own
``sftp`` client in batch mode is processed like any other.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eviction_prevention import warehouse
from eviction_prevention.intake import fetch, receipts, settle
from eviction_prevention.orchestration import tasks
from eviction_prevention.partners import get_partner

from tests.conftest import unavailable

pytestmark = pytest.mark.sftp

SSHD = "/usr/sbin/sshd"
PARTNERS = ("trivire", "woonbron")
GOOD = Path(__file__).resolve().parent / "fixtures" / "good"
SUBDIRS = ("inbox", "outbox", "processed", "quarantine")


@dataclass
class OpenSSH:
    base: Path  # root-owned, not group/world-writable: the chroot paths live below it
    port: int
    host_public_key: str
    client_keys: dict[str, Path]

    def user(self, code: str) -> str:
        return f"ep_{code}"

    def home(self, code: str) -> Path:
        return self.base / "chroot" / code

    def connection(self, code: str, host_public_key: str | None = None) -> str:
        return json.dumps(
            {
                "conn_type": "sftp",
                "host": "127.0.0.1",
                "port": self.port,
                "login": self.user(code),
                "extra": {
                    "key_file": str(self.client_keys[code]),
                    "host_key": host_public_key or self.host_public_key,
                    "no_host_key_check": False,
                    "look_for_keys": False,
                },
            }
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _keygen(path: Path, comment: str) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return " ".join(path.with_name(path.name + ".pub").read_text().split()[:2])


def ensure_account(user: str) -> None:
    try:
        pwd.getpwnam(user)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/", "--shell", "/usr/sbin/nologin", user],
            check=True,
        )
    subprocess.run(["usermod", "-p", "*", user], check=True)  # no password, but not a locked account


def _sshd_config(env: OpenSSH, host_key: Path) -> str:
    lines = [
        f"Port {env.port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {host_key}",
        f"PidFile {env.base / 'sshd.pid'}",
        f"AuthorizedKeysFile {env.base / 'authorized_keys'}/%u",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "UsePAM no",
        "PermitRootLogin no",
        "AllowTcpForwarding no",
        "X11Forwarding no",
        "Subsystem sftp internal-sftp",
        f"AllowUsers {' '.join(env.user(c) for c in PARTNERS)}",
        "LogLevel VERBOSE",
    ]
    for code in PARTNERS:
        lines += [
            f"Match User {env.user(code)}",
            f"    ChrootDirectory {env.home(code)}",
            "    ForceCommand internal-sftp",
        ]
    return "\n".join(lines) + "\n"


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {log.read_text(errors='replace')[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("sshd did not start listening")


@pytest.fixture(scope="module")
def openssh() -> Iterator[OpenSSH]:
    if os.geteuid() != 0:
        unavailable("the OpenSSH test needs root (system accounts, chroot)")
    if not (Path(SSHD).exists() and shutil.which("sftp") and shutil.which("ssh-keygen")):
        unavailable("openssh-server/openssh-client not installed (apt-get install openssh-server)")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
    base = Path(tempfile.mkdtemp(prefix="ep-openssh-", dir="/srv" if Path("/srv").is_dir() else "/var/tmp"))
    os.chmod(base, 0o755)
    env = OpenSSH(base, _free_port(), "", {})
    (base / "authorized_keys").mkdir(mode=0o755)
    (base / "chroot").mkdir(mode=0o755)
    (base / "client").mkdir(mode=0o700)
    env.host_public_key = _keygen(base / "ssh_host_ed25519_key", "ep-test-host")
    for code in PARTNERS:
        user = env.user(code)
        ensure_account(user)
        pub = _keygen(base / "client" / f"{code}_ed25519", user)
        env.client_keys[code] = base / "client" / f"{code}_ed25519"
        (base / "authorized_keys" / user).write_text(pub + "\n")
        os.chmod(base / "authorized_keys" / user, 0o644)
        home = env.home(code)
        home.mkdir(mode=0o755)  # chroot: root-owned, not writable by group or others
        entry = pwd.getpwnam(user)
        for sub in SUBDIRS:
            (home / sub).mkdir(mode=0o750)
            os.chown(home / sub, entry.pw_uid, entry.pw_gid)
    proc = start_sshd(env, base / "ssh_host_ed25519_key")
    try:
        yield env
    finally:
        proc.terminate()  # only the sshd this fixture started
        proc.wait(timeout=10)
        shutil.rmtree(base, ignore_errors=True)


def start_sshd(env: OpenSSH, host_key: Path) -> subprocess.Popen:
    config = env.base / f"sshd_config_{host_key.name}"
    config.write_text(_sshd_config(env, host_key))
    subprocess.run([SSHD, "-t", "-f", str(config)], check=True)
    log = env.base / "sshd.log"
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=open(log, "ab"))  # noqa: SIM115
    _wait_for_port(env.port, proc, log)
    return proc


def sftp_batch(
    env: OpenSSH, code: str, commands: str, host_public_key: str | None = None
) -> subprocess.CompletedProcess:
    """OpenSSH's own sftp client in batch mode, host key pinned through a known_hosts file."""
    known = env.base / "client" / f"known_hosts_{code}"
    known.write_text(f"[127.0.0.1]:{env.port} {host_public_key or env.host_public_key}\n")
    batch = env.base / "client" / f"batch_{code}"
    batch.write_text(commands)
    return subprocess.run(
        [
            "sftp",
            "-b",
            str(batch),
            "-P",
            str(env.port),
            "-i",
            str(env.client_keys[code]),
            "-o",
            f"UserKnownHostsFile={known}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            f"{env.user(code)}@127.0.0.1",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def airflow_conns(openssh: OpenSSH, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    for code in PARTNERS:
        monkeypatch.setenv(f"AIRFLOW_CONN_{get_partner(code).sftp_conn_id.upper()}", openssh.connection(code))


def _clean(env: OpenSSH) -> None:
    for code in PARTNERS:
        for sub in SUBDIRS:
            for path in (env.home(code) / sub).iterdir():
                path.unlink()


def test_file_dropped_with_openssh_sftp_is_pulled_through_the_hook_and_processed(
    openssh: OpenSSH, airflow_conns: None, duckdb_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean(openssh)
    good = GOOD / "trivire" / "huurachterstand_2026-10-31.csv"
    done = sftp_batch(openssh, "trivire", f"put {good} inbox/{good.name}\nls inbox\n")
    assert done.returncode == 0, done.stderr
    assert (openssh.home("trivire") / "inbox" / good.name).read_bytes() == good.read_bytes()

    monkeypatch.setenv("EVICTION_PREVENTION_WAREHOUSE_URL", duckdb_url)
    monkeypatch.setattr(fetch.time, "sleep", lambda _s: None)
    fetched = tasks.fetch("trivire")  # SFTPHook with the pinned host key
    assert [f["remote_name"] for f in fetched["files"]] == [good.name]
    loaded = tasks.load(fetched)
    (outcome,) = loaded["outcomes"]
    assert (outcome["status"], outcome["rows_loaded"]) == ("loaded", 3)
    assert tasks.settle(loaded)["processed"] == 1

    home = openssh.home("trivire")
    assert os.listdir(home / "inbox") == []
    assert os.listdir(home / "processed") == [settle.settled_name(outcome)]
    receipt_name = receipts.receipt_name(outcome)
    got = sftp_batch(openssh, "trivire", f"get outbox/{receipt_name} {openssh.base / 'client' / 'receipt.txt'}\n")
    assert got.returncode == 0, got.stderr
    assert "Resultaat: GEACCEPTEERD" in (openssh.base / "client" / "receipt.txt").read_text(encoding="utf-8")
    with warehouse.connect(duckdb_url) as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM stg_arrears_snapshots").scalar() == 3


def test_one_partner_cannot_read_another_partners_folder(openssh: OpenSSH) -> None:
    _clean(openssh)
    secret = GOOD / "woonbron" / "arrears_2026-10-31.csv"
    assert sftp_batch(openssh, "woonbron", f"put {secret} inbox/{secret.name}\n").returncode == 0
    listing = sftp_batch(openssh, "trivire", "ls -1 /\n")
    assert listing.returncode == 0, listing.stderr
    assert sorted(line.strip().strip("/") for line in listing.stdout.splitlines() if not line.startswith("sftp>")) == [
        "inbox",
        "outbox",
        "processed",
        "quarantine",
    ]
    target = openssh.base / "client" / "stolen.csv"
    for path in (
        f"../woonbron/inbox/{secret.name}",
        f"/../woonbron/inbox/{secret.name}",
        f"{openssh.home('woonbron')}/inbox/{secret.name}",
    ):
        attempt = sftp_batch(openssh, "trivire", f"get {path} {target}\n")
        assert attempt.returncode != 0, path
        assert not target.exists()
    # The chroot itself is not writable by the partner: it cannot plant files next to its folders.
    planted = sftp_batch(openssh, "trivire", f"put {secret} /planted.csv\n")
    assert planted.returncode != 0
    assert not (openssh.home("trivire") / "planted.csv").exists()


def test_changed_host_key_fails_the_pull_loudly(
    openssh: OpenSSH, airflow_conns: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    _clean(openssh)
    impostor = _keygen(openssh.base / "client" / f"impostor_{time.monotonic_ns()}", "impostor")
    monkeypatch.setenv("AIRFLOW_CONN_SFTP_TRIVIRE", openssh.connection("trivire", host_public_key=impostor))
    started = time.monotonic()
    with pytest.raises(AirflowFailException, match="host key"):
        tasks.fetch("trivire")
    assert time.monotonic() - started < 30
    # OpenSSH's own client refuses too.
    refused = sftp_batch(openssh, "trivire", "ls inbox\n", host_public_key=impostor)
    assert refused.returncode != 0
    assert "host key" in refused.stderr.lower() or "verification failed" in refused.stderr.lower()
