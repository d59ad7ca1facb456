"""Deadline rules and marts on hand-built staging rows, with hand-computed expected values.

Runs the same SQL on DuckDB and on PostgreSQL. Reference date = last snapshot = 2026-10-31.
Deadlines: report <= T0 + 42 days, analysis <= report + 14 days.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa
from eviction_prevention import warehouse
from eviction_prevention.publish import dbt_runner, rebuild, write_audit_publish

from tests.conftest import TEST_KEY

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
    _publish_with_links(url, links)


def _publish_with_links(url: str, links: pd.DataFrame, build: rebuild.Build | None = None) -> None:
    """Every publish step (after ``prepare``, unless ``build`` is one already prepared), with the given links in
    place of the linkage's."""
    build = build or rebuild.prepare(url, key=TEST_KEY.encode())
    rebuild.build_models(url, build, "intermediate")
    with warehouse.connect(url) as conn:
        warehouse.recreate_table(conn, "int_links")
        warehouse.insert_rows(conn, "int_links", links)
    rebuild.build_models(url, build, "marts")
    rebuild.publish_build(url, build)


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
        links = warehouse.read_frame(conn, "SELECT * FROM int_links")
    _publish_with_links(warehouse_url, links)
    assert _referrals(warehouse_url).keys() == first.keys()
    assert {k: v["report_state"] for k, v in _referrals(warehouse_url).items()} == {
        k: v["report_state"] for k, v in first.items()
    }


def _published(url: str) -> tuple[str, dict[str, str]]:
    """The published build schema and a checksum of every mart the analysts see."""
    from tests.faults import mart_checksums

    with warehouse.connect(url) as conn:
        build = write_audit_publish.published_build(conn)
    return build, mart_checksums(url)


def test_a_failed_audit_leaves_the_previous_build_visible(warehouse_url: str) -> None:
    """Write-audit-publish: a build whose tests fail is never shown; the next good run publishes."""
    _build(warehouse_url)
    schema = "main" if warehouse_url.startswith("duckdb") else warehouse_url.rsplit("%3D", 1)[1]
    before = _published(warehouse_url)
    assert before[0] == f"{schema}_build_a"
    with warehouse.connect(warehouse_url) as conn:
        links = warehouse.read_frame(conn, "SELECT * FROM int_links")
    # a linkage fault: case A linked to two social-team cases, so mart_referrals lists case A twice
    doubled = pd.concat([links, links[links["left_key"].str.contains("tenancy-A")].assign(right_key="st:case-B")])
    # the audit names the test and the rule it broke, with the offending rows (one extra row of case A)
    with pytest.raises(dbt_runner.DbtError, match=r"test column_rules_mart_referrals: fail \(unique case_id: 1\)"):
        _publish_with_links(warehouse_url, doubled)
    assert _published(warehouse_url) == before  # the same build, the same rows
    assert _referrals(warehouse_url)["A"]["report_state"] == "met"
    _publish_with_links(warehouse_url, links)
    after = _published(warehouse_url)
    assert after == (f"{schema}_build_b", before[1])
    with warehouse.connect(warehouse_url) as conn:
        assert write_audit_publish.build_schemas(conn, schema) == [f"{schema}_build_b"]  # the replaced one dropped


def test_column_rules_name_each_broken_rule_with_its_rows(warehouse_url: str) -> None:
    """The one-scan test of a table's column rules (sql/tests/generic/column_rules.sql) keeps dbt's meanings:
    unique and accepted_values let NULLs pass, not_null catches them. Its failure names each broken rule with
    its offending rows, in the order the rules are declared (_marts.yml: unique, not_null, accepted_values)."""
    _build(warehouse_url)
    with warehouse.connect(warehouse_url) as conn:
        build = write_audit_publish.published_build(conn)
        schema = warehouse.current_schema(conn)
        table = f'"{build}".mart_referrals'
        changes = [  # (statement, the case it changes)
            (f"INSERT INTO {table} SELECT * FROM {table} WHERE case_id LIKE :case", "A"),
            (f"UPDATE {table} SET report_state = NULL WHERE case_id LIKE :case", "B"),
            (f"UPDATE {table} SET t0_source = 'guessed' WHERE case_id LIKE :case", "F"),
            (f"UPDATE {table} SET rent_paid_source = 'rumour' WHERE case_id LIKE :case", "D"),
            (f"UPDATE {table} SET rent_paid_source = 'rumour' WHERE case_id LIKE :case", "E"),
            (f"UPDATE {table} SET close_reason = NULL WHERE case_id LIKE :case", "%"),  # NULL: no unlisted value
        ]
        for statement, label in changes:
            conn.execute(sa.text(statement), {"case": f"corpa:tenancy-{label}:%"})
    variables = {"warehouse_schema": schema, "build_schema": build}
    expected = (
        "test column_rules_mart_referrals: fail (unique case_id: 1, not_null report_state: 1, "
        "accepted_values t0_source: 1, accepted_values rent_paid_source: 2)"
    )
    with pytest.raises(dbt_runner.DbtError) as failed:
        dbt_runner.invoke(warehouse_url, schema, "test", ["--select", "column_rules_mart_referrals"], variables)
    assert str(failed.value) == f"dbt test failed: {expected}"


def test_overlapping_runs_never_publish_one_build_together(warehouse_url: str) -> None:
    """A run whose build a later run took over (a publish by hand during a scheduled one) stops before it
    publishes; the later run publishes; what analysts saw in between is the previous build, whole."""
    _build(warehouse_url)
    before = _published(warehouse_url)
    with warehouse.connect(warehouse_url) as conn:
        links = warehouse.read_frame(conn, "SELECT * FROM int_links")
    earlier = rebuild.prepare(warehouse_url, key=TEST_KEY.encode())
    rebuild.build_models(warehouse_url, earlier, "intermediate")
    later = rebuild.prepare(warehouse_url, key=TEST_KEY.encode())
    assert later.build_schema == earlier.build_schema and later.run_id != earlier.run_id  # the same free slot
    for superseded_step in (
        lambda: rebuild.build_models(warehouse_url, earlier, "marts"),
        lambda: rebuild.link(warehouse_url, earlier, key=TEST_KEY.encode()),
        lambda: rebuild.publish_build(warehouse_url, earlier),
    ):
        with pytest.raises(write_audit_publish.BuildSuperseded, match="taken over by a later publish run"):
            superseded_step()
    assert _published(warehouse_url) == before
    _publish_with_links(warehouse_url, links, later)
    assert _published(warehouse_url) == (later.build_schema, before[1])
    assert later.build_schema != before[0]


def test_a_step_rerun_after_publishing_writes_nothing(warehouse_url: str) -> None:
    """Rerunning a step of a published run (an Airflow task cleared after the run) leaves the live build as it
    is: the same schema, the same rows, the same counts returned."""
    _build(warehouse_url)
    build = rebuild.prepare(warehouse_url, key=TEST_KEY.encode())
    counts = rebuild.build_models(warehouse_url, build, "intermediate")
    links = rebuild.link(warehouse_url, build, key=TEST_KEY.encode())
    marts = rebuild.build_models(warehouse_url, build, "marts")
    rebuild.publish_build(warehouse_url, build)
    published = _published(warehouse_url)
    assert published[0] == build.build_schema
    assert rebuild.build_models(warehouse_url, build, "marts") == marts
    assert rebuild.link(warehouse_url, build, key=TEST_KEY.encode()) == links
    assert rebuild.build_models(warehouse_url, build, "intermediate") == counts
    rebuild.publish_build(warehouse_url, build)
    assert _published(warehouse_url) == published
    assert marts["mart_referrals"] == 8  # cases A-H (Z came only in the replaced delivery)


def test_each_data_test_runs_in_one_step_and_the_unit_tests_pass(warehouse_url: str) -> None:
    """On an empty warehouse: the two dbt steps of a publish run every data test of the project once between
    them; then the dbt unit tests (sql/models/marts/_unit_tests.yml, expected values worked out by hand) pass
    on both warehouses (they need the models' relations: the build comes first)."""
    build = rebuild.prepare(warehouse_url, key=TEST_KEY.encode())
    run = {
        layer: dbt_runner.invoke(warehouse_url, build.schema, "build", rebuild.SELECTIONS[layer], build.dbt_vars())
        for layer in ("intermediate", "marts")
    }
    tests = {layer: [n.name for n in nodes if n.kind == "test"] for layer, nodes in run.items()}
    declared = [n.name for n in dbt_runner.manifest().nodes.values() if n.resource_type == "test"]
    assert sorted(tests["intermediate"] + tests["marts"]) == sorted(declared)
    # a column_rules test per table with column rules (3 sources, 4 intermediate models, 5 marts) and the 6
    # relationships (2 between intermediate models, 4 from the marts)
    assert len(declared) == 18 and not set(tests["intermediate"]) & set(tests["marts"])
    assert len(tests["marts"]) == 11  # the marts' 5 and their 4 relationships, the linkage tables' 2
    assert {n.kind for n in run["marts"]} == {"model", "test"}  # a publish run leaves the unit tests out
    nodes = dbt_runner.invoke(warehouse_url, build.schema, "test", ["--select", "test_type:unit"], build.dbt_vars())
    assert sorted((n.name, n.status) for n in nodes) == [
        ("analysis_and_first_contact_deadlines", "pass"),
        ("report_deadline_states", "pass"),
    ]


def test_switch_statements() -> None:
    statements = write_audit_publish.switch_statements(
        "public", "public_build_b", ["int_x", "mart_y"], {"int_x": "BASE TABLE", "mart_y": "VIEW"}, postgres=True
    )
    assert statements == [
        'DROP TABLE IF EXISTS "public"."int_x" CASCADE',
        'CREATE VIEW "public"."int_x" WITH (security_invoker = true) AS SELECT * FROM "public_build_b"."int_x"',
        'DROP VIEW IF EXISTS "public"."mart_y" CASCADE',
        'CREATE VIEW "public"."mart_y" WITH (security_invoker = true) AS SELECT * FROM "public_build_b"."mart_y"',
    ]
    assert write_audit_publish.next_build_schema("main", None) == "main_build_a"
    assert write_audit_publish.next_build_schema("main", "main_build_a") == "main_build_b"
    assert write_audit_publish.next_build_schema("main", "main_build_b") == "main_build_a"
