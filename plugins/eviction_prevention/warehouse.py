"""The warehouse behind a SQLAlchemy URL: DuckDB file by default, PostgreSQL in production and CI.

Tables are created from ``sql/schema/*.sql``; the models on them are a dbt project (``sql/``, built by
``publish.dbt_runner``). The same SQL runs on both engines.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from eviction_prevention import pg_copy, settings

log = logging.getLogger(__name__)


# DuckDB checkpoints after a commit once its WAL passes this size (DuckDB's default is 16 MB). Rows that fill
# whole row groups go to the database file as they are inserted; the rest of each file's rows go to the WAL,
# and at 16 MB every few files' commit paid a checkpoint of 0.2-2 s. With a larger threshold the batch's
# WAL is checkpointed once, when the session closes (1M-row bench: 19 s of commits became 4 s of commits
# plus 8 s of checkpoints on close).
DUCKDB_CHECKPOINT_THRESHOLD = "1GB"


def engine(url: str | None = None) -> Engine:
    url = url or settings.warehouse_url()
    if url.startswith("duckdb:///"):
        Path(url.removeprefix("duckdb:///")).parent.mkdir(parents=True, exist_ok=True)
        config = {"memory_limit": settings.duckdb_memory_limit(), "checkpoint_threshold": DUCKDB_CHECKPOINT_THRESHOLD}
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
    """The tables of ``sql/schema`` in the warehouse's schema, and those of ``sql/vault`` in its vault schema
    (the scripts' ``{vault}``)."""
    vault = vault_schema(conn)
    for folder in ("schema", "vault"):
        for path in sorted((settings.SQL_DIR / folder).glob("*.sql")):
            for statement in _statements(path.read_text(encoding="utf-8").replace("{vault}", vault)):
                conn.execute(sa.text(statement))


def vault_schema_of(schema: str) -> str:
    """The identity vault's schema beside the warehouse schema ``schema``: ``main_vault`` in DuckDB,
    ``public_vault`` in a default PostgreSQL database, so warehouses that share a database keep apart."""
    return f"{schema}_vault"


def current_schema(conn: Connection) -> str:
    """The warehouse's schema: the one ``conn`` works in (``main`` in DuckDB, the search path's in PostgreSQL)."""
    return conn.execute(sa.text("SELECT current_schema()")).scalar_one()


def vault_schema(conn: Connection) -> str:
    """The identity vault's schema of the warehouse ``conn`` works in."""
    return vault_schema_of(current_schema(conn))


def _create_statements() -> dict[str, str]:
    """Each table ``sql/schema`` creates, with its ``CREATE TABLE`` statement, in file order."""
    head = "CREATE TABLE IF NOT EXISTS "
    return {
        statement.removeprefix(head).split("(", 1)[0].strip(): statement
        for path in sorted((settings.SQL_DIR / "schema").glob("*.sql"))
        for statement in _statements(path.read_text(encoding="utf-8"))
        if statement.startswith(head)
    }


def schema_tables() -> list[str]:
    """The tables ``sql/schema`` creates, in file order."""
    return list(_create_statements())


def _create_statement(table: str) -> str:
    """The ``CREATE TABLE`` statement for ``table`` in ``sql/schema``."""
    try:
        return _create_statements()[table]
    except KeyError:
        raise KeyError(f"no CREATE TABLE for {table} in {settings.SQL_DIR / 'schema'}") from None


def recreate_table(conn: Connection, table: str) -> None:
    """Drop ``table`` (and the layer views on it) and create it empty from its ``sql/schema`` definition.

    For tables rewritten as a whole on every run: cheaper than deleting every row on both engines, and a
    warehouse created with an older definition gets the current one."""
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    conn.execute(sa.text(_create_statement(table)))


def analyze_tables(conn: Connection, tables: Iterable[str]) -> None:
    """PostgreSQL statistics for what was loaded since the last run (staging, links, persons), before the
    models are built: without them the planner guesses row counts and picks nested loops that grow with the
    square of the data. DuckDB keeps its own: nothing to do."""
    if conn.dialect.name == "postgresql":
        for table in tables:
            _analyze(conn, table)


PSEUDONYM_PREFIXES = ("pk_", "bf_", "person_seal")


def _analyze(conn: Connection, table: str) -> None:
    """PostgreSQL statistics for ``table``'s columns that SQL joins, groups or filters on: every column but
    the sealed pseudonyms (``person_seal``; and ``pk_*``, ``bf_*`` of a warehouse not yet migrated), which
    only the linkage opens, in Python. Pseudonym statistics were two thirds of ANALYZE's time on a staging
    table (300k rows: 2.5 s for all columns, 0.85 s without), and their most common values would be a
    frequency table in ``pg_stats``."""
    columns = [c for c in table_columns(conn, table) if not c.startswith(PSEUDONYM_PREFIXES)]
    conn.execute(sa.text(f"ANALYZE {table} ({', '.join(columns)})"))


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
    """Append ``frame``'s columns that the table has. DuckDB scans the frame directly; PostgreSQL takes it
    with COPY (``pg_copy``); a frame Arrow cannot type (mixed Python objects) and other engines use
    executemany."""
    if frame.empty:
        return 0
    if conn.dialect.name == "postgresql":
        types = pg_copy.column_types(conn, table)
        # only preparing the CSV may fail over to executemany (a non-whole float for an integer column is
        # rounded by PostgreSQL, as before); an error of the COPY itself is the database's, raised as it is
        payload = None
        with suppress(pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            payload = pg_copy.copy_payload(frame, types)
        if payload is not None:
            return pg_copy.copy_in(conn, table, payload)
        cols = [c for c in types if c in frame.columns]
    else:
        cols = [c for c in table_columns(conn, table) if c in frame.columns]
    if conn.dialect.name == "duckdb":
        view = f"_insert_{table.replace('.', '_')}"
        raw = conn.connection.dbapi_connection  # same DuckDB connection, same transaction
        raw.register(view, frame[cols])
        try:
            raw.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(cols)} FROM {view}")
        except BaseException:
            with suppress(Exception):  # fails in the aborted transaction; the insert's error counts
                raw.unregister(view)
            raise
        raw.unregister(view)
        return len(frame)
    statement = sa.text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})")
    rows = records(frame, cols)
    for start in range(0, len(rows), chunk):
        conn.execute(statement, rows[start : start + chunk])
    return len(rows)


def insert_frames(conn: Connection, table: str, frames: Iterable[pd.DataFrame]) -> int:
    """Append every frame of ``frames`` (``insert_rows``), each inserted while the next one is produced.

    The caller's thread produces the frames (a generator doing CPU work, such as pseudonymisation) and a
    writer thread inserts them: DuckDB and the PostgreSQL driver release the GIL while they work, so the two
    run on two cores. At most one produced frame waits for the writer, so memory stays at about three
    frames. Producing a frame must not use ``conn``: the writer thread has it until this function returns.
    An error on either side stops both and is raised here (the caller's transaction rolls back)."""
    pending: queue.Queue[pd.DataFrame | None] = queue.Queue(maxsize=1)
    failures: list[BaseException] = []
    inserted = 0

    def write() -> None:
        nonlocal inserted
        while (frame := pending.get()) is not None:
            if failures:
                continue  # drain: nothing more is written after a failure
            try:
                inserted += insert_rows(conn, table, frame)
            except BaseException as exc:  # handed to the caller's thread, raised there
                failures.append(exc)

    writer = threading.Thread(target=write, name=f"insert-{table}", daemon=True)
    writer.start()
    try:
        for frame in frames:
            pending.put(frame)
            if failures:
                break  # at most two frames are produced after the one that failed
    finally:
        pending.put(None)
        writer.join()
    if failures:
        raise failures[0]
    return inserted


def frame_from_arrow(table: pa.Table) -> pd.DataFrame:
    """An Arrow result as ``read_frame`` promises it: a column that is NULL throughout as ``None`` objects,
    integers without NULLs as int64 (dates come as ``datetime.date`` objects, Arrow's default)."""
    frame = table.to_pandas()
    for name, column in zip(table.column_names, table.columns, strict=True):
        if column.null_count == len(column):
            frame[name] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
        elif not column.null_count and frame[name].dtype.kind in "iu":
            frame[name] = frame[name].astype("int64")
    return frame


def _duckdb_relation(conn: Connection, sql: str, params: dict[str, Any]) -> Any:
    """``sql`` (``:name`` parameters) as a DuckDB relation on the connection's own DuckDB connection."""
    compiled = sa.text(sql).compile(dialect=conn.dialect)
    bound = compiled.construct_params(params)
    values = [bound[name] for name in compiled.positiontup or ()]
    return conn.connection.dbapi_connection.sql(compiled.string, params=values or None)


def _arrow_result(conn: Connection, sql: str, params: dict[str, Any]) -> pa.Table | None:
    """The rows of ``sql`` as an Arrow table when every column has a type whose conversion gives what the
    DB-API rows would (else None): DuckDB's own Arrow export, PostgreSQL's COPY (``pg_copy``)."""
    if conn.dialect.name == "duckdb":
        relation = _duckdb_relation(conn, sql, params)
        same_as_rows = {"VARCHAR", "DATE", "BOOLEAN", "DOUBLE", "INTEGER", "BIGINT", "TIMESTAMP", '"NULL"'}
        return relation.to_arrow_table() if {str(t) for t in relation.types} <= same_as_rows else None
    if conn.dialect.name == "postgresql":
        statement = pg_copy.bound_sql(conn, sql, params)
        schema = pg_copy.arrow_schema(conn, statement)
        return pg_copy.copy_out(conn, statement, schema) if schema is not None else None
    return None


def read_frame(conn: Connection, sql: str, **params: Any) -> pd.DataFrame:
    """The rows of one SELECT (``:name`` parameters) as a DataFrame, with the dtypes pandas infers from the
    DB-API rows: text as ``str``, integers as int64 (float64 with NULLs), dates as ``datetime.date``
    objects, a column that is NULL throughout as ``None`` objects, no rows as object columns.

    On DuckDB (its Arrow export) and PostgreSQL (COPY read by Arrow) the rows come without a Python object
    per value (~10x faster on large frames) when every column has a type whose conversion gives exactly
    that; other types and engines fetch the rows.
    """
    table = _arrow_result(conn, sql, params)
    if table is not None and table.num_rows:
        return frame_from_arrow(table)
    result = conn.execute(sa.text(sql), params)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the warehouse cannot be reached or used (connection lost, server shutting down,
    disk full, a lock held), rather than that the statement or its data were refused."""
    unavailable: tuple[type[BaseException], ...] = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)
    try:
        import psycopg

        unavailable += (psycopg.OperationalError, psycopg.InterfaceError)
    except ImportError:  # pragma: no cover - psycopg is installed with the PostgreSQL provider
        pass
    try:
        import duckdb

        unavailable += (duckdb.IOException, duckdb.OutOfMemoryException, duckdb.InterruptException)
    except ImportError:  # pragma: no cover
        pass
    return isinstance(exc, (*unavailable, OSError))


def read_arrow_batches(conn: Connection, sql: str, rows: int = 65_536, **params: Any) -> Iterator[pa.RecordBatch]:
    """The rows of one SELECT as Arrow record batches of at most ``rows`` rows: on DuckDB a stream (only
    one batch is in memory at a time), elsewhere the batches of ``read_arrow``."""
    if conn.dialect.name == "duckdb":
        yield from _duckdb_relation(conn, sql, params).fetch_arrow_reader(rows)
        return
    yield from read_arrow(conn, sql, **params).to_batches(rows)


def read_arrow(conn: Connection, sql: str, **params: Any) -> pa.Table:
    """The rows of one SELECT as an Arrow table, for a reader that works on Arrow buffers (one copy fewer
    than ``read_frame``); a result whose types Arrow cannot take directly comes through ``read_frame``."""
    table = _arrow_result(conn, sql, params)
    return table if table is not None else pa.Table.from_pandas(read_frame(conn, sql, **params), preserve_index=False)


def as_date(value: Any) -> dt.date | None:
    value = _py(value)
    if isinstance(value, dt.datetime):
        return value.date()
    return value
