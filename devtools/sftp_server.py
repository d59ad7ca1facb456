"""Embedded SFTP server for partner deliveries, key management and the partner-side upload client.

The server speaks real SSH/SFTP (paramiko server side) on loopback. Every partner has one account
(username = partner code) that authenticates with its public key only, and is confined to its home
folder ``<root>/<code>/``: the SFTP path ``/`` is that home, and any path that resolves outside it
(``..`` above the home, symlinks pointing elsewhere) is refused. Each connection runs in its own thread.

Logging names users, operations and (virtual) file names only; file contents are never logged.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paramiko.sftp import SFTP_FAILURE, SFTP_OK, SFTP_OP_UNSUPPORTED, SFTP_PERMISSION_DENIED

log = logging.getLogger(__name__)

HOME_SUBDIRS = ("inbox", "outbox", "processed", "quarantine")
HOST_KEY_NAME = "ssh_host_ed25519_key"
AUTH_GRACE_SECONDS = 30.0
_USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

_T = TypeVar("_T")


# --------------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SFTPKeys:
    host_key_path: Path  # server private host key (Ed25519, OpenSSH format, persisted)
    host_public_key: str  # "ssh-ed25519 AAAA..." as used in the SSH connection `host_key` extra
    client_key_paths: dict[str, Path]  # partner code -> private key file (OpenSSH format)


def _check_user(user: str) -> str:
    if not _USER_RE.match(user):
        raise ValueError(f"invalid SFTP user name {user!r}")
    return user


def _write_new_file(path: Path, data: bytes, mode: int = 0o600) -> bool:
    """Atomically create ``path`` with ``data`` unless it already exists. Returns True if written."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            os.link(tmp, path)  # fails if the file exists: a concurrent creator wins, we reuse theirs
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(tmp)


def _replace_file(path: Path, data: bytes, mode: int) -> None:
    """Atomically write ``path`` (readers never see a half-written file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _generate_private_key(path: Path, comment: str) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    if _write_new_file(path, pem):
        log.info("generated SSH key %s (%s)", path.name, comment)


def load_private_key(path: Path) -> paramiko.PKey:
    """Load an OpenSSH/PEM private key (Ed25519, ECDSA or RSA)."""
    return paramiko.PKey.from_path(path)


def public_key_line(key: paramiko.PKey) -> str:
    """``"<type> <base64>"`` as used in ``authorized_keys`` and the SSH ``host_key`` extra."""
    return f"{key.get_name()} {key.get_base64()}"


def _ensure_key(path: Path, comment: str) -> paramiko.PKey:
    if not path.exists():
        _generate_private_key(path, comment)
    os.chmod(path, 0o600)
    key = load_private_key(path)
    pub_path = path.with_name(path.name + ".pub")
    line = f"{public_key_line(key)} {comment}\n"
    if not pub_path.exists() or pub_path.read_text(encoding="ascii").split()[:2] != line.split()[:2]:
        _replace_file(pub_path, line.encode("ascii"), mode=0o644)
    return key


def ensure_keys(key_dir: Path, users: Iterable[str]) -> SFTPKeys:
    """Create missing keys (host key + one client key per user), reuse existing ones. Idempotent."""
    key_dir = Path(key_dir)
    key_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(key_dir, 0o700)
    host_path = key_dir / HOST_KEY_NAME
    host_key = _ensure_key(host_path, "eviction-prevention-sftp-host")
    client_paths: dict[str, Path] = {}
    for user in users:
        path = key_dir / f"{_check_user(user)}_ed25519"
        _ensure_key(path, f"{user}@eviction-prevention")
        client_paths[user] = path
    return SFTPKeys(
        host_key_path=host_path,
        host_public_key=public_key_line(host_key),
        client_key_paths=client_paths,
    )


# --------------------------------------------------------------------------------------------------
# Jailed SFTP file system
# --------------------------------------------------------------------------------------------------


class _Denied(Exception):
    """A path resolves outside the user's home."""


def _sftp_errors(func: Callable[..., _T]) -> Callable[..., _T | int]:
    """Turn OSError / jail violations into SFTP status codes."""

    @functools.wraps(func)
    def wrapper(self: JailedSFTPInterface, *args: Any) -> _T | int:
        try:
            return func(self, *args)
        except _Denied:
            log.warning("sftp user=%s op=%s denied path=%s", self.user, func.__name__, args[:2])
            return SFTP_PERMISSION_DENIED
        except OSError as exc:
            log.info("sftp user=%s op=%s failed (%s)", self.user, func.__name__, exc.strerror)
            return paramiko.SFTPServer.convert_errno(exc.errno)

    return wrapper


class _JailedHandle(paramiko.SFTPHandle):
    def __init__(self, fh: Any, flags: int) -> None:
        super().__init__(flags)
        self.readfile = fh
        self.writefile = fh

    def stat(self) -> paramiko.SFTPAttributes | int:
        try:
            return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    def chattr(self, attr: paramiko.SFTPAttributes) -> int:
        return SFTP_OP_UNSUPPORTED  # attributes of open files are not changed by partners


def _file_mode(flags: int) -> str:
    """Python file mode for SFTP open flags (already converted to os.O_* by paramiko)."""
    append = bool(flags & os.O_APPEND)
    if flags & os.O_WRONLY:
        return "ab" if append else "wb"
    if flags & os.O_RDWR:
        return "a+b" if append else "r+b"
    return "rb"


class JailedSFTPInterface(paramiko.SFTPServerInterface):
    """SFTP operations for one authenticated user, confined to ``<root>/<user>/``."""

    def __init__(self, server: _AuthServer, root: Path, *args: Any, **kwargs: Any) -> None:
        super().__init__(server, *args, **kwargs)
        user = server.transport.get_username()
        if not user:
            raise paramiko.SSHException("SFTP subsystem requested before authentication")
        self.user: str = user
        self.home = (Path(root) / user).resolve()

    def session_started(self) -> None:
        log.info("sftp session started user=%s", self.user)

    def session_ended(self) -> None:
        log.info("sftp session ended user=%s", self.user)

    # -- path mapping -------------------------------------------------------------------------------

    @staticmethod
    def _virtual_parts(path: str) -> list[str]:
        parts: list[str] = []
        for part in path.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    raise _Denied(path)
                parts.pop()
            else:
                parts.append(part)
        return parts

    def _resolve(self, path: str | bytes) -> Path:
        """Map an SFTP path onto the home; refuse anything that (via symlinks too) leaves it."""
        if isinstance(path, bytes):
            path = path.decode("utf-8")
        if "\x00" in path:
            raise _Denied(path)
        candidate = self.home.joinpath(*self._virtual_parts(path))
        try:
            real = candidate.resolve()
        except (RuntimeError, OSError) as exc:  # symlink loop
            raise _Denied(path) from exc
        if real != self.home and self.home not in real.parents:
            raise _Denied(path)
        return candidate

    def _resolve_entry(self, path: str) -> Path:
        """Like _resolve, but for operations that must not act on the home folder itself."""
        target = self._resolve(path)
        if target == self.home:
            raise _Denied(path)
        return target

    def canonicalize(self, path: str) -> str:
        parts: list[str] = []
        for part in path.split("/"):
            if part == "..":
                if parts:
                    parts.pop()
            elif part not in ("", "."):
                parts.append(part)
        return str(PurePosixPath("/", *parts))

    # -- operations ------------------------------------------------------------------------------

    @_sftp_errors
    def list_folder(self, path: str) -> list[paramiko.SFTPAttributes]:
        folder = self._resolve(path)
        out = []
        for name in sorted(os.listdir(folder)):
            attr = paramiko.SFTPAttributes.from_stat(os.lstat(folder / name))
            attr.filename = name
            out.append(attr)
        log.info("sftp user=%s list %s (%d entries)", self.user, self.canonicalize(path), len(out))
        return out

    @_sftp_errors
    def stat(self, path: str) -> paramiko.SFTPAttributes:
        return paramiko.SFTPAttributes.from_stat(os.stat(self._resolve(path)))

    @_sftp_errors
    def lstat(self, path: str) -> paramiko.SFTPAttributes:
        return paramiko.SFTPAttributes.from_stat(os.lstat(self._resolve(path)))

    @_sftp_errors
    def open(self, path: str, flags: int, attr: paramiko.SFTPAttributes) -> paramiko.SFTPHandle:
        target = self._resolve_entry(path)
        flags |= getattr(os, "O_BINARY", 0)
        mode = _file_mode(flags)
        fd = os.open(target, flags, 0o640)
        try:
            fh = os.fdopen(fd, mode)
        except BaseException:
            os.close(fd)
            raise
        action = "read" if mode == "rb" else "write"
        log.info("sftp user=%s open-%s %s", self.user, action, self.canonicalize(path))
        return _JailedHandle(fh, flags)

    @_sftp_errors
    def remove(self, path: str) -> int:
        os.remove(self._resolve_entry(path))
        log.info("sftp user=%s remove %s", self.user, self.canonicalize(path))
        return SFTP_OK

    @_sftp_errors
    def rename(self, oldpath: str, newpath: str) -> int:
        """SFTP v3 rename: like OpenSSH's sftp-server, refuses to overwrite an existing target."""
        source, target = self._resolve_entry(oldpath), self._resolve_entry(newpath)
        if os.path.lexists(target):
            log.info("sftp user=%s rename %s refused: target exists", self.user, self.canonicalize(newpath))
            return SFTP_FAILURE
        os.rename(source, target)
        log.info("sftp user=%s rename %s -> %s", self.user, self.canonicalize(oldpath), self.canonicalize(newpath))
        return SFTP_OK

    @_sftp_errors
    def posix_rename(self, oldpath: str, newpath: str) -> int:
        """posix-rename@openssh.com: atomic rename that replaces an existing target."""
        os.replace(self._resolve_entry(oldpath), self._resolve_entry(newpath))
        log.info(
            "sftp user=%s posix-rename %s -> %s",
            self.user,
            self.canonicalize(oldpath),
            self.canonicalize(newpath),
        )
        return SFTP_OK

    @_sftp_errors
    def mkdir(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        os.mkdir(self._resolve_entry(path), 0o750)
        log.info("sftp user=%s mkdir %s", self.user, self.canonicalize(path))
        return SFTP_OK

    @_sftp_errors
    def rmdir(self, path: str) -> int:
        os.rmdir(self._resolve_entry(path))
        log.info("sftp user=%s rmdir %s", self.user, self.canonicalize(path))
        return SFTP_OK

    @_sftp_errors
    def chattr(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        """Only times and size may change; ownership and permission bits stay server-controlled."""
        target = self._resolve_entry(path)
        attr._flags &= ~(attr.FLAG_UIDGID | attr.FLAG_PERMISSIONS)
        paramiko.SFTPServer.set_file_attr(str(target), attr)  # returns nothing; an OSError is the failure
        return SFTP_OK

    def readlink(self, path: str) -> int:
        return SFTP_OP_UNSUPPORTED

    def symlink(self, target_path: str, path: str) -> int:
        return SFTP_OP_UNSUPPORTED


# --------------------------------------------------------------------------------------------------
# SSH server
# --------------------------------------------------------------------------------------------------


class _AuthServer(paramiko.ServerInterface):
    """Public-key-only authentication against one pinned key per user; only the sftp subsystem."""

    def __init__(self, transport: paramiko.Transport, authorized: dict[str, paramiko.PKey], peer: str):
        self.transport = transport
        self.authorized = authorized
        self.peer = peer

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_none(self, username: str) -> int:
        return paramiko.AUTH_FAILED

    def check_auth_password(self, username: str, password: str) -> int:
        log.info("ssh auth rejected user=%s peer=%s method=password", username, self.peer)
        return paramiko.AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        # paramiko verifies the signature itself after this returns success.
        expected = self.authorized.get(username)
        if expected is not None and expected.asbytes() == key.asbytes():
            return paramiko.AUTH_SUCCESSFUL
        log.info("ssh auth rejected user=%s peer=%s key=%s", username, self.peer, key.fingerprint)
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        if name != "sftp":
            return False
        return super().check_channel_subsystem_request(channel, name)


class _PeerResetFilter(logging.Filter):
    """paramiko logs a client that hangs up without SSH_MSG_DISCONNECT as ERROR; that is routine here."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and "Connection reset by peer" in record.getMessage():
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


TRANSPORT_LOGGER = f"{__name__}.ssh"
logging.getLogger(TRANSPORT_LOGGER).addFilter(_PeerResetFilter())


def _prepare_home(root: Path, user: str) -> None:
    home = root / user
    home.mkdir(mode=0o750, parents=True, exist_ok=True)
    for sub in HOME_SUBDIRS:
        (home / sub).mkdir(mode=0o750, exist_ok=True)


class EmbeddedSFTPServer:
    """Threaded SFTP server on ``host:port`` (port 0 = pick a free one; see ``.port`` after start)."""

    def __init__(
        self, root: Path, keys: SFTPKeys, users: Iterable[str], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.root = Path(root)
        self.keys = keys
        self.users = tuple(_check_user(u) for u in users)
        missing = [u for u in self.users if u not in keys.client_key_paths]
        if missing:
            raise ValueError(f"no client key for SFTP users {missing}; run ensure_keys() for them")
        self.host = host
        self.port = port
        self._host_key = load_private_key(keys.host_key_path)
        self._authorized = {u: _authorized_key(keys.client_key_paths[u]) for u in self.users}
        self._sock: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._transports: set[paramiko.Transport] = set()
        self._workers: set[threading.Thread] = set()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> EmbeddedSFTPServer:
        if self._sock is not None:
            raise RuntimeError("server already started")
        self.root.mkdir(parents=True, exist_ok=True)
        for user in self.users:
            _prepare_home(self.root, user)
        sock = socket.create_server((self.host, self.port), backlog=64)
        sock.settimeout(0.2)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._stopping.clear()
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"sftp-accept-{self.port}", daemon=True)
        self._accept_thread.start()
        log.info("sftp server listening on %s:%d for %d users", self.host, self.port, len(self.users))
        return self

    def stop(self) -> None:
        if self._sock is None:
            return
        self._stopping.set()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5)
        self._sock.close()
        self._sock = None
        with self._lock:
            transports, workers = list(self._transports), list(self._workers)
        for transport in transports:
            transport.close()
        for worker in workers:
            worker.join(timeout=5)
        log.info("sftp server on %s:%d stopped", self.host, self.port)

    def __enter__(self) -> EmbeddedSFTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- connection handling -----------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, addr = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    break
                log.exception("sftp accept failed; retrying")  # e.g. out of file descriptors
                self._stopping.wait(0.5)
                continue
            conn.settimeout(None)
            worker = threading.Thread(
                target=self._handle, args=(conn, f"{addr[0]}:{addr[1]}"), name=f"sftp-conn-{addr[1]}"
            )
            worker.daemon = True
            with self._lock:
                self._workers.add(worker)
            worker.start()

    def _handle(self, conn: socket.socket, peer: str) -> None:
        log.info("ssh connection from %s", peer)
        transport = paramiko.Transport(conn)
        with self._lock:
            self._transports.add(transport)
        try:
            self._serve(transport, peer)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            log.info("ssh connection from %s ended: %s", peer, exc)
        finally:
            transport.close()
            with self._lock:
                self._transports.discard(transport)
                self._workers.discard(threading.current_thread())

    def _serve(self, transport: paramiko.Transport, peer: str) -> None:
        transport.set_log_channel(TRANSPORT_LOGGER)
        transport.add_server_key(self._host_key)
        transport.set_subsystem_handler("sftp", paramiko.SFTPServer, JailedSFTPInterface, root=self.root)
        transport.start_server(server=_AuthServer(transport, self._authorized, peer))
        user = self._wait_for_auth(transport)
        if user is None:
            log.info("ssh connection from %s closed: not authenticated", peer)
            return
        log.info("ssh auth accepted user=%s peer=%s method=publickey", user, peer)
        # Accepted channels must stay referenced: the transport only holds them weakly and a
        # garbage-collected Channel closes itself (Channel.__del__), killing the sftp subsystem.
        channels: list[paramiko.Channel] = []
        while transport.is_active() and not self._stopping.is_set():
            channel = transport.accept(timeout=0.5)
            if channel is not None:
                channels = [c for c in channels if not c.closed]
                channels.append(channel)
        log.info("ssh connection closed user=%s peer=%s", user, peer)

    def _wait_for_auth(self, transport: paramiko.Transport) -> str | None:
        deadline = time.monotonic() + AUTH_GRACE_SECONDS
        while transport.is_active() and not self._stopping.is_set() and time.monotonic() < deadline:
            user = _authenticated_user(transport)
            if user is not None:
                return user
            self._stopping.wait(0.02)
        return _authenticated_user(transport)  # a fast client may already have finished and hung up


def _authenticated_user(transport: paramiko.Transport) -> str | None:
    """The authenticated user name; unlike Transport.get_username() also after the peer hung up."""
    handler = transport.auth_handler
    if handler is not None and handler.authenticated:
        return handler.auth_username
    return None


def _authorized_key(private_key_path: Path) -> paramiko.PKey:
    """The public key for a client: from ``<key>.pub`` if present, else derived from the private key."""
    pub_path = Path(str(private_key_path) + ".pub")
    if pub_path.exists():
        return parse_public_key(pub_path.read_text(encoding="ascii"))
    return load_private_key(private_key_path)


def parse_public_key(line: str) -> paramiko.PKey:
    """Parse ``"<type> <base64> [comment]"`` into a paramiko public key."""
    key_type, b64 = line.split()[:2]
    return paramiko.PKey.from_type_string(key_type, base64.b64decode(b64))


# --------------------------------------------------------------------------------------------------
# Demo process, Airflow connection, partner upload client
# --------------------------------------------------------------------------------------------------


def serve_forever(root: Path, key_dir: Path, port: int, pid_file: Path | None = None) -> None:
    """Run the server in the foreground for all partners until SIGTERM/SIGINT."""
    from eviction_prevention.partners import load_partners

    users = [p.code for p in load_partners()]
    keys = ensure_keys(key_dir, users)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with EmbeddedSFTPServer(root, keys, users, port=port):
            if pid_file is not None:
                Path(pid_file).write_text(f"{os.getpid()}\n", encoding="ascii")
            while not stop.wait(1.0):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if pid_file is not None:
            with contextlib.suppress(FileNotFoundError):
                Path(pid_file).unlink()


def airflow_connection(user: str, host: str, port: int, keys: SFTPKeys) -> str:
    """JSON for ``AIRFLOW_CONN_<ID>``: key auth as ``user`` with the server's host key pinned."""
    return json.dumps(
        {
            "conn_type": "sftp",
            "host": host,
            "port": port,
            "login": user,
            "extra": {
                "key_file": str(Path(keys.client_key_paths[user]).resolve()),
                "host_key": keys.host_public_key,
                "no_host_key_check": False,
                "look_for_keys": False,
            },
        }
    )


def _pinned_client(host: str, port: int, host_public_key: str) -> paramiko.SSHClient:
    host_key = parse_public_key(host_public_key)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    entry = host if port == 22 else f"[{host}]:{port}"
    client.get_host_keys().add(entry, host_key.get_name(), host_key)
    return client


@contextlib.contextmanager
def partner_session(
    host: str, port: int, user: str, key_file: Path, host_public_key: str
) -> Iterator[paramiko.SFTPClient]:
    """An SFTP session as partner ``user``, the server's host key pinned (RejectPolicy otherwise)."""
    client = _pinned_client(host, port, host_public_key)
    try:
        client.connect(
            host,
            port=port,
            username=user,
            key_filename=str(key_file),
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
            banner_timeout=10,
            auth_timeout=10,
        )
        with client.open_sftp() as sftp:
            yield sftp
    finally:
        client.close()


def upload(
    host: str,
    port: int,
    user: str,
    key_file: Path,
    host_public_key: str,
    local_path: Path,
    remote_dir: str = "inbox",
    mtime: float | None = None,
) -> str:
    """Upload ``local_path`` as partner ``user`` into ``remote_dir``; returns the remote path.

    The file is written as a hidden ``.part`` file first and then atomically renamed, so the pipeline
    never sees a half-written delivery. ``mtime`` sets the file's modification time, as a client that
    preserves times (``put -p``) does.
    """
    local_path = Path(local_path)
    remote_path = f"{remote_dir.rstrip('/')}/{local_path.name}"
    partial = f"{remote_dir.rstrip('/')}/.{local_path.name}.part"
    with partner_session(host, port, user, key_file, host_public_key) as sftp:
        try:
            sftp.put(str(local_path), partial, confirm=True)
            if mtime is not None:
                sftp.utime(partial, (mtime, mtime))
            sftp.posix_rename(partial, remote_path)
        except BaseException:
            with contextlib.suppress(OSError, paramiko.SSHException):
                sftp.remove(partial)
            raise
    log.info("uploaded %s as user=%s to %s", local_path.name, user, remote_path)
    return remote_path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ServerProcess:
    """The embedded SFTP server as its own process (``python -m devtools.sftp_server``), as a
    partner's server is: its work does not share the pipeline's interpreter, and it can be killed."""

    def __init__(self, root: Path, key_dir: Path, users: Iterable[str]) -> None:
        self.root, self.key_dir = Path(root), Path(key_dir)
        self.keys = ensure_keys(self.key_dir, list(users))
        self.port = 0
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> ServerProcess:
        self.port = free_port()
        args = ["--root", str(self.root), "--key-dir", str(self.key_dir), "--port", str(self.port)]
        self.proc = subprocess.Popen([sys.executable, "-m", "devtools.sftp_server", *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("the SFTP server process did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def session(self, user: str, port: int | None = None) -> contextlib.AbstractContextManager[paramiko.SFTPClient]:
        """A pinned-host-key session as partner ``user`` (``port``: e.g. a proxy in front of the server)."""
        return partner_session("127.0.0.1", port or self.port, user, self.keys.client_key_paths[user],
                               self.keys.host_public_key)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the embedded partner SFTP server (demo).")
    parser.add_argument("--root", type=Path, required=True, help="folder holding one home per partner")
    parser.add_argument("--key-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=2222)
    parser.add_argument("--pid-file", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    serve_forever(args.root, args.key_dir, args.port, args.pid_file)


if __name__ == "__main__":
    main()
