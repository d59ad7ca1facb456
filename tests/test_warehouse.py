"""warehouse helpers on both engines: streamed inserts (a writer thread) and tables recreated from sql/schema."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa
from eviction_prevention import warehouse


def _persons(start: int, count: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_id": [f"corp:{i:05d}" for i in range(start, start + count)],
            "source_kind": "corporation",
            "person_id": [f"p{i % 7}" for i in range(start, start + count)],
            "first_seen": dt.date(2026, 1, 1),
        }
    )


def _record_ids(url: str) -> list[str]:
    with warehouse.connect(url) as conn:
        return list(conn.execute(sa.text("SELECT record_id FROM int_persons ORDER BY record_id")).scalars())


@pytest.fixture
def url(warehouse_url: str) -> str:
    with warehouse.connect(warehouse_url) as conn:
        warehouse.ensure_schema(conn)
    return warehouse_url


def test_insert_frames_inserts_every_frame(url: str) -> None:
    produced: list[int] = []

    def frames() -> Iterator[pd.DataFrame]:
        for n in range(5):
            produced.append(n)
            yield _persons(n * 300, 300)

    with warehouse.connect(url) as conn:
        assert warehouse.insert_frames(conn, "int_persons", frames()) == 1500
    assert produced == [0, 1, 2, 3, 4]
    assert _record_ids(url) == [f"corp:{i:05d}" for i in range(1500)]


def test_an_insert_error_stops_the_producer_and_rolls_back(url: str) -> None:
    produced: list[int] = []

    def frames() -> Iterator[pd.DataFrame]:
        yield _persons(0, 10)
        yield _persons(10, 10).assign(person_id=None)  # NOT NULL violated: the writer thread fails
        for n in range(2, 50):
            produced.append(n)
            yield _persons(n * 10, 10)

    with pytest.raises(Exception, match=r"(?i)not.null"), warehouse.connect(url) as conn:
        warehouse.insert_frames(conn, "int_persons", frames())  # the database's own error, not a follow-up one
    assert len(produced) <= 2  # the producer stops within two frames of the failing one
    assert _record_ids(url) == []


def test_a_producer_error_is_raised_and_rolls_back(url: str) -> None:
    def frames() -> Iterator[pd.DataFrame]:
        yield _persons(0, 10)
        raise ValueError("pseudonymisation failed")

    with pytest.raises(ValueError, match="pseudonymisation failed"), warehouse.connect(url) as conn:
        warehouse.insert_frames(conn, "int_persons", frames())
    assert _record_ids(url) == []


def test_recreate_table_empties_it_with_the_current_definition(url: str) -> None:
    with warehouse.connect(url) as conn:
        warehouse.insert_rows(conn, "int_persons", _persons(0, 3))
        conn.execute(sa.text("DROP TABLE int_links"))
        conn.execute(sa.text("CREATE TABLE int_links (link_type VARCHAR, obsolete DATE)"))
        conn.execute(sa.text("INSERT INTO int_links VALUES ('x', :d)"), {"d": dt.date(2026, 1, 1)})
        warehouse.recreate_table(conn, "int_persons")
        warehouse.recreate_table(conn, "int_links")
        assert warehouse.table_columns(conn, "int_links") == ["link_type", "left_key", "right_key", "match_probability"]
        assert conn.execute(sa.text("SELECT count(*) FROM int_links")).scalar_one() == 0
    assert _record_ids(url) == []


def test_recreate_table_refuses_a_table_without_a_definition(url: str) -> None:
    with pytest.raises(KeyError, match="no CREATE TABLE for mart_referrals"), warehouse.connect(url) as conn:
        warehouse.recreate_table(conn, "mart_referrals")


def test_staging_rows_round_trip_with_nulls_empty_strings_and_types(url: str) -> None:
    """insert_rows and read_frame (COPY on PostgreSQL, Arrow on DuckDB) keep NULL apart from '' and give the
    DB-API's types: str, int64 (float64 with NULLs), datetime.date, bool."""
    frame = pd.DataFrame(
        {
            "partner": ["c1", "c1", "c1"],
            "file_id": ["f", "f", "f"],
            "source_row": [1, 2, 3],
            "snapshot_date": [dt.date(2026, 1, 5), dt.date(2026, 1, 5), dt.date(2026, 2, 2)],
            "record_key": ["k,1", 'k"2', "k\n3"],
            "city": ["Dordrecht", "", None],
            "arrears_amount": [12.5, None, 0.0],
            "t0_date": [dt.date(2025, 12, 1), None, None],
            "children": [True, False, None],
            "row_warnings": [0.0, 2.0, None],  # a float column for an integer one
        }
    ).assign(row_warnings=lambda f: f["row_warnings"].fillna(1))
    with warehouse.connect(url) as conn:
        assert warehouse.insert_rows(conn, "stg_arrears_snapshots", frame) == 3
        out = warehouse.read_frame(
            conn,
            "SELECT record_key, city, source_row, row_warnings, snapshot_date, t0_date, children, judgment_date "
            "FROM stg_arrears_snapshots WHERE partner = :p ORDER BY source_row",
            p="c1",
        )
        empty = warehouse.read_frame(conn, "SELECT record_key FROM stg_arrears_snapshots WHERE partner = 'x'")
    assert out["record_key"].tolist() == ["k,1", 'k"2', "k\n3"]
    assert out["city"].tolist()[:2] == ["Dordrecht", ""] and pd.isna(out["city"].iloc[2])
    assert out["source_row"].tolist() == [1, 2, 3] and out["source_row"].dtype == "int64"
    assert out["row_warnings"].tolist() == [0, 2, 1] and out["row_warnings"].dtype == "int64"
    assert out["snapshot_date"].tolist() == [dt.date(2026, 1, 5), dt.date(2026, 1, 5), dt.date(2026, 2, 2)]
    assert out["t0_date"].iloc[0] == dt.date(2025, 12, 1) and out["t0_date"].iloc[1:].isna().all()
    assert out["children"].tolist()[:2] == [True, False] and pd.isna(out["children"].iloc[2])
    assert out["judgment_date"].tolist() == [None, None, None]
    assert empty.empty and list(empty.columns) == ["record_key"]


def test_read_frame_keeps_a_one_column_null_row_and_reads_sql_ending_in_a_comment(url: str) -> None:
    """A one-column COPY row holding NULL is an empty line; it is still a row. SQL ending in ';' or a line
    comment reads on both warehouses."""
    frame = pd.DataFrame(
        {"partner": ["c2"] * 3, "file_id": ["f"] * 3, "source_row": [1, 2, 3], "row_warnings": [0, 0, 0],
         "snapshot_date": [dt.date(2026, 1, 5)] * 3, "record_key": ["a", "b", "c"], "city": ["Gorinchem", None, ""]}
    )  # fmt: skip
    with warehouse.connect(url) as conn:
        warehouse.insert_rows(conn, "stg_arrears_snapshots", frame)
        cities = warehouse.read_frame(
            conn, "SELECT city FROM stg_arrears_snapshots WHERE partner = 'c2' ORDER BY source_row -- by row\n;"
        )
    assert len(cities) == 3
    assert cities["city"].iloc[0] == "Gorinchem" and pd.isna(cities["city"].iloc[1]) and cities["city"].iloc[2] == ""


def test_non_ascii_text_round_trips_whatever_the_client_encoding(url: str) -> None:
    """COPY reads and writes in the connection's client encoding; the pipeline's CSV is UTF-8 and says so."""
    frame = pd.DataFrame(
        {"partner": ["c3"], "file_id": ["f"], "source_row": [1], "row_warnings": [0],
         "snapshot_date": [dt.date(2026, 1, 5)], "record_key": ["k"], "city": ["'s-Gravendeel Ë€"]}
    )  # fmt: skip
    with warehouse.connect(url) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL client_encoding = 'WIN1252'"))
        warehouse.insert_rows(conn, "stg_arrears_snapshots", frame)
        out = warehouse.read_frame(conn, "SELECT city FROM stg_arrears_snapshots WHERE partner = 'c3'")
    with warehouse.connect(url) as conn:
        stored = conn.execute(sa.text("SELECT city FROM stg_arrears_snapshots WHERE partner = 'c3'")).scalar_one()
    assert out["city"].tolist() == ["'s-Gravendeel Ë€"] and stored == "'s-Gravendeel Ë€"


def test_a_non_whole_float_for_an_integer_column_is_stored_as_before(url: str) -> None:
    """pandas may hand an integer column as floats; a non-whole one is not a COPY-able integer, so it goes the
    executemany way, where PostgreSQL rounds it (and DuckDB too), as before COPY."""
    frame = pd.DataFrame(
        {"partner": ["c4"], "file_id": ["f"], "source_row": [1], "row_warnings": [1.5],
         "snapshot_date": [dt.date(2026, 1, 5)], "record_key": ["k"]}
    )  # fmt: skip
    with warehouse.connect(url) as conn:
        assert warehouse.insert_rows(conn, "stg_arrears_snapshots", frame) == 1
        stored = conn.execute(sa.text("SELECT row_warnings FROM stg_arrears_snapshots WHERE partner = 'c4'"))
        assert stored.scalar_one() == 2
