"""Bulk transfer to and from PostgreSQL with the COPY protocol, as CSV written and read by Arrow.

``executemany`` sends one statement per row and ``fetchall`` makes a Python object per value; at national
scale (1M arrears rows, ~40 columns) both cost minutes. Here a frame becomes one CSV buffer (Arrow's
multithreaded C++ writer) streamed with ``COPY ... FROM STDIN``, and a result set comes back with
``COPY (SELECT ...) TO STDOUT`` into Arrow's CSV reader, with each column's type taken from the query's own
result description (never guessed from the text). Both run in the caller's transaction, on its connection.

CSV conventions (PostgreSQL's and Arrow's agree): NULL is an unquoted empty field, an empty string is
``""`` (Arrow quotes every string), booleans are ``t``/``f`` on the way out of PostgreSQL.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection

COPY_READ_BYTES = 1 << 20  # psycopg2 reads the file in blocks of this size (its default, 8 kB, costs calls)

# PostgreSQL type OIDs whose CSV text Arrow parses to the value the DB-API would give (text, integers,
# dates, booleans, floats). Other types (numeric, timestamps, json) are read through the DB-API.
ARROW_TYPE_BY_OID: dict[int, pa.DataType] = {
    25: pa.string(),  # text
    1043: pa.string(),  # varchar
    1042: pa.string(),  # bpchar
    20: pa.int64(),  # int8
    23: pa.int64(),  # int4
    21: pa.int64(),  # int2
    1082: pa.date32(),  # date
    16: pa.bool_(),  # bool
    701: pa.float64(),  # float8
    700: pa.float64(),  # float4
}
INTEGER_TYPES = {"smallint", "integer", "bigint"}


@contextmanager
def _wrapped_errors(conn: Connection, statement: str) -> Iterator[Any]:
    """A cursor of ``conn``'s own DB-API connection whose errors surface as SQLAlchemy's (``OperationalError``
    for a cut connection, ``IntegrityError``...), the same as a statement run through ``conn`` raises."""
    dbapi = conn.dialect.loaded_dbapi
    raw = conn.connection.dbapi_connection
    try:
        yield raw.cursor()
    except dbapi.Error as exc:
        # a lost connection is invalidated, as SQLAlchemy does for its own statements: the transaction's
        # rollback then does not run on the dead connection and replace this error with a follow-up one
        lost = conn.dialect.is_disconnect(exc, raw, None)
        if lost:
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            statement, None, exc, dbapi.Error, connection_invalidated=lost, dialect=conn.dialect
        ) from exc


def column_types(conn: Connection, table: str) -> dict[str, str]:
    """Each column of ``table`` (resolved on the search path) with its SQL type name, in table order."""
    with _wrapped_errors(conn, "column types") as cursor:
        cursor.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = CAST(%s AS regclass) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (table,),
        )
        return dict(cursor.fetchall())


def _csv_ready(frame: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    """``frame`` with integer columns that pandas holds as floats (because of NULLs) as nullable integers,
    so the CSV says ``3``, not ``3.0`` (which an integer column refuses)."""
    out = frame
    for name, sql_type in types.items():
        if sql_type in INTEGER_TYPES and out[name].dtype.kind == "f":
            out = out.assign(**{name: out[name].astype("Int64")})
    return out


def csv_bytes(frame: pd.DataFrame) -> pa.Buffer:
    """``frame`` as headerless CSV; raises ``pa.ArrowInvalid``/``pa.ArrowTypeError`` for a column that has no
    Arrow type (mixed Python objects)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(include_header=False))
    return sink.getvalue()


@dataclass(frozen=True)
class CopyPayload:
    columns: list[str]
    data: pa.Buffer
    rows: int


def copy_payload(frame: pd.DataFrame, types: dict[str, str]) -> CopyPayload:
    """``frame``'s columns that ``types`` has, as the CSV ``copy_in`` sends. Touches no connection; raises
    ``pa.ArrowInvalid``/``pa.ArrowTypeError`` for a column without an Arrow type (mixed Python objects) and
    ``TypeError`` for a non-whole float in an integer column: the caller then inserts another way."""
    cols = [c for c in types if c in frame.columns]
    return CopyPayload(cols, csv_bytes(_csv_ready(frame[cols], {c: types[c] for c in cols})), len(frame))


def copy_in(conn: Connection, table: str, payload: CopyPayload) -> int:
    """Append ``payload`` to ``table`` with ``COPY FROM STDIN``."""
    statement = f"COPY {table} ({', '.join(payload.columns)}) FROM STDIN WITH (FORMAT csv, ENCODING 'UTF8')"
    with _wrapped_errors(conn, statement) as cursor:
        cursor.copy_expert(statement, pa.BufferReader(payload.data), size=COPY_READ_BYTES)  # no copy of the CSV
    return payload.rows


def arrow_schema(conn: Connection, sql: str) -> pa.Schema | None:
    """The Arrow schema of the rows of ``sql`` (a bound statement), or None when a column's type has no
    exact Arrow parse (see ``ARROW_TYPE_BY_OID``). Costs a plan, not a run (``LIMIT 0``)."""
    with _wrapped_errors(conn, sql) as cursor:
        cursor.execute(f"SELECT * FROM ({_subquery(sql)}\n) AS q LIMIT 0")
    fields = []
    for column in cursor.description:
        arrow_type = ARROW_TYPE_BY_OID.get(column.type_code)
        if arrow_type is None:
            return None
        fields.append(pa.field(column.name, arrow_type))
    return pa.schema(fields)


def _subquery(sql: str) -> str:
    """``sql`` as the body of a subquery: without a trailing ``;`` (a line comment at its end is closed by
    the newline the callers put before the closing parenthesis)."""
    return sql.rstrip().rstrip(";")


def copy_out(conn: Connection, sql: str, schema: pa.Schema) -> pa.Table:
    """The rows of ``sql`` (a bound statement) read with ``COPY (...) TO STDOUT`` as an Arrow table."""
    buffer = io.BytesIO()
    with _wrapped_errors(conn, sql) as cursor:
        statement = f"COPY ({_subquery(sql)}\n) TO STDOUT WITH (FORMAT csv, ENCODING 'UTF8')"
        cursor.copy_expert(statement, buffer, size=COPY_READ_BYTES)
    if not buffer.tell():
        return schema.empty_table()
    buffer.seek(0)
    return pacsv.read_csv(
        buffer,
        read_options=pacsv.ReadOptions(column_names=schema.names, use_threads=True, block_size=1 << 24),
        # a one-column row holding NULL is an empty line: a row, not a line to skip
        parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types=schema,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
        ),
    )


def bound_sql(conn: Connection, sql: str, params: dict[str, Any]) -> str:
    """``sql`` (``:name`` parameters) with its parameters bound client-side by the driver, as COPY needs."""
    compiled = sa.text(sql).compile(dialect=conn.dialect)
    with _wrapped_errors(conn, sql) as cursor:
        statement = cursor.mogrify(compiled.string, compiled.construct_params(params))
    return statement.decode() if isinstance(statement, bytes) else statement
