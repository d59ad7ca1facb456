"""Shared fixtures: warehouses (DuckDB file, PostgreSQL schema), pseudonymisation key, CI rules.

Under CI=true an integration test may not skip: a missing PostgreSQL fails the run instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

PG_BASE_URL = os.environ.get("EVICTION_PREVENTION_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
TEST_KEY = "test-key-not-secret-0123456789abcdef"
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
    monkeypatch.delenv("EVICTION_PREVENTION_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("EVICTION_PREVENTION_REFERENCE_DATE", raising=False)


@pytest.fixture
def key() -> bytes:
    return TEST_KEY.encode()


@pytest.fixture
def duckdb_url(tmp_path) -> str:
    return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema in the test database; dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_BASE_URL)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        unavailable(f"PostgreSQL not reachable at {PG_BASE_URL}: {exc.__class__.__name__}")
    try:
        yield f"{PG_BASE_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_url(request) -> str:
    """Run a test on both warehouses: the embedded default and PostgreSQL."""
    return request.getfixturevalue("duckdb_url" if request.param == "duckdb" else "pg_url")
