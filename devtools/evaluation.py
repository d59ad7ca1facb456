"""Compare published tables and links with the generator's ground truth (tests and demo only)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from eviction_prevention import warehouse
from eviction_prevention.link.engine import evaluate
from eviction_prevention.pseudonymise.pseudonymiser import REFERENCE_COLUMN, pseudonym
from sqlalchemy.engine import Connection

from devtools.synthetic import COMPLIANCE_COLUMNS

COMPLIANCE_COUNTS = list(COMPLIANCE_COLUMNS[3:])  # the counts after corporation, team, month


def read_truth(truth_dir: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(truth_dir / f"{name}.csv", dtype=str, keep_default_na=False)


def published_compliance(conn: Connection) -> pd.DataFrame:
    """The compliance mart summed to the ground truth's grain: corporation x social team x month."""
    sums = ", ".join(f"sum({c}) AS {c}" for c in COMPLIANCE_COUNTS)
    frame = warehouse.read_frame(
        conn,
        f"SELECT corporation, team, CAST(month AS VARCHAR) AS month, {sums} FROM mart_compliance_monthly "
        "GROUP BY corporation, team, month ORDER BY corporation, team, month",
    )
    for col in COMPLIANCE_COUNTS:
        frame[col] = frame[col].astype("int64")
    return frame.reset_index(drop=True)


def truth_compliance(truth_dir: Path) -> pd.DataFrame:
    frame = read_truth(truth_dir, "compliance_monthly")[["corporation", "team", "month", *COMPLIANCE_COUNTS]]
    for col in COMPLIANCE_COUNTS:
        frame[col] = frame[col].astype("int64")
    return frame.sort_values(["corporation", "team", "month"]).reset_index(drop=True)


def compliance_differences(published: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Rows where the published counts differ from the truth (empty when they agree)."""
    keys = ["corporation", "team", "month"]
    merged = published.merge(truth, on=keys, how="outer", suffixes=("", "_truth"), indicator=True)
    differs = merged["_merge"] != "both"
    for col in COMPLIANCE_COUNTS:
        differs |= merged[col].fillna(-1) != merged[f"{col}_truth"].fillna(-1)
    return merged[differs]


def record_key(key: bytes, kind: str, ref: str) -> str:
    """The warehouse's record_key for a partner's own reference (as pseudonymise_frame computes it)."""
    return pseudonym(key, REFERENCE_COLUMN[kind], ref.strip())


def _case_id(corporation: str, tenancy_ref: str, first_seen: str, key: bytes) -> str:
    """The warehouse's case id: an episode is named by its tenancy and its first snapshot."""
    return f"{corporation}:{record_key(key, 'corporation', tenancy_ref)}:{first_seen}"


def linkage_quality(conn: Connection, truth_dir: Path, key: bytes) -> dict[str, dict[str, float]]:
    """Precision/recall/F1 of the published links against the ground truth, per link type."""
    cases = read_truth(truth_dir, "cases")
    persons = read_truth(truth_dir, "persons")
    links = warehouse.read_frame(conn, "SELECT link_type, left_key, right_key FROM int_links")
    kinds = _partner_kinds(persons)
    truth: dict[str, set[tuple[str, str]]] = {"case_social_team": set(), "tenancy_sdd": set(), "social_team_sdd": set()}
    st_code = next(code for code, kind in kinds.items() if kind == "social_team")
    for row in cases.itertuples(index=False):
        if row.social_team_case_ref:
            truth["case_social_team"].add(
                (
                    _case_id(row.corporation, row.tenancy_ref, row.first_seen, key),
                    f"{st_code}:{record_key(key, 'social_team', row.social_team_case_ref)}",
                )
            )
    keyed = persons.assign(
        kind=persons["source"].map(kinds),
        key=[
            f"{s}:{record_key(key, kinds[s], r)}" for s, r in zip(persons["source"], persons["record_ref"], strict=True)
        ],
    )
    by_kind = {k: keyed[keyed["kind"] == k][["person_id", "key"]] for k in ("corporation", "social_team", "sdd")}
    for link_type, (left, right) in {
        "tenancy_sdd": ("corporation", "sdd"),
        "social_team_sdd": ("social_team", "sdd"),
    }.items():
        pairs = by_kind[left].merge(by_kind[right], on="person_id")
        truth[link_type] = set(zip(pairs["key_x"], pairs["key_y"], strict=True))
    result = {}
    for link_type, truth_pairs in truth.items():
        found = links[links["link_type"] == link_type].rename(columns={"left_key": "left_id", "right_key": "right_id"})
        result[link_type] = evaluate(found[["left_id", "right_id"]], truth_pairs)
    return result


def _partner_kinds(persons: pd.DataFrame) -> dict[str, str]:
    from eviction_prevention.partners import get_partner

    return {code: get_partner(code).kind for code in persons["source"].unique()}
