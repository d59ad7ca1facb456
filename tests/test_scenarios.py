"""Covenant scenarios from small hand-built partner files, with hand-computed expected marts.

Files are rendered in the partners' own layouts (trivire: ;-separated cp1252 with Dutch dates, woonbron:
UTF-8 with BOM), loaded through the intake (parse, validate, pseudonymise, load) and published. 2024 is a
leap year; the reference date is the last snapshot, 2024-05-31. Ascension Day is Thursday 2024-05-09, and
Friday 2024-05-10 is equated with it by decree (Algemene termijnenwet art. 3.3).
Runs on DuckDB and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from eviction_prevention import warehouse
from eviction_prevention.intake import files as intake_files
from eviction_prevention.intake import ingest
from eviction_prevention.link import persons as sources_persons
from eviction_prevention.operate import retention
from eviction_prevention.partners import get_partner
from eviction_prevention.publish import rebuild

from devtools.evaluation import record_key
from devtools.synthetic import write_csv
from tests.conftest import schema_url, scratch_schema

D = dt.date.fromisoformat
SNAPSHOTS = ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31"]

PEOPLE = {
    # label: (initials, prefix, surname, birth date, street, number, postcode, city)
    "L": ("A.", "", "Bakker", "1980-03-01", "Voorstraat", 10, "3311 AA", "Dordrecht"),
    "M": ("B.", "van", "Dijk", "1975-06-15", "Kerkstraat", 4, "3311 BB", "Dordrecht"),
    "A": ("C.J.", "de", "Vries", "1990-12-24", "Singel", 101, "3311 CC", "Dordrecht"),
    "B": ("D.", "", "Çelik", "1985-02-02", "Spuiweg", 7, "3311 DD", "Dordrecht"),
    "H": ("E.", "", "Jansen", "1968-09-09", "Markt", 3, "3331 EE", "Zwijndrecht"),
    "K": ("F.", "in 't", "Veld", "1972-07-07", "Dorpsstraat", 55, "3331 FF", "Zwijndrecht"),
    "R": ("G.", "", "Hoëtmer", "1959-11-30", "Kade", 18, "3311 GG", "Dordrecht"),
    "X": ("H.M.", "van der", "Berg", "1993-04-04", "Laan", 2, "3311 HH", "Dordrecht"),
    "Z": ("J.", "", "Smits", "1981-01-01", "Boulevard", 9, "3311 JJ", "Dordrecht"),  # social team only
}

# (label, corporation, t0, reported, judgment, snapshots listing the episode)
EPISODES = [
    ("L", "trivire", "2024-02-29", "2024-04-11", None, SNAPSHOTS[1:]),  # leap day T0, report on day 42
    ("M", "trivire", "2024-01-31", "2024-03-14", None, SNAPSHOTS[0:4]),  # month end T0, day 43; cleared by May
    ("A", "trivire", "2024-03-01", "2024-04-12", None, SNAPSHOTS[2:]),  # day 42; analysis day 14
    ("B", "trivire", "2024-03-01", "2024-04-13", None, SNAPSHOTS[2:]),  # day 43; analysis day 15
    ("H", "trivire", "2024-04-01", "2024-05-08", "2024-04-25", SNAPSHOTS[3:]),  # threatened: contact May 15 ok
    ("K", "trivire", "2024-04-01", "2024-05-08", "2024-04-25", SNAPSHOTS[3:]),  # threatened: contact May 16 late
    ("R", "trivire", "2024-01-15", "2024-02-10", None, SNAPSHOTS[0:2]),  # first episode, cleared in March
    ("R", "trivire", "2024-04-10", None, None, SNAPSHOTS[3:]),  # reopened: not reported, overdue on May 22
    ("X", "trivire", "2024-01-10", "2024-02-05", None, SNAPSHOTS[0:2]),  # moves out of Trivire ...
    ("X", "woonbron", "2024-04-05", "2024-05-01", None, SNAPSHOTS[3:]),  # ... and into a Woonbron home
]

# Social-team cases in the complete export of 2024-05-31:
# (label, reporting corporation or None for a self-report, received, analysis sent, first contact offered)
SOCIAL_TEAM = [
    ("L", "trivire", "2024-04-11", "2024-04-20", "2024-04-20"),
    ("M", "trivire", "2024-03-14", "2024-03-20", "2024-03-20"),
    ("A", "trivire", "2024-04-12", "2024-04-26", "2024-04-26"),
    ("B", "trivire", "2024-04-13", "2024-04-28", "2024-04-28"),
    ("H", "trivire", "2024-05-08", None, "2024-05-15"),
    ("K", "trivire", "2024-05-08", None, "2024-05-16"),
    ("R", "trivire", "2024-02-10", "2024-02-20", "2024-02-20"),
    ("X", "trivire", "2024-02-05", "2024-02-12", "2024-02-12"),
    ("X", "woonbron", "2024-05-01", "2024-05-10", "2024-05-10"),
    ("Z", None, "2024-03-01", "2024-03-10", "2024-03-10"),  # matches no arrears case
]


def person_fields(label: str) -> dict:
    initials, prefix, surname, birth, street, number, postcode, city = PEOPLE[label]
    return {
        "initials": initials,
        "prefix": prefix or None,
        "surname": surname,
        "birth_date": D(birth),
        "street": street,
        "house_number": number,
        "postcode": postcode,
        "city": city,
    }


def arrears_rows(corporation: str, snapshot: str) -> list[dict]:
    rows = []
    for label, corp, t0, reported, judgment, listed in EPISODES:
        if corp != corporation or snapshot not in listed:
            continue
        visible = reported if reported and D(reported) <= D(snapshot) else None
        rows.append(
            person_fields(label)
            | {
                "tenancy_ref": f"{corp[:3].upper()}-{label}",
                "monthly_rent": 600.0,
                "arrears_amount": 1250.0,
                "arrears_start_date": D(t0) - dt.timedelta(days=30),
                "t0_date": D(t0),
                "reported_date": D(visible) if visible else None,
                "objection": False,
                "children": False,
                "judgment_date": D(judgment) if judgment and D(judgment) <= D(snapshot) else None,
                "snapshot_date": D(snapshot),
            }
        )
    return rows


def social_team_rows(export_date: str, with_analyses: bool) -> list[dict]:
    """The export as of ``export_date``; an early export has no analyses registered yet."""
    rows = []
    for label, corp, received, analysis, contact in SOCIAL_TEAM:
        if D(received) > D(export_date):
            continue
        city = PEOPLE[label][7]
        rows.append(
            person_fields(label)
            | {
                "team": "Sociaal Wijkteam Dordrecht" if city == "Dordrecht" else "Sociaal Team Zwijndrecht",
                "case_ref": f"ST-{label}-{corp or 'self'}",
                "reporter": corp,
                "report_received_date": D(received),
                "analysis_sent_date": D(analysis) if analysis and with_analyses else None,
                "first_contact_date": D(contact) if contact and D(contact) <= D(export_date) else None,
                "export_date": D(export_date),
            }
        )
    return rows


def land(tmp: Path, partner_code: str, name: str, rows: list[dict]) -> intake_files.FetchedFile:
    partner = get_partner(partner_code)
    path = tmp / partner_code / name
    path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(path, partner, rows)
    return intake_files.FetchedFile(partner_code, name, intake_files.sha256_file(path), str(path), path.stat().st_size)


def load(files: list[intake_files.FetchedFile], url: str, key: bytes) -> list[dict]:
    outcomes = []
    for f in files:
        outcomes += ingest.ingest_files(get_partner(f.partner), [f], key, url)
    return outcomes


def load_scenario(tmp_path: Path, url: str, key: bytes, exports: list[tuple[str, bool]]) -> None:
    files = []
    # Trivire delivers April's snapshot late, after May's; Woonbron delivers only April and May.
    for snapshot in ["2024-01-31", "2024-02-29", "2024-03-31", "2024-05-31", "2024-04-30"]:
        files.append(land(tmp_path, "trivire", f"huurachterstand_{snapshot}.csv", arrears_rows("trivire", snapshot)))
    for snapshot in SNAPSHOTS[3:]:
        files.append(land(tmp_path, "woonbron", f"arrears_{snapshot}.csv", arrears_rows("woonbron", snapshot)))
    for export_date, with_analyses in exports:
        rows = social_team_rows(export_date, with_analyses)
        files.append(land(tmp_path, "sociale_teams", f"casussen_{export_date}.csv", rows))
    outcomes = load(files, url, key)
    assert [o["status"] for o in outcomes] == ["loaded"] * len(files), [o["reasons"] for o in outcomes]
    rebuild.publish(url, key=key)


def referrals(url: str, key: bytes) -> dict[str, dict]:
    """mart_referrals keyed by '<label><episode no>' (R1, R2, X1, X2, others just the label)."""
    keys = {}
    for label, corp, _t0, _reported, _judgment, listed in EPISODES:
        case_id = f"{corp}:{record_key(key, 'corporation', f'{corp[:3].upper()}-{label}')}:{listed[0]}"
        keys[case_id] = (
            label if label not in ("R", "X") else f"{label}{1 + sum(k.startswith(label) for k in keys.values())}"
        )
    with warehouse.connect(url) as conn:
        frame = warehouse.read_frame(conn, "SELECT * FROM mart_referrals")
    return {keys[row["case_id"]]: row for row in frame.to_dict("records")}


def test_referral_deadlines(tmp_path, warehouse_url, key) -> None:
    load_scenario(tmp_path, warehouse_url, key, [("2024-05-31", True)])
    rows = referrals(warehouse_url, key)
    assert sorted(rows) == ["A", "B", "H", "K", "L", "M", "R1", "R2", "X1", "X2"]
    expected = {  # report state, days to report, analysis state, first contact state
        "L": ("met", 42, "met", "met"),
        "M": ("missed", 43, "met", "met"),
        "A": ("met", 42, "met", "met"),
        "B": ("missed", 43, "missed", "met"),
        "H": ("met", 37, "open_overdue", "met"),
        "K": ("met", 37, "open_overdue", "missed"),
        "R1": ("met", 26, "met", "met"),
        "R2": ("open_overdue", None, "not_applicable", "not_applicable"),
        "X1": ("met", 26, "met", "met"),
        "X2": ("met", 26, "met", "met"),
    }
    got = {
        label: (
            row["report_state"],
            None if pd.isna(row["days_to_report"]) else int(row["days_to_report"]),
            row["analysis_state"],
            row["first_contact_state"],
        )
        for label, row in rows.items()
    }
    assert got == expected
    assert warehouse.as_date(rows["L"]["report_deadline"]) == D("2024-04-11")  # leap day + 42
    assert warehouse.as_date(rows["M"]["report_deadline"]) == D("2024-03-13")  # month end + 42
    # The judgment was shown in the April snapshot, before the report: 3 working days. Ascension Day (Thu 9
    # May) and the Friday after it (equated by decree, Algemene termijnenwet art. 3.3) are no working days:
    # 3 working days after Wed 8 May is Wed 15 May.
    assert warehouse.as_date(rows["H"]["first_contact_deadline"]) == D("2024-05-15")
    assert bool(rows["H"]["eviction_threatens"]) is True
    # not threatened: 28 days, 2024-05-09, is Ascension Day and the Friday after it is equated by decree: the
    # statutory term runs to Monday 2024-05-13 (Algemene termijnenwet art. 1)
    assert warehouse.as_date(rows["L"]["first_contact_deadline"]) == D("2024-05-13")
    # The reopened case is a new case that points to the first episode, which was cleared.
    assert rows["R2"]["previous_case_id"] == rows["R1"]["case_id"]
    assert (warehouse.as_date(rows["R1"]["closed_date"]), rows["R1"]["close_reason"]) == (D("2024-03-31"), "cleared")
    # The tenant who moved has a closed Trivire case and an open Woonbron case.
    assert (rows["X1"]["corporation"], warehouse.as_date(rows["X1"]["closed_date"])) == ("trivire", D("2024-03-31"))
    assert rows["X2"]["corporation"] == "woonbron" and pd.isna(rows["X2"]["closed_date"])
    assert {label for label, row in rows.items() if pd.isna(row["social_team_case_id"])} == {"R2"}


def test_compliance_worklist_and_evictions(tmp_path, warehouse_url, key) -> None:
    load_scenario(tmp_path, warehouse_url, key, [("2024-05-31", True)])
    with warehouse.connect(warehouse_url) as conn:
        compliance = warehouse.read_frame(
            conn,
            "SELECT corporation, municipality, CAST(month AS VARCHAR) AS month, cases, reported_on_time, "
            "reported_late, report_overdue_now, analysed_on_time, analysed_late, analysis_overdue_now, "
            "first_contact_on_time, first_contact_late FROM mart_compliance_monthly "
            "ORDER BY corporation, municipality, month",
        )
        worklist = warehouse.read_frame(
            conn,
            "SELECT deadline, responsible_kind, responsible_partner, days_overdue FROM mart_worklist_overdue "
            "ORDER BY deadline, responsible_partner",
        )
        evictions = warehouse.read_frame(conn, "SELECT * FROM mart_evictions")
    assert [tuple(r[:3]) + tuple(int(v) for v in r[3:]) for r in compliance.itertuples(index=False)] == [
        ("trivire", "Dordrecht", "2024-01-01", 3, 2, 1, 0, 3, 0, 0, 3, 0),  # M, R1, X1
        ("trivire", "Dordrecht", "2024-02-01", 1, 1, 0, 0, 1, 0, 0, 1, 0),  # L
        ("trivire", "Dordrecht", "2024-03-01", 2, 1, 1, 0, 1, 1, 0, 2, 0),  # A, B
        ("trivire", "Dordrecht", "2024-04-01", 1, 0, 0, 1, 0, 0, 0, 0, 0),  # R2
        ("trivire", "Zwijndrecht", "2024-04-01", 2, 2, 0, 0, 0, 0, 2, 1, 1),  # H, K
        ("woonbron", "Dordrecht", "2024-04-01", 1, 1, 0, 0, 1, 0, 0, 1, 0),  # X2
    ]
    assert [(*r[:3], int(r[3])) for r in worklist.itertuples(index=False)] == [
        ("analysis", "social_team", "Sociaal Team Zwijndrecht", 9),
        ("analysis", "social_team", "Sociaal Team Zwijndrecht", 9),
        ("report", "corporation", "trivire", 9),
    ]
    assert [
        (r.municipality, r.corporation, int(r.year), int(r.eviction_judgments), int(r.evictions_executed))
        for r in evictions.itertuples(index=False)
    ] == [("Zwijndrecht", "trivire", 2024, 2, 0)]


def test_late_social_team_export_updates_earlier_months(tmp_path, warehouse_url, key) -> None:
    load_scenario(tmp_path, warehouse_url, key, [("2024-05-08", False)])
    before = referrals(warehouse_url, key)
    assert (before["A"]["analysis_state"], before["B"]["analysis_state"]) == ("open_overdue", "open_overdue")
    later = land(tmp_path, "sociale_teams", "casussen_2024-05-31.csv", social_team_rows("2024-05-31", True))
    load([later], warehouse_url, key)
    rebuild.publish(warehouse_url)
    after = referrals(warehouse_url, key)
    assert (after["A"]["analysis_state"], after["B"]["analysis_state"]) == ("met", "missed")
    assert after["X2"]["analysis_state"] == "met"  # its case only arrived with the later export


def test_republishing_gives_identical_marts(tmp_path, warehouse_url, key) -> None:
    load_scenario(tmp_path, warehouse_url, key, [("2024-05-31", True)])
    first = mart_contents(warehouse_url)
    rebuild.publish(warehouse_url)
    assert mart_contents(warehouse_url) == first
    # int_links and int_persons have no key constraint: the linkage writes each key once
    links, persons = first["int_links"], first["int_persons"]
    assert len({row[:3] for row in links}) == len(links) == 9  # the nine reported cases (R2 was not reported)
    assert len({row[0] for row in persons}) == len(persons) == 19  # 9 tenancies (X at two corporations), 10 cases


def test_publish_drops_the_primary_keys_of_an_older_linkage_schema(tmp_path, warehouse_url, key) -> None:
    """A warehouse created when int_links and int_persons had primary keys gets the current definition."""
    with warehouse.connect(warehouse_url) as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE int_links (link_type VARCHAR NOT NULL, left_key VARCHAR NOT NULL, right_key VARCHAR "
                "NOT NULL, match_probability DOUBLE PRECISION NOT NULL, PRIMARY KEY (link_type, left_key, right_key))"
            )
        )
        conn.execute(
            sa.text(
                "CREATE TABLE int_persons (record_id VARCHAR NOT NULL PRIMARY KEY, source_kind VARCHAR NOT NULL, "
                "person_id VARCHAR NOT NULL)"
            )
        )
        conn.execute(sa.text("INSERT INTO int_persons VALUES ('trivire:gone', 'corporation', 'pOLD')"))
    assert primary_keys(warehouse_url) == ["int_links", "int_persons"]
    load_scenario(tmp_path, warehouse_url, key, [("2024-05-31", True)])
    assert primary_keys(warehouse_url) == []
    contents = mart_contents(warehouse_url)
    assert len(contents["int_links"]) == 9
    # an int_persons from before first_seen is read (no earlier dates) and recreated with the column
    with warehouse.connect(warehouse_url) as conn:
        assert warehouse.table_columns(conn, "int_persons") == ["record_id", "source_kind", "person_id", "first_seen"]
    assert len(contents["int_persons"]) == 19 and "pOLD" not in {row[2] for row in contents["int_persons"]}


def primary_keys(url: str) -> list[str]:
    with warehouse.connect(url) as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT table_name FROM information_schema.table_constraints WHERE constraint_type = "
                    "'PRIMARY KEY' AND table_name IN ('int_links', 'int_persons') AND table_schema = current_schema() "
                    "ORDER BY table_name"
                )
            ).scalars()
        )


def mart_contents(url: str) -> dict[str, list[tuple]]:
    contents = {}
    with warehouse.connect(url) as conn:
        for table in (
            "mart_referrals",
            "mart_compliance_monthly",
            "mart_worklist_overdue",
            "mart_evictions",
            "int_links",
            "int_persons",
        ):
            frame = warehouse.read_frame(conn, f"SELECT * FROM {table}")
            contents[table] = sorted(tuple(str(v) for v in row) for row in frame.itertuples(index=False))
    return contents


# ---------------------------------------------------------------------------------- person ids and batching

# Social-team exports of the person-id tests: an early one (cases received by March) and the complete one.
EXPORTS = [("2024-03-31", False), ("2024-05-31", True)]


def scenario_files(tmp: Path) -> dict[str, intake_files.FetchedFile]:
    """Every delivery of the scenario by a short name ('trivire 2024-01-31', 'st 2024-05-31')."""
    files = {
        f"trivire {s}": land(tmp, "trivire", f"huurachterstand_{s}.csv", arrears_rows("trivire", s)) for s in SNAPSHOTS
    }
    files |= {
        f"woonbron {s}": land(tmp, "woonbron", f"arrears_{s}.csv", arrears_rows("woonbron", s)) for s in SNAPSHOTS[3:]
    }
    files |= {
        f"st {e}": land(tmp, "sociale_teams", f"casussen_{e}.csv", social_team_rows(e, analyses))
        for e, analyses in EXPORTS
    }
    return files


def publish_in_batches(
    url: str, key: bytes, files: dict[str, intake_files.FetchedFile], batches: list[list[str]]
) -> None:
    """Load each batch of deliveries, then publish: a publish runs on the data of the batches so far."""
    assert sorted(n for batch in batches for n in batch) == sorted(files)  # every delivery, once
    for batch in batches:
        outcomes = load([files[name] for name in batch], url, key)
        assert [o["status"] for o in outcomes] == ["loaded"] * len(batch), [o["reasons"] for o in outcomes]
        rebuild.publish(url, key=key)


def person_ids(url: str) -> dict[str, list[tuple]]:
    with warehouse.connect(url) as conn:
        return {
            "int_persons": [
                tuple(r)
                for r in conn.execute(sa.text("SELECT record_id, person_id FROM int_persons ORDER BY record_id"))
            ],
            "mart_referrals": [
                tuple(r)
                for r in conn.execute(sa.text("SELECT case_id, person_id FROM mart_referrals ORDER BY case_id"))
            ],
        }


@contextmanager
def another_warehouse(like: str, path: Path) -> Iterator[str]:
    """A fresh warehouse on the engine of ``like``: a DuckDB file at ``path`` or a scratch PostgreSQL schema."""
    if like.startswith("duckdb"):
        yield f"duckdb:///{path}"
    else:
        with scratch_schema() as schema:
            yield schema_url(schema)


def tenancy_id(key: bytes, corporation: str, label: str) -> str:
    return f"{corporation}:{record_key(key, 'corporation', f'{corporation[:3].upper()}-{label}')}"


def case_id(key: bytes, label: str, reporter: str | None) -> str:
    reference = f"ST-{label}-{reporter or 'self'}"
    return f"sociale_teams:{record_key(key, 'social_team', reference)}"


CLEAN = [
    [
        *(f"trivire {s}" for s in ["2024-01-31", "2024-02-29", "2024-03-31", "2024-05-31", "2024-04-30"]),
        *(f"woonbron {s}" for s in SNAPSHOTS[3:]),
        *(f"st {e}" for e, _ in EXPORTS),
    ]
]
BATCHINGS = {
    # the newer deliveries first: woonbron's and the complete export, then trivire's history and the early export
    "newest first": [
        ["woonbron 2024-04-30", "woonbron 2024-05-31", "st 2024-05-31"],
        [*(f"trivire {s}" for s in SNAPSHOTS), "st 2024-03-31"],
    ],
    # in time, three publishes
    "in time": [
        ["trivire 2024-01-31", "trivire 2024-02-29", "st 2024-03-31"],
        ["trivire 2024-03-31", "trivire 2024-05-31", "woonbron 2024-05-31"],
        ["trivire 2024-04-30", "woonbron 2024-04-30", "st 2024-05-31"],
    ],
}


def test_person_ids_do_not_depend_on_how_deliveries_were_published(tmp_path, warehouse_url, key) -> None:
    """(Issue 14) The same deliveries published in one batch or in several, in other orders: the same
    int_persons and the same mart_referrals.person_id."""
    files = scenario_files(tmp_path / "files")
    publish_in_batches(warehouse_url, key, files, CLEAN)
    clean = person_ids(warehouse_url)
    # X's records are one person, anchored on the record seen first: the Trivire tenancy (January), not the
    # record with the smallest id (a social-team case)
    x_records = [
        tenancy_id(key, "trivire", "X"),
        tenancy_id(key, "woonbron", "X"),
        case_id(key, "X", "trivire"),
        case_id(key, "X", "woonbron"),
    ]
    persons = dict(clean["int_persons"])
    assert {persons[r] for r in x_records} == {sources_persons.anchor_person_id(tenancy_id(key, "trivire", "X"))}
    assert min(x_records) == case_id(key, "X", "trivire")
    assert len(clean["mart_referrals"]) == 10 and all(pid for _, pid in clean["mart_referrals"])
    with ExitStack() as stack:
        for n, (name, batches) in enumerate(BATCHINGS.items()):
            url = stack.enter_context(another_warehouse(warehouse_url, tmp_path / f"batched{n}.duckdb"))
            publish_in_batches(url, key, files, batches)
            assert person_ids(url) == clean, name


def test_person_ids_survive_retention_of_the_anchors_oldest_rows(tmp_path, warehouse_url, key) -> None:
    """Retention deletes the arrears rows before 2024-04-15: tenant M's tenancy now looks first seen on
    2024-04-30, after M's social-team case (export of 2024-03-31); the stored first_seen keeps the tenancy
    the anchor, so M's person id stays. Only persons whose anchor record is gone altogether get the id of
    their next anchor (X: the Trivire tenancy had rows in January and February only)."""
    publish_in_batches(warehouse_url, key, scenario_files(tmp_path / "files"), CLEAN)
    before = dict(person_ids(warehouse_url)["int_persons"])
    m_tenancy, m_case = tenancy_id(key, "trivire", "M"), case_id(key, "M", "trivire")
    assert before[m_tenancy] == before[m_case] == sources_persons.anchor_person_id(m_tenancy)

    rule = retention.StagingRule("stg_arrears_snapshots", "snapshot_date", 1)
    counts = retention.purge_warehouse(warehouse_url, today=D("2024-04-16"), rules=[rule])
    assert counts["int_persons"] == 1  # X's Trivire tenancy
    rebuild.publish(warehouse_url)

    after = dict(person_ids(warehouse_url)["int_persons"])
    with warehouse.connect(warehouse_url) as conn:
        seen = dict(conn.execute(sa.text("SELECT record_id, first_seen FROM int_persons")).all())
        staged = conn.execute(
            sa.text("SELECT min(snapshot_date) FROM stg_arrears_snapshots WHERE partner || ':' || record_key = :r"),
            {"r": m_tenancy},
        ).scalar_one()
    assert warehouse.as_date(staged) == D("2024-04-30") > warehouse.as_date(seen[m_case]) == D("2024-03-31")
    assert warehouse.as_date(seen[m_tenancy]) == D("2024-01-31")
    assert after[m_tenancy] == after[m_case] == before[m_tenancy]
    anchors_kept = {pid for pid in before.values() if any(sources_persons.anchor_person_id(r) == pid for r in after)}
    assert {r: pid for r, pid in after.items() if before[r] in anchors_kept} == {
        r: pid for r, pid in before.items() if r in after and pid in anchors_kept
    }
    assert set(after) == set(before) - {tenancy_id(key, "trivire", "X")}
