"""Link records across sources on pseudonyms and write ``int_links``.

Person-level scores come from :mod:`eviction_prevention.linkage` (Fellegi-Sunter); this module turns them
into the links the marts use: arrears case -> social-team case, tenancy -> SDD record, social-team case
-> SDD record.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eviction_prevention import linkage, warehouse
from eviction_prevention.pseudonymise import PERSON_PSEUDONYMS

log = logging.getLogger(__name__)

# Person pseudonyms every source has (phone and e-mail only come from corporations).
PERSON_KEYS = [c for c in PERSON_PSEUDONYMS if c not in ("pk_phone", "pk_email")]
# A social-team case belongs to an arrears case when it was received this close to the corporation's report.
REPORT_MATCH_WINDOW_DAYS = 31
LINK_THRESHOLD = 0.9
# Person-level candidates for case links: the report date then adds its evidence (see assign_cases).
CASE_CANDIDATE_THRESHOLD = 0.01
REPORT_DATE_CLOSE_DAYS = 3
# Assumed m-probabilities of the report-date levels: a social team registers a report within 3 days.
REPORT_DATE_M = {"close": 0.95, "window": 0.05}
KEY_LIST = ", ".join(PERSON_KEYS)


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


def _gap_days(reported: pd.Series, received: pd.Series) -> pd.Series:
    return (pd.to_datetime(received) - pd.to_datetime(reported)).dt.days.abs()


def report_date_u(cases: pd.DataFrame, st_cases: pd.DataFrame) -> dict[str, float]:
    """u-probabilities of the report-date comparison levels, estimated from the data (no ground truth).

    u = share of all pairs (reported arrears case, social-team case of the same reporter) whose received
    date lies within REPORT_DATE_CLOSE_DAYS (level "close") or within the window (level "window").
    """
    reported = cases[cases["reported_date"].notna()]
    counts = {"close": 0, "window": 0}
    total = 0
    for corporation, group in reported.groupby("corporation"):
        received = st_cases.loc[
            st_cases["reporter"].isna() | (st_cases["reporter"] == corporation), "report_received_date"
        ].dropna()
        days = np.sort(pd.to_datetime(received).to_numpy().astype("datetime64[D]").astype(np.int64))
        case_days = pd.to_datetime(group["reported_date"]).to_numpy().astype("datetime64[D]").astype(np.int64)
        total += len(case_days) * len(days)
        for width, level in ((REPORT_DATE_CLOSE_DAYS, "close"), (REPORT_MATCH_WINDOW_DAYS, "window")):
            inside = np.searchsorted(days, case_days + width, side="right") - np.searchsorted(days, case_days - width)
            counts[level] += int(inside.sum())
    counts["window"] -= counts["close"]
    return {level: max(n, 1) / max(total, 1) for level, n in counts.items()}


def assign_cases(person_pairs: pd.DataFrame, cases: pd.DataFrame, st_cases: pd.DataFrame) -> pd.DataFrame:
    """From tenancy <-> social-team-case person links to arrears case <-> social-team case, one to one.

    A social-team case can only answer a reported arrears case of the same reporter (when the social team
    records one) received within the window around the report date. The person-level probability is
    updated (Fellegi-Sunter, odds x likelihood ratio) with the report-date agreement: m is assumed
    (REPORT_DATE_M), u is estimated from the data. Then greedy one-to-one by probability, then date gap.
    """
    columns = ["left_key", "right_key", "match_probability"]
    if person_pairs.empty or cases.empty:
        return pd.DataFrame(columns=columns)
    pairs = person_pairs.merge(cases[cases["reported_date"].notna()], left_on="left_id", right_on="tenancy_id")
    pairs = pairs.merge(st_cases[["id", "reporter", "report_received_date"]], left_on="right_id", right_on="id")
    pairs["gap"] = _gap_days(pairs["reported_date"], pairs["report_received_date"])
    reporter_ok = pairs["reporter"].isna() | (pairs["reporter"] == pairs["corporation"])
    pairs = pairs[(pairs["gap"] <= REPORT_MATCH_WINDOW_DAYS) & reporter_ok].copy()
    u = report_date_u(cases, st_cases)
    level = np.where(pairs["gap"] <= REPORT_DATE_CLOSE_DAYS, "close", "window")
    ratio = np.array([REPORT_DATE_M[lv] / u[lv] for lv in level])
    p = pairs["match_probability"].clip(upper=1 - 1e-12).to_numpy()
    pairs["match_probability"] = 1 / (1 + (1 - p) / (p * ratio))
    pairs = pairs[pairs["match_probability"] >= LINK_THRESHOLD]
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
    tenant_st = linkage.link(
        tenants[person_cols],
        st_cases[person_cols],
        left_id="id",
        right_id="id",
        one_to_one=False,
        threshold=CASE_CANDIDATE_THRESHOLD,
    )
    case_st = assign_cases(tenant_st, arrears_cases(conn), st_cases)
    case_st.insert(0, "link_type", "case_social_team")
    tenant_sdd = linkage.link(
        tenants[person_cols], sdd[person_cols], left_id="id", right_id="id", one_to_one=False, threshold=LINK_THRESHOLD
    )
    st_sdd = linkage.link(
        st_cases[person_cols], sdd[person_cols], left_id="id", right_id="id", one_to_one=False, threshold=LINK_THRESHOLD
    )
    links = pd.concat(
        [case_st, _as_links(tenant_sdd, "tenancy_sdd"), _as_links(st_sdd, "social_team_sdd")], ignore_index=True
    )
    conn.execute(sa.text("DELETE FROM int_links"))
    warehouse.insert_rows(conn, "int_links", links)
    counts = links["link_type"].value_counts().to_dict()
    log.info("links written: %s", counts)
    return {str(k): int(v) for k, v in counts.items()}
