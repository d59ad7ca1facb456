"""Deadline rules and marts on hand-built staging rows, with hand-computed expected values.

Runs the same SQL on DuckDB and on PostgreSQL. Reference date = last snapshot = 2026-10-31.
Deadlines: report <= T0 + 42 days, analysis <= report + 14 days.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from eviction_prevention import warehouse
from eviction_prevention.publish import rebuild

D = dt.date.fromisoformat
SNAPSHOTS = ["2026-08-31", "2026-09-30", "2026-10-31"]

# case label -> (t0, reported, snapshots listing it, analysis sent or None)
CASES = {
    "A": ("2026-08-01", "2026-09-12", SNAPSHOTS, "2026-09-26"),  # report day 42, analysis day 14
    "B": ("2026-08-01", "2026-09-13", SNAPSHOTS, "2026-09-28"),  # report day 43, analysis day 15
    "C": ("2026-09-01", None, SNAPSHOTS[1:], None),  # deadline 2026-10-13 passed
    "D": ("2026-10-01", None, SNAPSHOTS[2:], None),  # deadline 2026-11-12 still ahead
    "E": ("2026-08-20", None, SNAPSHOTS[:1], None),  # gone on 2026-09-30, before its deadline 2026-10-01
    "F": ("2026-10-01", "2026-10-25", SNAPSHOTS[2:], None),  # analysis due 2026-11-08
    "G": ("2026-09-15", "2026-10-01", SNAPSHOTS[1:], None),  # analysis due 2026-10-15: overdue
    "H": ("2026-08-31", "2026-10-12", SNAPSHOTS[:], None),  # month-end T0: day 42 is 2026-10-12
}


def _file_rows(label: str, snapshot: str, file_id: str) -> dict:
    t0, reported, _, _ = CASES[label]
    visible = reported if reported and D(reported) <= D(snapshot) else None
    return {
        "partner": "corpa",
        "file_id": file_id,
        "source_row": ord(label),
        "snapshot_date": D(snapshot),
        "record_key": f"tenancy-{label}",
        "city": "Dordrecht",
        "monthly_rent": 600.0,
        "arrears_amount": 900.0,
        "t0_date": D(t0),
        "reported_date": D(visible) if visible else None,
        "children": label == "B",
        "row_warnings": 0,
    }


def _ledger(file_id: str, snapshot: str, seq: int, partner: str = "corpa", kind: str = "corporation") -> dict:
    return {
        "partner": partner,
        "file_id": file_id,
        "kind": kind,
        "file_name": f"{file_id}.csv",
        "size_bytes": 1,
        "delivery_seq": seq,
        "snapshot_date": D(snapshot),
        "status": "loaded",
        "rows_total": 1,
        "rows_loaded": 1,
        "rows_rejected": 0,
        "warnings": 0,
        "reasons": None,
    }


def _build(url: str) -> None:
    snapshot_rows, ledger = [], []
    for seq, snapshot in enumerate(SNAPSHOTS, start=1):
        file_id = f"f{seq}"
        ledger.append(_ledger(file_id, snapshot, seq))
        snapshot_rows += [_file_rows(lbl, snapshot, file_id) for lbl, c in CASES.items() if snapshot in c[2]]
    # An earlier delivery of the last snapshot, replaced by file f3: its extra case must not count.
    ledger.append(_ledger("f0", SNAPSHOTS[2], 0))
    CASES_Z = _file_rows("A", SNAPSHOTS[2], "f0") | {"record_key": "tenancy-Z", "t0_date": D("2026-10-02")}
    snapshot_rows.append(CASES_Z)
    st_rows = [
        {
            "partner": "st",
            "file_id": "s1",
            "source_row": ord(lbl),
            "export_date": D("2026-10-31"),
            "record_key": f"case-{lbl}",
            "team": "Sociaal Wijkteam Dordrecht",
            "reporter": "corpa",
            "report_received_date": D(c[1]),
            "analysis_sent_date": D(c[3]) if c[3] else None,
            "trajectory": lbl == "A",
            "current_rent_paid": lbl == "A",
            "row_warnings": 0,
        }
        for lbl, c in CASES.items()
        if c[1]
    ]
    ledger.append(_ledger("s1", "2026-10-31", 1, partner="st", kind="social_team"))
    links = pd.DataFrame(
        [
            {
                "link_type": "case_social_team",
                "left_key": f"corpa:tenancy-{lbl}:{c[2][0]}",  # case id: the episode's first snapshot
                "right_key": f"st:case-{lbl}",
                "match_probability": 0.99,
            }
            for lbl, c in CASES.items()
            if c[1]
        ]
    )
    with warehouse.connect(url) as conn:
        warehouse.ensure_schema(conn)
        warehouse.insert_rows(conn, "meta_file_ledger", pd.DataFrame(ledger))
        warehouse.insert_rows(conn, "stg_arrears_snapshots", pd.DataFrame(snapshot_rows))
        warehouse.insert_rows(conn, "stg_social_team_cases", pd.DataFrame(st_rows))
        rebuild.seed_reference_data(conn)
        rebuild.seed_calendar(conn)
        rebuild.set_reference_date(conn)
        warehouse.build_models(conn, "before_linkage")
        warehouse.insert_rows(conn, "int_links", links)
        warehouse.build_models(conn, "after_linkage")


def _referrals(url: str) -> dict[str, dict]:
    with warehouse.connect(url) as conn:
        frame = warehouse.read_frame(conn, "SELECT * FROM mart_referrals")
    return {row["case_id"].split(":")[1].removeprefix("tenancy-"): row for row in frame.to_dict("records")}


def test_deadline_states(warehouse_url: str) -> None:
    _build(warehouse_url)
    rows = _referrals(warehouse_url)
    assert sorted(rows) == sorted(CASES)  # the superseded delivery's case Z is gone
    expected = {
        "A": ("met", "met", 42, 14),
        "B": ("missed", "missed", 43, 15),
        "C": ("open_overdue", "not_applicable", None, None),
        "D": ("open_in_time", "not_applicable", None, None),
        "E": ("not_required", "not_applicable", None, None),
        "F": ("met", "open_in_time", 24, None),
        "G": ("met", "open_overdue", 16, None),
        "H": ("met", "open_overdue", 42, None),
    }
    for label, (report_state, analysis_state, days_report, days_analysis) in expected.items():
        row = rows[label]
        assert (row["report_state"], row["analysis_state"]) == (report_state, analysis_state), label
        assert (None if pd.isna(row["days_to_report"]) else int(row["days_to_report"])) == days_report, label
        assert (None if pd.isna(row["days_to_analysis"]) else int(row["days_to_analysis"])) == days_analysis, label
    assert warehouse.as_date(rows["H"]["report_deadline"]) == D("2026-10-12")
    assert warehouse.as_date(rows["E"]["closed_date"]) == D("2026-09-30")
    assert rows["A"]["team"] == "Sociaal Wijkteam Dordrecht"
    assert rows["C"]["team"] == "Sociaal Wijkteam Dordrecht"  # unlinked: the municipality's team


def test_compliance_monthly(warehouse_url: str) -> None:
    _build(warehouse_url)
    with warehouse.connect(warehouse_url) as conn:
        frame = warehouse.read_frame(
            conn,
            "SELECT CAST(month AS VARCHAR) AS month, cases, reported_on_time, reported_late, report_overdue_now, "
            "analysed_on_time, analysed_late, analysis_overdue_now, median_days_to_report, trajectories "
            "FROM mart_compliance_monthly ORDER BY month",
        )
    got = [tuple(int(v) for v in row[1:8]) for row in frame.itertuples(index=False)]
    assert list(frame["month"]) == ["2026-08-01", "2026-09-01", "2026-10-01"]
    # Aug: A, B, E, H; Sep: C, G; Oct: D, F
    assert got == [(4, 2, 1, 0, 1, 1, 1), (2, 1, 0, 1, 0, 0, 1), (2, 1, 0, 0, 0, 0, 0)]
    assert float(frame["median_days_to_report"][0]) == pytest.approx(42.0)  # days 42, 43, 42
    assert int(frame["trajectories"][0]) == 1


def test_rebuild_is_idempotent(warehouse_url: str) -> None:
    _build(warehouse_url)
    first = _referrals(warehouse_url)
    with warehouse.connect(warehouse_url) as conn:
        warehouse.build_models(conn, "before_linkage")
        warehouse.build_models(conn, "after_linkage")
    assert _referrals(warehouse_url).keys() == first.keys()
    assert {k: v["report_state"] for k, v in _referrals(warehouse_url).items()} == {
        k: v["report_state"] for k, v in first.items()
    }
