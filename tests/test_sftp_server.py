"""Embedded SFTP server: Airflow SFTPHook round trip, host-key pinning, jail, key auth, key management."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paramiko
import pytest
from eviction_prevention.partners import load_partners

from devtools.sftp_server import (
    HOME_SUBDIRS,
    EmbeddedSFTPServer,
    SFTPKeys,
    airflow_connection,
    ensure_keys,
    parse_public_key,
    upload,
)

pytestmark = pytest.mark.sftp

HOST = "127.0.0.1"


@pytest.fixture
def users() -> tuple[str, str]:
    codes = [p.code for p in load_partners()]
    assert len(codes) >= 2
    return codes[0], codes[1]


@pytest.fixture
def keys(tmp_path: Path, users: tuple[str, str]) -> SFTPKeys:
    return ensure_keys(tmp_path / "keys", users)


@pytest.fixture
def server(tmp_path: Path, keys: SFTPKeys, users: tuple[str, str]) -> Iterator[EmbeddedSFTPServer]:
    with EmbeddedSFTPServer(tmp_path / "sftp", keys, users) as srv:
        yield srv


@pytest.fixture
def airflow_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow_home"))


@contextmanager
def sftp_as(server: EmbeddedSFTPServer, user: str, key_file: Path) -> Iterator[paramiko.SFTPClient]:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    host_key = parse_public_key(server.keys.host_public_key)
    client.get_host_keys().add(f"[{HOST}]:{server.port}", host_key.get_name(), host_key)
    client.connect(
        HOST,
        port=server.port,
        username=user,
        key_filename=str(key_file),
        look_for_keys=False,
        allow_agent=False,
        timeout=5,
        banner_timeout=5,
        auth_timeout=5,
    )
    try:
        with client.open_sftp() as sftp:
            yield sftp
    finally:
        client.close()


def _upload(server: EmbeddedSFTPServer, user: str, path: Path, remote_dir: str = "inbox") -> str:
    keys = server.keys
    return upload(HOST, server.port, user, keys.client_key_paths[user], keys.host_public_key, path, remote_dir)


def test_airflow_sftphook_lists_retrieves_and_renames(
    tmp_path: Path,
    server: EmbeddedSFTPServer,
    users: tuple[str, str],
    airflow_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    user = users[0]
    payload = os.urandom(3 * 1024 * 1024 + 17)
    local = tmp_path / "huurachterstand_202501.csv"
    local.write_bytes(payload)
    assert _upload(server, user, local) == "inbox/huurachterstand_202501.csv"

    monkeypatch.setenv("AIRFLOW_CONN_SFTP_TEST", airflow_connection(user, HOST, server.port, server.keys))
    hook = SFTPHook(ssh_conn_id="sftp_test")
    assert hook.list_directory("inbox") == [local.name]

    fetched = tmp_path / "fetched.csv"
    hook.retrieve_file(f"inbox/{local.name}", str(fetched))
    assert fetched.read_bytes() == payload

    with hook.get_managed_conn() as sftp:  # SFTPHook has no rename(); use the managed paramiko client
        sftp.rename(f"inbox/{local.name}", f"processed/{local.name}")
    assert hook.list_directory("inbox") == []
    assert hook.list_directory("processed") == [local.name]
    assert (server.root / user / "processed" / local.name).read_bytes() == payload


def test_airflow_connection_pins_host_key(server: EmbeddedSFTPServer, users: tuple[str, str]) -> None:
    conn = json.loads(airflow_connection(users[0], HOST, server.port, server.keys))
    assert conn["conn_type"] == "sftp"
    assert conn["login"] == users[0]
    assert conn["extra"]["host_key"] == server.keys.host_public_key
    assert conn["extra"]["no_host_key_check"] is False


def test_wrong_pinned_host_key_fails(
    tmp_path: Path,
    server: EmbeddedSFTPServer,
    users: tuple[str, str],
    airflow_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    user = users[0]
    impostor = ensure_keys(tmp_path / "impostor", [])
    assert impostor.host_public_key != server.keys.host_public_key
    wrong = SFTPKeys(impostor.host_key_path, impostor.host_public_key, server.keys.client_key_paths)
    monkeypatch.setenv("AIRFLOW_CONN_SFTP_BAD", airflow_connection(user, HOST, server.port, wrong))

    started = time.monotonic()
    # conn_retry_attempts=1: the hook otherwise retries 3x with 3-5 s sleeps before re-raising
    hook = SFTPHook(ssh_conn_id="sftp_bad", conn_retry_attempts=1)
    with pytest.raises(paramiko.SSHException):
        hook.list_directory("inbox")

    local = tmp_path / "x.csv"
    local.write_bytes(b"a,b\n")
    with pytest.raises(paramiko.SSHException):
        upload(HOST, server.port, user, server.keys.client_key_paths[user], wrong.host_public_key, local)
    assert time.monotonic() - started < 10


def test_user_is_confined_to_own_home(tmp_path: Path, server: EmbeddedSFTPServer, users: tuple[str, str]) -> None:
    a, b = users
    secret = tmp_path / "secret.csv"
    secret.write_bytes(b"bsn;naam\n")
    _upload(server, b, secret)
    (server.root / a / "inbox" / "escape").symlink_to(server.root / b / "inbox")

    with sftp_as(server, a, server.keys.client_key_paths[a]) as sftp:
        assert sorted(sftp.listdir("/")) == sorted(HOME_SUBDIRS)
        assert sftp.normalize(".") == "/"
        assert sftp.normalize("../..") == "/"
        for path in (
            f"../{b}/inbox",
            f"/{b}/inbox",
            f"/../{b}/inbox",
            f"inbox/../../{b}/inbox",
            "inbox/escape",
        ):
            with pytest.raises((PermissionError, FileNotFoundError)):
                sftp.listdir(path)
            with pytest.raises((PermissionError, FileNotFoundError)):
                sftp.stat(f"{path}/secret.csv")
            with pytest.raises((PermissionError, FileNotFoundError)):
                sftp.open(f"{path}/secret.csv", "rb").read()
        with pytest.raises(PermissionError):
            sftp.open(f"../{b}/inbox/planted.csv", "wb").write(b"x")
        with pytest.raises(PermissionError):
            sftp.remove("inbox/escape/secret.csv")
        with pytest.raises(PermissionError):
            sftp.rename(f"../{b}/inbox/secret.csv", "inbox/stolen.csv")
        with pytest.raises(PermissionError):
            sftp.rmdir("/")

    assert sorted(os.listdir(server.root / b / "inbox")) == ["secret.csv"]


def test_wrong_client_key_and_passwords_are_rejected(
    tmp_path: Path, server: EmbeddedSFTPServer, users: tuple[str, str]
) -> None:
    a, b = users
    local = tmp_path / "x.csv"
    local.write_bytes(b"a,b\n")
    keys = server.keys
    with pytest.raises(paramiko.AuthenticationException):
        upload(HOST, server.port, a, keys.client_key_paths[b], keys.host_public_key, local)
    with pytest.raises(paramiko.AuthenticationException):
        upload(HOST, server.port, "nobody", keys.client_key_paths[a], keys.host_public_key, local)

    client = paramiko.SSHClient()
    host_key = parse_public_key(keys.host_public_key)
    client.get_host_keys().add(f"[{HOST}]:{server.port}", host_key.get_name(), host_key)
    try:
        with pytest.raises(paramiko.AuthenticationException):
            client.connect(
                HOST, port=server.port, username=a, password="secret", look_for_keys=False, allow_agent=False
            )
    finally:
        client.close()
    assert os.listdir(server.root / a / "inbox") == []


def test_ensure_keys_is_idempotent(tmp_path: Path, users: tuple[str, str]) -> None:
    first = ensure_keys(tmp_path / "keys", users)
    contents = {p: p.read_bytes() for p in [first.host_key_path, *first.client_key_paths.values()]}
    second = ensure_keys(tmp_path / "keys", users)
    assert second == first
    for path, data in contents.items():
        assert path.read_bytes() == data
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.host_public_key.startswith("ssh-ed25519 ")
    extended = ensure_keys(tmp_path / "keys", [*users, "extra_partner"])
    assert extended.host_public_key == first.host_public_key
    assert extended.client_key_paths[users[0]].read_bytes() == contents[first.client_key_paths[users[0]]]


def test_concurrent_uploads_and_rename_semantics(
    tmp_path: Path, server: EmbeddedSFTPServer, users: tuple[str, str]
) -> None:
    errors: list[BaseException] = []

    def send(i: int) -> None:
        user = users[i % 2]
        path = tmp_path / f"file_{i}.csv"
        path.write_bytes(os.urandom(64 * 1024))
        try:
            _upload(server, user, path)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert errors == []
    assert len(os.listdir(server.root / users[0] / "inbox")) == 8
    assert len(os.listdir(server.root / users[1] / "inbox")) == 8

    a = users[0]
    with sftp_as(server, a, server.keys.client_key_paths[a]) as sftp:
        sftp.mkdir("processed/2025")
        with pytest.raises(OSError):  # plain rename never overwrites (like OpenSSH sftp-server)
            sftp.rename("inbox/file_0.csv", "inbox/file_2.csv")
        sftp.posix_rename("inbox/file_0.csv", "inbox/file_2.csv")
        sftp.rename("inbox/file_2.csv", "processed/2025/file_2.csv")
        assert sftp.listdir("processed/2025") == ["file_2.csv"]
        sftp.remove("processed/2025/file_2.csv")
        sftp.rmdir("processed/2025")
        assert sftp.listdir("processed") == []


def test_stop_closes_connections(tmp_path: Path, keys: SFTPKeys, users: tuple[str, str]) -> None:
    srv = EmbeddedSFTPServer(tmp_path / "sftp", keys, users).start()
    a = users[0]
    with sftp_as(srv, a, keys.client_key_paths[a]) as sftp:
        assert sftp.listdir("inbox") == []
        srv.stop()
        with pytest.raises((OSError, EOFError, paramiko.SSHException)):
            sftp.listdir("inbox")
    assert not srv._workers
    with pytest.raises(OSError):
        upload(HOST, srv.port, a, keys.client_key_paths[a], keys.host_public_key, tmp_path / "none.csv")
