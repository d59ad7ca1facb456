"""Publish: build intermediate models, link people across sources, build the marts.

Everything is rebuilt from the staging tables on each run, so a rerun gives the same warehouse.
"""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eviction_prevention import linkage, settings, warehouse

log = logging.getLogger(__name__)

PERSON_KEYS = [
    "pk_surname", "pk_surname_1", "pk_surname_2", "pk_surname_phon", "pk_prefix", "pk_initials",
    "pk_initial_1", "pk_birth_date", "pk_birth_year", "pk_birth_md", "pk_birth_dm_swapped",
    "pk_postcode", "pk_address", "pk_street_house", "pk_bsn", "bf_surname",
]
# A social-team case belongs to an arrears case when it was received this close to the corporation's report.
REPORT_MATCH_WINDOW_DAYS = 31
LINK_THRESHOLD = 0.9
KEY_LIST = ", ".join(PERSON_KEYS)


def seed_reference_data(conn: Connection) -> None:
    rows = pd.DataFrame(
        [
            {
                "municipality": name,
                "social_team": entry["social_team"],
                "no_eviction_families_with_children": bool(
                    (entry.get("policy") or {}).get("no_eviction_families_with_children", False)
                ),
            }
            for name, entry in settings.municipalities().items()
        ]
    )
    conn.execute(sa.text("DELETE FROM ref_municipalities"))
    warehouse.insert_rows(conn, "ref_municipalities", rows)


def set_reference_date(conn: Connection) -> dt.date | None:
    """Deadline states are computed as of the override date, or else the latest snapshot date."""
    override = settings.reference_date_override()
    if override:
        reference = dt.date.fromisoformat(override)
    else:
        reference = warehouse.as_date(conn.execute(sa.text("SELECT max(snapshot_date) FROM int_arrears_snapshots")).scalar())
    conn.execute(sa.text("DELETE FROM meta_parameters WHERE name = 'reference_date'"))
    conn.execute(
        sa.text("INSERT INTO meta_parameters (name, value_date) VALUES ('reference_date', :d)"), {"d": reference}
    )
    return reference


def tenancies(conn: Connection) -> pd.DataFrame:
    """The tenant of each tenancy as last delivered, with person pseudonyms."""
    return warehouse.read_frame(
        conn,
        f"""
        WITH ranked AS (
            SELECT s.*, row_number() OVER (PARTITION BY partner, record_key ORDER BY snapshot_date DESC) AS rn
            FROM int_arrears_snapshots AS s
        )
        SELECT partner || ':' || record_key AS id, {KEY_LIST}
        FROM ranked WHERE rn = 1 ORDER BY id
        """,
    )


def social_team_cases(conn: Connection) -> pd.DataFrame:
    return warehouse.read_frame(
        conn,
        f"SELECT social_team_case_id AS id, reporter, report_received_date, {KEY_LIST} "
        "FROM int_social_team_cases ORDER BY id",
    )


def sdd_records(conn: Connection) -> pd.DataFrame:
    return warehouse.read_frame(conn, f"SELECT sdd_record_id AS id, {KEY_LIST} FROM int_sdd_records ORDER BY id")


def arrears_cases(conn: Connection) -> pd.DataFrame:
    return warehouse.read_frame(
        conn,
        "SELECT case_id, corporation, corporation || ':' || tenancy_key AS tenancy_id, reported_date "
        "FROM int_arrears_cases ORDER BY case_id",
    )


def assign_cases(person_pairs: pd.DataFrame, cases: pd.DataFrame, st_cases: pd.DataFrame) -> pd.DataFrame:
    """From tenancy <-> social-team-case person links to arrears case <-> social-team case, one to one.

    A social-team case can only answer a reported arrears case: received within the window around the
    corporation's report date, and reported by that corporation when the social team records a reporter.
    Greedy by probability, then by closeness of the dates.
    """
    columns = ["left_key", "right_key", "match_probability"]
    if person_pairs.empty or cases.empty:
        return pd.DataFrame(columns=columns)
    pairs = person_pairs.merge(cases[cases["reported_date"].notna()], left_on="left_id", right_on="tenancy_id")
    pairs = pairs.merge(st_cases[["id", "reporter", "report_received_date"]], left_on="right_id", right_on="id")
    reported = pd.to_datetime(pairs["reported_date"])
    received = pd.to_datetime(pairs["report_received_date"])
    pairs["gap"] = (received - reported).dt.days.abs()
    reporter_ok = pairs["reporter"].isna() | (pairs["reporter"] == pairs["corporation"])
    pairs = pairs[(pairs["gap"] <= REPORT_MATCH_WINDOW_DAYS) & reporter_ok]
    pairs = pairs.sort_values(["match_probability", "gap", "case_id", "right_id"], ascending=[False, True, True, True])
    used_cases: set[str] = set()
    used_st: set[str] = set()
    chosen = []
    for case_id, st_id, prob in pairs[["case_id", "right_id", "match_probability"]].itertuples(index=False):
        if case_id in used_cases or st_id in used_st:
            continue
        used_cases.add(case_id)
        used_st.add(st_id)
        chosen.append((case_id, st_id, float(prob)))
    return pd.DataFrame(chosen, columns=columns)


def _as_links(pairs: pd.DataFrame, link_type: str) -> pd.DataFrame:
    out = pairs.rename(columns={"left_id": "left_key", "right_id": "right_key"})[
        ["left_key", "right_key", "match_probability"]
    ].copy()
    out.insert(0, "link_type", link_type)
    return out


def link_sources(conn: Connection) -> dict[str, int]:
    """Write int_links: case -> social-team case, tenancy -> SDD record, social-team case -> SDD record."""
    tenants, st_cases, sdd = tenancies(conn), social_team_cases(conn), sdd_records(conn)
    person_cols = ["id", *PERSON_KEYS]
    tenant_st = linkage.link(tenants[person_cols], st_cases[person_cols], left_id="id", right_id="id",
                             one_to_one=False, threshold=LINK_THRESHOLD)
    case_st = assign_cases(tenant_st, arrears_cases(conn), st_cases)
    case_st.insert(0, "link_type", "case_social_team")
    tenant_sdd = linkage.link(tenants[person_cols], sdd[person_cols], left_id="id", right_id="id",
                              one_to_one=False, threshold=LINK_THRESHOLD)
    st_sdd = linkage.link(st_cases[person_cols], sdd[person_cols], left_id="id", right_id="id",
                          one_to_one=False, threshold=LINK_THRESHOLD)
    links = pd.concat(
        [case_st, _as_links(tenant_sdd, "tenancy_sdd"), _as_links(st_sdd, "social_team_sdd")], ignore_index=True
    )
    conn.execute(sa.text("DELETE FROM int_links"))
    warehouse.insert_rows(conn, "int_links", links)
    counts = links["link_type"].value_counts().to_dict()
    log.info("links written: %s", counts)
    return {str(k): int(v) for k, v in counts.items()}


def publish(url: str | None = None) -> dict[str, object]:
    """Rebuild intermediate models, links and marts in one transaction."""
    with warehouse.connect(url) as conn:
        warehouse.ensure_schema(conn)
        seed_reference_data(conn)
        counts: dict[str, object] = dict(warehouse.build_models(conn, "before_linkage"))
        reference = set_reference_date(conn)
        counts["links"] = link_sources(conn)
        counts.update(warehouse.build_models(conn, "after_linkage"))
        counts["reference_date"] = reference.isoformat() if reference else None
    return counts
