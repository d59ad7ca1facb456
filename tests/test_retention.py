"""Retention: expired landing files, staging rows and linkage data are deleted; current data is untouched."""

from __future__ import annotations

import datetime as dt
import logging
import os

import pandas as pd
import pytest
import sqlalchemy as sa
from eviction_prevention import settings, warehouse
from eviction_prevention.operate import retention

TODAY = dt.date(2026, 11, 2)
OLD = TODAY - dt.timedelta(days=731)  # past the 730 days of config/retention.yaml
KEPT = TODAY - dt.timedelta(days=730)  # exactly 730 days: still kept
RECENT = TODAY - dt.timedelta(days=10)

# record_key per test record: the old tenant only in an expired snapshot, the moving tenant in an expired
# and a current one, the current tenant, a social-team case and an SDD record.
OLD_TENANT, MOVER, CURRENT, OLD_CASE, SDD = "a" * 32, "b" * 32, "c" * 32, "d" * 32, "e" * 32


def staging_rows(table: str, date_column: str, rows: list[tuple[str, dt.date]], partner: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "partner": partner,
                "file_id": f"f{i}",
                "source_row": i + 2,
                date_column: day,
                "record_key": key,
                "row_warnings": 0,
            }
            for i, (key, day) in enumerate(rows)
        ]
    )


def seed(url: str) -> None:
    with warehouse.connect(url) as conn:
        warehouse.ensure_schema(conn)
        warehouse.insert_rows(
            conn,
            "stg_arrears_snapshots",
            staging_rows(
                "stg_arrears_snapshots",
                "snapshot_date",
                [(OLD_TENANT, OLD), (MOVER, OLD), (MOVER, RECENT), (CURRENT, KEPT)],
                "trivire",
            ),
        )
        warehouse.insert_rows(
            conn,
            "stg_social_team_cases",
            staging_rows("stg_social_team_cases", "export_date", [(OLD_CASE, OLD)], "sociale_teams"),
        )
        warehouse.insert_rows(
            conn, "stg_sdd_records", staging_rows("stg_sdd_records", "export_date", [(SDD, RECENT)], "sdd")
        )
        persons = pd.DataFrame(
            [
                (f"trivire:{OLD_TENANT}", "corporation", "p1", OLD),
                (f"trivire:{MOVER}", "corporation", "p2", OLD),
                (f"trivire:{CURRENT}", "corporation", "p3", KEPT),
                (f"sociale_teams:{OLD_CASE}", "social_team", "p1", OLD),
                (f"sdd:{SDD}", "sdd", "p2", RECENT),
            ],
            columns=["record_id", "source_kind", "person_id", "first_seen"],
        )
        warehouse.insert_rows(conn, "int_persons", persons)
        links = pd.DataFrame(
            [
                ("case_social_team", f"trivire:{OLD_TENANT}:2024-09-01", f"sociale_teams:{OLD_CASE}", 0.99),
                ("case_social_team", f"trivire:{MOVER}:2026-08-01", f"sociale_teams:{OLD_CASE}", 0.97),
                ("tenancy_sdd", f"trivire:{MOVER}", f"sdd:{SDD}", 0.95),
                ("tenancy_sdd", f"trivire:{OLD_TENANT}", f"sdd:{SDD}", 0.93),
            ],
            columns=["link_type", "left_key", "right_key", "match_probability"],
        )
        warehouse.insert_rows(conn, "int_links", links)


def rows(url: str, sql: str) -> list[tuple]:
    with warehouse.connect(url) as conn:
        return sorted(tuple(r) for r in conn.execute(sa.text(sql)))


def test_expired_staging_and_linkage_rows_are_deleted_current_kept(warehouse_url, caplog) -> None:
    seed(warehouse_url)
    with caplog.at_level(logging.INFO, logger="eviction_prevention.operate.retention"):
        counts = retention.purge_warehouse(warehouse_url, today=TODAY)

    assert counts == {
        "stg_arrears_snapshots": 2,
        "stg_social_team_cases": 1,
        "stg_sdd_records": 0,
        "int_persons": 2,
        "int_links": 3,
        "partner_references": 0,  # rows staged here by hand have no sealed reference (test_identity_vault has)
    }
    assert rows(warehouse_url, "SELECT record_key, snapshot_date FROM stg_arrears_snapshots") == [
        (MOVER, RECENT),
        (CURRENT, KEPT),
    ]
    assert rows(warehouse_url, "SELECT record_key FROM stg_social_team_cases") == []
    assert rows(warehouse_url, "SELECT record_key FROM stg_sdd_records") == [(SDD,)]
    assert rows(warehouse_url, "SELECT record_id, person_id FROM int_persons") == [
        (f"sdd:{SDD}", "p2"),
        (f"trivire:{MOVER}", "p2"),
        (f"trivire:{CURRENT}", "p3"),
    ]
    assert rows(warehouse_url, "SELECT link_type, left_key, right_key FROM int_links") == [
        ("tenancy_sdd", f"trivire:{MOVER}", f"sdd:{SDD}")
    ]
    # Logs carry counts, never keys.
    text = caplog.text
    assert "stg_arrears_snapshots: 2 row(s)" in text and "int_links: 3 row(s)" in text
    assert not any(key in text for key in (OLD_TENANT, MOVER, CURRENT, OLD_CASE, SDD))

    assert retention.staging_changed(counts)  # the marts must be rebuilt: the task emits its Asset events

    # A second run finds nothing more to delete, and changes nothing to publish.
    again = retention.purge_warehouse(warehouse_url, today=TODAY)
    assert set(again.values()) == {0} and not retention.staging_changed(again)


def test_a_purge_that_deletes_nothing_skips_and_starts_no_publish(duckdb_url, monkeypatch) -> None:
    from airflow.sdk.exceptions import AirflowSkipException
    from eviction_prevention.orchestration import tasks

    monkeypatch.setenv("EVICTION_PREVENTION_WAREHOUSE_URL", duckdb_url)
    with pytest.raises(AirflowSkipException, match="niets verwijderd"):
        tasks.purge_warehouse()  # an empty warehouse: nothing past retention


def test_landing_files_past_the_partners_retention_are_deleted() -> None:
    now = dt.datetime(2026, 11, 2, 3, 0, tzinfo=dt.UTC)
    folder = settings.landing_dir() / "trivire"  # landing_retention_days: 400 in config/partners.yaml
    folder.mkdir(parents=True)
    expired, current = folder / ("1" * 64 + ".csv"), folder / ("2" * 64 + ".csv")
    for path, age_days in ((expired, 401), (current, 399)):
        path.write_bytes(b"Contractnummer;Achternaam\n")
        stamp = (now - dt.timedelta(days=age_days)).timestamp()
        os.utime(path, (stamp, stamp))

    counts = retention.purge_landing_files(now)

    assert counts["trivire"] == 1
    assert sum(counts.values()) == 1
    assert not expired.exists()
    assert current.read_bytes() == b"Contractnummer;Achternaam\n"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"staging": {"stg_arrears_snapshots": {"date_column": "t0_date", "days": 5}}}, "unknown staging"),
        ({"staging": {"stg_sdd_records; DROP TABLE x": {"date_column": "export_date", "days": 5}}}, "unknown"),
        ({"staging": {"stg_sdd_records": {"date_column": "export_date", "days": 0}}, "linkage": {}}, "positive"),
        ({"staging": {}, "linkage": {"follows": "never"}}, "linkage.follows"),
    ],
)
def test_policy_refuses_what_it_cannot_apply(raw: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        retention.parse_policy(raw)


def test_shipped_policy() -> None:
    assert {(r.table, r.date_column, r.days) for r in retention.load_policy()} == {
        ("stg_arrears_snapshots", "snapshot_date", 730),
        ("stg_social_team_cases", "export_date", 730),
        ("stg_sdd_records", "export_date", 730),
    }
