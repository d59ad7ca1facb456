"""The warehouse behind a SQLAlchemy URL: DuckDB file by default, PostgreSQL in production and CI.

Tables are created from ``sql/schema/*.sql``; models (``sql/models/*.sql``, one SELECT per file) are
materialised as tables in the order given by ``sql/models.yml``. The same SQL runs on both engines.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Connection, Engine

from eviction_prevention import settings

log = logging.getLogger(__name__)


def engine(url: str | None = None) -> Engine:
    url = url or settings.warehouse_url()
    if url.startswith("duckdb:///"):
        Path(url.removeprefix("duckdb:///")).parent.mkdir(parents=True, exist_ok=True)
        config = {"memory_limit": settings.duckdb_memory_limit()}
        return sa.create_engine(url, future=True, connect_args={"config": config})
    return sa.create_engine(url, future=True)


@contextmanager
def session(url: str | None = None) -> Iterator[Engine]:
    """An engine for a batch of transactions (``with eng.begin() as conn``), disposed after.

    Opening a DuckDB file loads its catalogue and closing it checkpoints the WAL: a batch of files loaded
    through one session pays that once instead of once per file."""
    eng = engine(url)
    try:
        yield eng
    finally:
        eng.dispose()


@contextmanager
def connect(url: str | None = None) -> Iterator[Connection]:
    """One transaction: committed on success, rolled back on error; the engine is disposed after."""
    with session(url) as eng, eng.begin() as conn:
        yield conn


def _statements(sql: str) -> list[str]:
    """Split a script on ``;`` after removing ``--`` comments (no ``;`` or ``--`` inside string literals)."""
    code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return [s.strip() for s in code.split(";") if s.strip()]


def ensure_schema(conn: Connection) -> None:
    for path in sorted((settings.SQL_DIR / "schema").glob("*.sql")):
        for statement in _statements(path.read_text(encoding="utf-8")):
            conn.execute(sa.text(statement))


def model_plan() -> dict[str, list[str]]:
    with open(settings.SQL_DIR / "models.yml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)["phases"]


def build_models(conn: Connection, phase: str) -> dict[str, int]:
    """(Re)materialise every model of a phase as a table; returns row counts per model."""
    counts: dict[str, int] = {}
    for name in model_plan()[phase]:
        select = (settings.SQL_DIR / "models" / f"{name}.sql").read_text(encoding="utf-8").strip().rstrip(";")
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {name} CASCADE"))  # and the layer views on it
        conn.execute(sa.text(f"CREATE TABLE {name} AS {select}"))
        counts[name] = conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
        log.info("model %s: %d rows", name, counts[name])
    return counts


def _py(value: Any) -> Any:
    """A value as the DB-API wants it: no pandas NA/NaT, no numpy scalars, timestamps as dates."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if hasattr(value, "item"):
        return value.item()
    return value


def records(frame: pd.DataFrame, columns: Iterable[str]) -> list[dict[str, Any]]:
    cols = list(columns)
    return [
        {c: _py(v) for c, v in zip(cols, row, strict=True)} for row in frame[cols].itertuples(index=False, name=None)
    ]


def table_columns(conn: Connection, table: str) -> list[str]:
    """Column names of a table (a zero-row SELECT works the same on DuckDB and PostgreSQL)."""
    return list(conn.execute(sa.text(f"SELECT * FROM {table} WHERE 1 = 0")).keys())


def delete_rows(conn: Connection, table: str, where: dict[str, Any]) -> None:
    """Delete the rows matching ``where`` (equality on every key)."""
    condition = " AND ".join(f"{k} = :{k}" for k in where)
    conn.execute(sa.text(f"DELETE FROM {table} WHERE {condition}"), where)


def insert_rows(conn: Connection, table: str, frame: pd.DataFrame, chunk: int = 5000) -> int:
    """Append ``frame``'s columns that the table has. DuckDB scans the frame directly; others use executemany."""
    if frame.empty:
        return 0
    cols = [c for c in table_columns(conn, table) if c in frame.columns]
    if conn.dialect.name == "duckdb":
        view = f"_insert_{table}"
        raw = conn.connection.dbapi_connection  # same DuckDB connection, same transaction
        raw.register(view, frame[cols])
        try:
            raw.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(cols)} FROM {view}")
        finally:
            raw.unregister(view)
        return len(frame)
    statement = sa.text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})")
    rows = records(frame, cols)
    for start in range(0, len(rows), chunk):
        conn.execute(statement, rows[start : start + chunk])
    return len(rows)


def read_frame(conn: Connection, sql: str, **params: Any) -> pd.DataFrame:
    """The rows of one SELECT (``:name`` parameters) as a DataFrame, with the dtypes pandas infers from the
    DB-API rows: text as ``str``, integers as int64 (float64 with NULLs), dates as ``datetime.date``
    objects, a column that is NULL throughout as ``None`` objects, no rows as object columns.

    On DuckDB the rows come through Arrow (no Python object per value, ~10x faster on large frames) when
    every column has a type whose conversion gives exactly that; other types and engines fetch the rows.
    """
    if conn.dialect.name == "duckdb":
        compiled = sa.text(sql).compile(dialect=conn.dialect)
        bound = compiled.construct_params(params)
        values = [bound[name] for name in compiled.positiontup or ()]
        relation = conn.connection.dbapi_connection.sql(compiled.string, params=values or None)
        same_as_rows = {"VARCHAR", "DATE", "BOOLEAN", "DOUBLE", "INTEGER", "BIGINT", "TIMESTAMP", '"NULL"'}
        if {str(t) for t in relation.types} <= same_as_rows:
            table = relation.to_arrow_table()
            if table.num_rows:
                frame = table.to_pandas()
                for name, column in zip(table.column_names, table.columns, strict=True):
                    if column.null_count == len(column):
                        frame[name] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
                    elif not column.null_count and frame[name].dtype.kind in "iu":
                        frame[name] = frame[name].astype("int64")
                return frame
    result = conn.execute(sa.text(sql), params)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def as_date(value: Any) -> dt.date | None:
    value = _py(value)
    if isinstance(value, dt.datetime):
        return value.date()
    return value
