"""Shared fixtures: warehouses (DuckDB file, PostgreSQL schema), pseudonymisation key, CI rules.

Under CI=true an integration test may not skip: a missing PostgreSQL fails the run instead.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from eviction_prevention.publish.write_audit_publish import companion_schemas

PG_BASE_URL = os.environ.get("EVICTION_PREVENTION_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
TEST_KEY = "test-key-not-secret-0123456789abcdef"
TEST_VAULT_KEY = "test-vault-key-not-secret-fedcba9876543210"
# module-scoped fixtures ingest before the per-test environment below is set: the vault key is the process's
os.environ.setdefault("EVICTION_PREVENTION_VAULT_KEY", TEST_VAULT_KEY)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip locally, fail in CI."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: integration tests may not skip)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("EVICTION_PREVENTION_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("EVICTION_PREVENTION_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.setenv("EVICTION_PREVENTION_VAULT_KEY", TEST_VAULT_KEY)
    monkeypatch.delenv("EVICTION_PREVENTION_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("EVICTION_PREVENTION_REFERENCE_DATE", raising=False)


@pytest.fixture
def key() -> bytes:
    return TEST_KEY.encode()


@pytest.fixture
def duckdb_url(tmp_path) -> str:
    return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"


def schema_url(schema: str) -> str:
    """A URL whose connections work in ``schema`` (search_path), so tests share one database safely."""
    return f"{PG_BASE_URL}?options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def scratch_schema(prefix: str = "t") -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_BASE_URL)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {', '.join([schema, *companion_schemas(schema)])} CASCADE"))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema in the test database; dropped afterwards."""
    try:
        with scratch_schema() as schema:
            yield schema_url(schema)
    except sa.exc.OperationalError as exc:
        unavailable(f"PostgreSQL not reachable at {PG_BASE_URL}: {exc.__class__.__name__}")


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_url(request) -> str:
    """Run a test on both warehouses: the embedded default and PostgreSQL."""
    return request.getfixturevalue("duckdb_url" if request.param == "duckdb" else "pg_url")


# ---------------------------------------------------------------------------------------------- SFTP intake


class PartnerSFTP:
    """The embedded SFTP server with every registered partner, and partner-side helpers."""

    def __init__(self, server) -> None:
        self.server = server

    @property
    def root(self):
        return self.server.root

    def upload(self, code: str, local, remote_dir: str = "inbox", mtime: float | None = None) -> str:
        from devtools.sftp_server import upload

        keys = self.server.keys
        return upload(
            "127.0.0.1",
            self.server.port,
            code,
            keys.client_key_paths[code],
            keys.host_public_key,
            local,
            remote_dir,
            mtime,
        )

    @contextmanager
    def client(self, code: str) -> Iterator:
        """A paramiko SFTP client logged in as the partner's account, host key pinned."""
        from devtools.sftp_server import partner_session

        keys = self.server.keys
        with partner_session(
            "127.0.0.1", self.server.port, code, keys.client_key_paths[code], keys.host_public_key
        ) as sftp:
            yield sftp


@pytest.fixture
def partner_sftp(tmp_path) -> Iterator[PartnerSFTP]:
    from eviction_prevention.partners import load_partners

    from devtools.sftp_server import EmbeddedSFTPServer, ensure_keys

    users = [p.code for p in load_partners()]
    keys = ensure_keys(tmp_path / "sftp-keys", users)
    with EmbeddedSFTPServer(tmp_path / "sftp", keys, users) as server:
        yield PartnerSFTP(server)


def run_intake(partner_code: str, client, url: str, key: bytes, on=None) -> list[dict]:
    """fetch -> load -> settle for one partner, as the DAG's mapped tasks do (no waiting between polls)."""
    from eviction_prevention.intake import fetch as intake_fetch
    from eviction_prevention.intake import ingest as intake_ingest
    from eviction_prevention.intake import settle as intake_settle
    from eviction_prevention.partners import get_partner

    partner = get_partner(partner_code)
    fetched = intake_fetch.fetch_new_files(partner, client, sleep=lambda _s: None)
    outcomes = intake_ingest.ingest_files(partner, fetched, key, url, on=on)
    intake_settle.settle_files(partner, outcomes, client, url)
    return outcomes
