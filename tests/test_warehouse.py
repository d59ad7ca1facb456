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
