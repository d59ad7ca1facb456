"""Link records across sources on pseudonyms and write ``int_links`` and ``int_persons``.

Person-level scores come from :mod:`eviction_prevention.linkage` (Fellegi-Sunter); this module turns them
into the links the marts use: arrears case -> social-team case, tenancy -> SDD record, social-team case
-> SDD record.

Evidence from the third source counts too: a tenancy whose social-team case matches an SDD record (say
on the BSN pseudonym, which corporations do not have) is linked to that record with probability
p(tenancy~case) * p(case~SDD), a lower bound of the probability that both links hold; records of one
source that share a BSN pseudonym are one person. The link probability is the best of the direct and
these two-step paths, accepted at LINK_THRESHOLD.

``int_persons`` gives every tenancy, social-team case and SDD record a pseudonymous ``person_id``: the
connected components of the accepted links. An id, once given, is kept: a component that contains
records of an earlier run keeps the id most of those records had, so a person keeps their id when new
records arrive; a new component gets ``"p" + sha256(smallest member record id)[:20]``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable

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
# Direct links kept as steps of two-step paths (a path needs both steps; the product decides).
PATH_STEP_THRESHOLD = LINK_THRESHOLD
# Person links kept as candidates for two-step paths and person groups (those need LINK_THRESHOLD anyway).
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


def _pairs_within(days: np.ndarray, case_days: np.ndarray, width: int) -> int:
    """How many (case day, day) pairs lie at most ``width`` days apart (``days`` sorted)."""
    upper = np.searchsorted(days, case_days + width, "right")
    return int((upper - np.searchsorted(days, case_days - width)).sum())


def report_date_evidence(cases: pd.DataFrame, st_cases: pd.DataFrame) -> dict[str, float]:
    """Prior and u-probabilities for case links, estimated from the data (no ground truth).

    Candidate space: pairs (reported arrears case, social-team case of the same reporter) received within
    REPORT_MATCH_WINDOW_DAYS of the report. ``prior`` = reported cases / candidate pairs (each reported
    case has at most one social-team case); ``u_close`` / ``u_far`` = share of candidate pairs received
    within REPORT_DATE_CLOSE_DAYS / further away.
    """
    reported = cases[cases["reported_date"].notna()]
    close = window = 0
    for corporation, group in reported.groupby("corporation"):
        received = st_cases.loc[
            st_cases["reporter"].isna() | (st_cases["reporter"] == corporation), "report_received_date"
        ].dropna()
        days = np.sort(pd.to_datetime(received).to_numpy().astype("datetime64[D]").astype(np.int64))
        case_days = pd.to_datetime(group["reported_date"]).to_numpy().astype("datetime64[D]").astype(np.int64)

        close += _pairs_within(days, case_days, REPORT_DATE_CLOSE_DAYS)
        window += _pairs_within(days, case_days, REPORT_MATCH_WINDOW_DAYS)
    window = max(window, 1)
    return {
        "prior": min(0.5, max(len(reported), 1) / window),
        "u_close": max(close, 1) / window,
        "u_far": max(window - close, 1) / window,
    }


def assign_cases(person_pairs: pd.DataFrame, cases: pd.DataFrame, st_cases: pd.DataFrame) -> pd.DataFrame:
    """From scored tenancy <-> social-team-case pairs to arrears case <-> social-team case, one to one.

    A social-team case can only answer a reported arrears case of the same reporter (when the social team
    records one) received within the window around the report date. Within that candidate space
    (Fellegi-Sunter): posterior odds = prior odds x person Bayes factor (2 ** match_weight from the person
    model) x report-date likelihood ratio (m assumed in REPORT_DATE_M, u and prior estimated from the
    data by report_date_evidence). Then greedy one-to-one by probability, then date gap.
    """
    columns = ["left_key", "right_key", "match_probability"]
    if person_pairs.empty or cases.empty:
        return pd.DataFrame(columns=columns)
    pairs = person_pairs.merge(cases[cases["reported_date"].notna()], left_on="left_id", right_on="tenancy_id")
    pairs = pairs.merge(st_cases[["id", "reporter", "report_received_date"]], left_on="right_id", right_on="id")
    pairs["gap"] = _gap_days(pairs["reported_date"], pairs["report_received_date"])
    reporter_ok = pairs["reporter"].isna() | (pairs["reporter"] == pairs["corporation"])
    pairs = pairs[(pairs["gap"] <= REPORT_MATCH_WINDOW_DAYS) & reporter_ok].copy()
    evidence = report_date_evidence(cases, st_cases)
    close = pairs["gap"].to_numpy() <= REPORT_DATE_CLOSE_DAYS
    log2_date = np.where(
        close,
        np.log2(REPORT_DATE_M["close"] / evidence["u_close"]),
        np.log2(REPORT_DATE_M["window"] / evidence["u_far"]),
    )
    log2_odds = np.log2(evidence["prior"] / (1 - evidence["prior"])) + pairs["match_weight"].to_numpy() + log2_date
    pairs["match_probability"] = 1 / (1 + np.exp2(-np.clip(log2_odds, -60, 60)))
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


PAIR_COLUMNS = ["left_id", "right_id", "match_probability"]


def _pairs(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[PAIR_COLUMNS].reset_index(drop=True) if len(frame) else pd.DataFrame(columns=PAIR_COLUMNS)


def reverse(pairs: pd.DataFrame) -> pd.DataFrame:
    """The same links seen from the other side."""
    return _pairs(pairs.rename(columns={"left_id": "right_id", "right_id": "left_id"}))


def two_step(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """Paths left -(first)-> middle -(second)-> right, with probability the product of both steps."""
    if first.empty or second.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    path = first.merge(second, left_on="right_id", right_on="left_id", suffixes=("", "_2"))
    path["match_probability"] = path["match_probability"].astype(float) * path["match_probability_2"].astype(float)
    return _pairs(path[["left_id", "right_id_2", "match_probability"]].rename(columns={"right_id_2": "right_id"}))


def best_links(candidates: Iterable[pd.DataFrame], threshold: float) -> pd.DataFrame:
    """Per (left, right) the highest probability among the candidate sets, kept at ``threshold``."""
    frames = [_pairs(f) for f in candidates if len(f)]
    if not frames:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    pairs = pd.concat(frames, ignore_index=True)
    pairs["match_probability"] = pairs["match_probability"].astype(float)
    pairs = pairs.sort_values(["match_probability", "left_id", "right_id"], ascending=[False, True, True])
    pairs = pairs.drop_duplicates(["left_id", "right_id"])
    pairs = pairs[pairs["match_probability"] >= threshold]
    return _pairs(pairs.sort_values(["left_id", "right_id"], kind="mergesort"))


def same_bsn(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Pairs of records that carry the same BSN pseudonym (probability 1; a record is not paired with itself)."""
    lk = left.loc[left["pk_bsn"].notna(), ["id", "pk_bsn"]]
    rk = right.loc[right["pk_bsn"].notna(), ["id", "pk_bsn"]]
    pairs = lk.merge(rk, on="pk_bsn", suffixes=("_l", "_r"))
    pairs = pairs[pairs["id_l"] != pairs["id_r"]]
    return _pairs(pairs.rename(columns={"id_l": "left_id", "id_r": "right_id"}).assign(match_probability=1.0))


def _scored_pairs(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Every blocked pair with its person Bayes factor (match_weight, log2) and match probability."""
    cols = ["id", *PERSON_KEYS]
    scored = linkage.score_pairs(left[cols], right[cols], left_id="id", right_id="id", exclusive=False)
    return scored[["left_id", "right_id", "match_weight", "match_probability"]].drop_duplicates(["left_id", "right_id"])


def _person_links(left: pd.DataFrame, right: pd.DataFrame, threshold: float = CASE_CANDIDATE_THRESHOLD) -> pd.DataFrame:
    cols = ["id", *PERSON_KEYS]
    return linkage.link(left[cols], right[cols], left_id="id", right_id="id", one_to_one=False, threshold=threshold)


def components(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Connected components (union-find), each sorted, in order of their smallest member."""
    parent: dict[str, str] = {n: n for n in nodes}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        if a not in parent or b not in parent:
            continue
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for n in parent:
        groups.setdefault(find(n), []).append(n)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])


def new_person_id(members: list[str]) -> str:
    """A person id from the smallest member record id (record ids are pseudonyms, so is this)."""
    return "p" + hashlib.sha256(f"person\x1f{min(members)}".encode()).hexdigest()[:20]


def assign_person_ids(groups: list[list[str]], previous: dict[str, str]) -> dict[str, str]:
    """record id -> person id, keeping earlier ids.

    A group whose members had ids before takes the id most of them had (ties: the smallest id). When two
    groups claim one earlier id (a person was split), the larger group keeps it (ties: the group with the
    smallest member) and the other gets a new id."""
    claims: list[tuple[int, str, int, str]] = []  # (-support, first member, group index, id)
    for index, members in enumerate(groups):
        counts: dict[str, int] = {}
        for m in members:
            if m in previous:
                counts[previous[m]] = counts.get(previous[m], 0) + 1
        if counts:
            best = min(counts, key=lambda pid: (-counts[pid], pid))
            claims.append((-len(members), members[0], index, best))
    chosen: dict[int, str] = {}
    taken: set[str] = set()
    for _, _, index, pid in sorted(claims):
        if pid not in taken:
            chosen[index] = pid
            taken.add(pid)
    out: dict[str, str] = {}
    for index, members in enumerate(groups):
        pid = chosen.get(index) or new_person_id(members)
        for m in members:
            out[m] = pid
    return out


def person_table(records: dict[str, list[str]], links: list[pd.DataFrame], previous: dict[str, str]) -> pd.DataFrame:
    """int_persons rows: every record (``records``: source kind -> ids) with its person id."""
    kind_of = {rid: kind for kind, ids in records.items() for rid in ids}
    edges = [(a, b) for frame in links if len(frame) for a, b in zip(frame["left_id"], frame["right_id"], strict=True)]
    ids = assign_person_ids(components(sorted(kind_of), edges), previous)
    rows = [(rid, kind_of[rid], ids[rid]) for rid in sorted(kind_of)]
    return pd.DataFrame(rows, columns=["record_id", "source_kind", "person_id"])


def previous_person_ids(conn: Connection) -> dict[str, str]:
    frame = warehouse.read_frame(conn, "SELECT record_id, person_id FROM int_persons")
    return dict(zip(frame["record_id"], frame["person_id"], strict=True))


def link_sources(conn: Connection) -> dict[str, int]:
    """Write int_links (case -> social-team case, tenancy -> SDD record, social-team case -> SDD record)
    and int_persons."""
    tenants, st_cases, sdd = tenancies(conn), social_team_cases(conn), sdd_records(conn)
    tenant_st_scored = _scored_pairs(tenants, st_cases)
    case_st = assign_cases(tenant_st_scored, arrears_cases(conn), st_cases)
    tenant_st = tenant_st_scored.loc[
        tenant_st_scored["match_probability"] >= CASE_CANDIDATE_THRESHOLD, ["left_id", "right_id", "match_probability"]
    ]
    case_st.insert(0, "link_type", "case_social_team")
    tenant_sdd_direct = _person_links(tenants, sdd)
    st_sdd_direct = _person_links(st_cases, sdd)
    sdd_same = same_bsn(sdd, sdd)

    def steps(pairs: pd.DataFrame) -> pd.DataFrame:
        return pairs[pairs["match_probability"] >= PATH_STEP_THRESHOLD]

    tenant_sdd = best_links(
        [
            tenant_sdd_direct,
            two_step(steps(tenant_st), steps(st_sdd_direct)),
            two_step(steps(tenant_sdd_direct), sdd_same),
        ],
        LINK_THRESHOLD,
    )
    st_sdd = best_links(
        [
            st_sdd_direct,
            two_step(reverse(steps(tenant_st)), steps(tenant_sdd_direct)),
            two_step(steps(st_sdd_direct), sdd_same),
            two_step(same_bsn(st_cases, st_cases), steps(st_sdd_direct)),
        ],
        LINK_THRESHOLD,
    )
    links = pd.concat(
        [case_st, _as_links(tenant_sdd, "tenancy_sdd"), _as_links(st_sdd, "social_team_sdd")], ignore_index=True
    )
    conn.execute(sa.text("DELETE FROM int_links"))
    warehouse.insert_rows(conn, "int_links", links)
    persons = person_table(
        {"corporation": list(tenants["id"]), "social_team": list(st_cases["id"]), "sdd": list(sdd["id"])},
        [tenant_st[tenant_st["match_probability"] >= LINK_THRESHOLD], tenant_sdd, st_sdd, sdd_same],
        previous_person_ids(conn),
    )
    conn.execute(sa.text("DELETE FROM int_persons"))
    warehouse.insert_rows(conn, "int_persons", persons)
    counts = links["link_type"].value_counts().to_dict()
    log.info("links written: %s; %d persons", counts, persons["person_id"].nunique())
    return {str(k): int(v) for k, v in counts.items()}
