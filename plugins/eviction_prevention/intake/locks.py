"""Locks that serialise intake work per partner, across processes and (on PostgreSQL) across hosts.

``partner_lock`` is held by every intake task (fetch, load, settle) for its whole duration, so two runs
of the same partner's intake never interleave inside a step. On PostgreSQL it is a session advisory lock
on a connection of its own, keyed by the warehouse schema and the partner (advisory locks are per
database: warehouses in other schemas of the same database do not block each other); on DuckDB (one
host, one writer) an ``flock`` on a file under the state folder. Both are released by the operating
system or the server when the holder dies (``SIGKILL`` included): a crashed run never leaves a stale lock.

``schema_lock`` serialises ``CREATE TABLE IF NOT EXISTS`` on a fresh PostgreSQL warehouse, which is not
safe to run concurrently (two creators race on the catalog); it lasts until the transaction ends, so
``ensure_schema`` runs in a short transaction of its own.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eviction_prevention import settings, warehouse

log = logging.getLogger(__name__)

LOCK_TIMEOUT_ENV = "EVICTION_PREVENTION_LOCK_TIMEOUT_SECONDS"
DEFAULT_TIMEOUT_SECONDS = 3600.0
POLL_SECONDS = 0.2
SCHEMA_LOCK_NAME = "eviction_prevention:schema"


class LockTimeout(RuntimeError):
    """Another run held the lock for longer than the timeout."""


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` (the same in every process and on every host)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


def lock_timeout() -> float:
    return float(os.environ.get(LOCK_TIMEOUT_ENV) or DEFAULT_TIMEOUT_SECONDS)


def _wait(try_lock: Callable[[], bool], name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waited = False
    while not try_lock():
        if not waited:
            log.info("lock %s is held by another run; waiting", name)
            waited = True
        if time.monotonic() > deadline:
            raise LockTimeout(f"lock {name} still held by another run after {timeout:.0f} s")
        time.sleep(POLL_SECONDS)


@contextmanager
def _pg_lock(url: str, name: str, timeout: float) -> Iterator[None]:
    eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with eng.connect() as conn:
            key = lock_key(f"{conn.execute(sa.text('SELECT current_schema()')).scalar()}/{name}")
            _wait(
                lambda: bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()),
                name,
                timeout,
            )
            conn.commit()
            try:
                yield
            finally:
                _pg_unlock(conn, key)
    finally:
        eng.dispose()


def _pg_unlock(conn: Connection, key: int) -> None:
    """Release the lock; if the connection is gone the server has released it already."""
    try:
        conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        conn.commit()
    except sa.exc.DBAPIError:
        log.info("lock connection lost; the server released the lock with the session")


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def _file_lock(name: str, timeout: float) -> Iterator[None]:
    folder = settings.home() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (hashlib.sha256(name.encode("utf-8")).hexdigest()[:16] + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _wait(lambda: _try_flock(fd), name, timeout)
        yield
    finally:
        os.close(fd)  # releases the flock


@contextmanager
def named_lock(name: str, url: str | None = None, timeout: float | None = None) -> Iterator[None]:
    """Hold the exclusive lock ``name`` for the warehouse at ``url`` (waits up to ``timeout`` seconds)."""
    url = url or settings.warehouse_url()
    timeout = lock_timeout() if timeout is None else timeout
    lock = _pg_lock(url, name, timeout) if url.startswith("postgresql") else _file_lock(name, timeout)
    with lock:
        yield


def partner_lock(partner: str, url: str | None = None, timeout: float | None = None) -> AbstractContextManager[None]:
    """The lock every intake step of ``partner`` holds (see the module docstring)."""
    return named_lock(f"eviction_prevention:intake:{partner}", url, timeout)


def transaction_lock(conn: Connection, name: str) -> None:
    """On PostgreSQL, hold the advisory lock ``name`` until ``conn``'s transaction ends (no-op on DuckDB, which has
    one writer)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(name)})


def schema_lock(conn: Connection) -> None:
    """Serialise schema creation on PostgreSQL until the end of ``conn``'s transaction (no-op on DuckDB)."""
    if conn.dialect.name == "postgresql":
        schema = warehouse.current_schema(conn)
        transaction_lock(conn, f"{schema}/{SCHEMA_LOCK_NAME}")


def ensure_schema(conn: Connection) -> None:
    """``warehouse.ensure_schema`` under the schema lock."""
    schema_lock(conn)
    warehouse.ensure_schema(conn)
