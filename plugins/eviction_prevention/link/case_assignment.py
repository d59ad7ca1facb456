"""Which social-team case belongs to which arrears case: person links, and the report date as extra evidence (a
report received close to the corporation's report date), each social-team case to at most one arrears case.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from eviction_prevention import warehouse
from eviction_prevention.link import clustering
from eviction_prevention.link.source_records import (
    LINK_THRESHOLD,
    REPORT_DATE_CLOSE_DAYS,
    REPORT_DATE_M,
    REPORT_MATCH_WINDOW_DAYS,
    models_prefix,
)


def arrears_cases(conn: Connection, models: str | None = None) -> pd.DataFrame:
    """Every arrears case with what bounds its social-team case: the corporation's report date (if any),
    the episode's first snapshot, its closing date and the closing date of the tenancy's previous case.
    ``models``: the schema of the intermediate models (default: the connection's own)."""
    return warehouse.read_frame(
        conn,
        "SELECT case_id, corporation, corporation || ':' || tenancy_key AS tenancy_id, reported_date, first_seen, "
        f"closed_date, previous_closed_date FROM {models_prefix(models)}int_arrears_cases",
    )


def _days(dates: pd.Series) -> np.ndarray:
    """Dates as whole days since the epoch (int64)."""
    return pd.to_datetime(dates).to_numpy().astype("datetime64[D]").astype(np.int64)


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
    received = st_cases[st_cases["report_received_date"].notna()]
    received_days = _days(received["report_received_date"])
    close = window = 0
    for corporation, group in reported.groupby("corporation"):
        own = (received["reporter"].isna() | (received["reporter"] == corporation)).to_numpy()
        days = np.sort(received_days[own])
        case_days = _days(group["reported_date"])
        close += _pairs_within(days, case_days, REPORT_DATE_CLOSE_DAYS)
        window += _pairs_within(days, case_days, REPORT_MATCH_WINDOW_DAYS)
    window = max(window, 1)
    return {
        "prior": min(0.5, max(len(reported), 1) / window),
        "u_close": max(close, 1) / window,
        "u_far": max(window - close, 1) / window,
    }


def _report_date_log2_lr(evidence: dict[str, float]) -> tuple[float, float]:
    """log2 likelihood ratios of a social-team case received close to / further from the report."""
    return (
        float(np.log2(REPORT_DATE_M["close"] / evidence["u_close"])),
        float(np.log2(REPORT_DATE_M["window"] / evidence["u_far"])),
    )


def min_case_weight(evidence: dict[str, float]) -> float:
    """The smallest person match weight (log2) with which a case link can reach LINK_THRESHOLD: the
    posterior rises with the weight, so pairs below it are left out before any join (slack for rounding)."""
    prior_log2_odds = np.log2(evidence["prior"] / (1 - evidence["prior"]))
    needed = np.log2(LINK_THRESHOLD / (1 - LINK_THRESHOLD))
    return float(needed - prior_log2_odds - max(*_report_date_log2_lr(evidence), 0.0)) - 1e-6


def _in_case_window(pairs: pd.DataFrame) -> pd.Series:
    """Whether a social-team case can answer the arrears case of a pair (rows: case and social-team fields).

    A report belongs to the episode it was made in: never received on or before the closing date of the
    tenancy's previous case. With a corporation report date: received within REPORT_MATCH_WINDOW_DAYS of
    it. Without one (the report may then come from the social team's registration): received during the
    episode, from REPORT_MATCH_WINDOW_DAYS before its first snapshot up to its closing date."""
    received = pd.to_datetime(pairs["report_received_date"])
    after_previous = pairs["previous_closed_date"].isna() | (received > pd.to_datetime(pairs["previous_closed_date"]))
    reported = pairs["reported_date"].notna()
    near_report = pairs["gap"] <= REPORT_MATCH_WINDOW_DAYS
    window = pd.Timedelta(days=REPORT_MATCH_WINDOW_DAYS)
    during = (received >= pd.to_datetime(pairs["first_seen"]) - window) & (
        pairs["closed_date"].isna() | (received <= pd.to_datetime(pairs["closed_date"]))
    )
    return after_previous & np.where(reported, near_report, during)


def assign_cases(
    person_pairs: pd.DataFrame, cases: pd.DataFrame, st_cases: pd.DataFrame, evidence: dict[str, float] | None = None
) -> pd.DataFrame:
    """From scored tenancy <-> social-team-case pairs to arrears case <-> social-team case, one to one.

    A social-team case can only answer an arrears case that no other corporation reported
    (``closed_values.corporation_codes``), received in the case's window (``_in_case_window``). Within that
    candidate space (Fellegi-Sunter): posterior odds = prior odds x person Bayes factor (2 ** match_weight from
    the person model) x report-date likelihood ratio (m assumed in REPORT_DATE_M, u and prior estimated from the
    data by report_date_evidence; 1 for a case without a corporation report date, which has no date to
    agree with). Then greedy one to one by probability, then date gap.
    """
    columns = ["left_key", "right_key", "match_probability"]
    if person_pairs.empty or cases.empty:
        return pd.DataFrame(columns=columns)
    evidence = evidence or report_date_evidence(cases, st_cases)
    pairs = person_pairs[person_pairs["match_weight"].to_numpy(dtype=float) >= min_case_weight(evidence)]
    pairs = pairs.merge(cases, left_on="left_id", right_on="tenancy_id")
    pairs = pairs.merge(st_cases[["id", "reporter", "report_received_date"]], left_on="right_id", right_on="id")
    pairs = pairs[pairs["report_received_date"].notna()]
    anchor = pairs["reported_date"].where(pairs["reported_date"].notna(), pairs["first_seen"])
    pairs = pairs.assign(gap=_gap_days(anchor, pairs["report_received_date"]))
    reporter_ok = pairs["reporter"].isna() | (pairs["reporter"] == pairs["corporation"])  # another corporation: no
    pairs = pairs[reporter_ok & _in_case_window(pairs)].copy()
    log2_close, log2_far = _report_date_log2_lr(evidence)
    reported = pairs["reported_date"].notna().to_numpy()
    log2_date = np.where(
        reported, np.where(pairs["gap"].to_numpy() <= REPORT_DATE_CLOSE_DAYS, log2_close, log2_far), 0.0
    )
    log2_odds = np.log2(evidence["prior"] / (1 - evidence["prior"])) + pairs["match_weight"].to_numpy() + log2_date
    pairs["match_probability"] = 1 / (1 + np.exp2(-np.clip(log2_odds, -60, 60)))
    pairs = pairs[pairs["match_probability"] >= LINK_THRESHOLD]
    pairs = pairs.sort_values(["match_probability", "gap", "case_id", "right_id"], ascending=[False, True, True, True])
    chosen = pairs.iloc[clustering.greedy_one_to_one(pairs["case_id"], pairs["right_id"])]
    return pd.DataFrame(
        {
            "left_key": chosen["case_id"],
            "right_key": chosen["right_id"],
            "match_probability": chosen["match_probability"],
        }
    ).reset_index(drop=True)
