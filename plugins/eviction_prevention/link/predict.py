"""Scoring: ``score_records`` runs the steps (encoded records -> candidate pairs -> comparison levels -> u and m
-> weights) and scores every candidate pair (step 4). Match weight = the sum of the fields' log2(m/u);
match_probability is a record-level posterior: a record has at most one match on the other side, with
probability pi (the match share); competing candidates of the same record lower each other's probability.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from eviction_prevention.link.blocking import candidate_pairs
from eviction_prevention.link.comparison import compare_pairs
from eviction_prevention.link.encoding import Records, encode
from eviction_prevention.link.estimate_u import correct_u, exact_agreements, u_from_random_pairs
from eviction_prevention.link.expectation_maximisation import TrainingSession, m_by_em, match_shares, training_sessions
from eviction_prevention.link.model import FIELDS, U_CORRECTIONS, ArrayLike
from eviction_prevention.link.weights import TF_LEVELS, log_ratio, log_term_frequency, tf_adjustment

log = logging.getLogger(__name__)


_NO_ROWS = np.empty(0, np.int64)


def score_records(
    left: Records,
    right: Records,
    *,
    max_iter: int = 30,
    max_block_pairs: int = 5000,
    exclusive: bool = True,
    seed: int = 20180101,
) -> pd.DataFrame:
    """``score_pairs`` on encoded records: every candidate pair as row numbers (``left_row``,
    ``right_row``) with its comparison levels, match weight (log2) and match_probability."""
    li, ri = candidate_pairs(left, right, max_block_pairs) if len(left) and len(right) else (_NO_ROWS, _NO_ROWS)
    if not len(li):
        log.info("linkage: %d x %d records, 0 candidate pairs", len(left), len(right))
        return pd.DataFrame(
            {"left_row": _NO_ROWS, "right_row": _NO_ROWS, **{f.name: np.empty(0, np.int8) for f in FIELDS},
             "match_weight": np.empty(0), "match_probability": np.empty(0)}
        )  # fmt: skip
    gammas = compare_pairs(left, right, li, ri)
    log_tf = {
        (field, level): log_term_frequency(left, right, li, gammas[field], level, column)
        for field, level, column in TF_LEVELS
    }
    sessions = training_sessions(left, right, max_block_pairs, seed)
    u = u_from_random_pairs(left, right, seed)
    sampled, agreements = u, exact_agreements(left, right)
    m, log_lr, iterations = _log_likelihood_ratio(gammas, log_tf, sessions, u, max_iter)
    # u without the matches among the random pairs (their share from the previous pass), then score again;
    # the corrected u raises the weights, which finds more of the matches, so the correction is repeated
    for _ in range(U_CORRECTIONS):
        prob = match_shares(log_lr, li, ri, len(left), len(right), False)[0]
        exact_matches = {f.name: float(prob[gammas[f.name] == 0].sum()) for f in FIELDS}
        u = correct_u(agreements, sampled, m, float(prob.sum()) / (len(left) * len(right)), exact_matches)
        m, log_lr, iterations = _log_likelihood_ratio(gammas, log_tf, sessions, u, max_iter)
    prob, pi_left, pi_right = match_shares(log_lr, li, ri, len(left), len(right), exclusive)
    log.info(
        "linkage: %d x %d records, %d candidate pairs, %d EM iterations, match share left=%.4f right=%.4f",
        len(left), len(right), len(li), iterations, pi_left, pi_right,
    )  # fmt: skip
    return pd.DataFrame(
        {"left_row": li, "right_row": ri, **gammas, "match_weight": log_lr / np.log(2), "match_probability": prob}
    )


def _log_likelihood_ratio(
    gammas: dict[str, np.ndarray], log_tf: dict[tuple[str, int], np.ndarray], sessions: list[TrainingSession],
    u: dict[str, np.ndarray], max_iter: int,
) -> tuple[dict[str, np.ndarray], np.ndarray, int]:  # fmt: skip
    """m from the training sessions, and the natural-log m/u of every pair, term-frequency adjusted."""
    m, iterations = m_by_em(sessions, u, max_iter)
    log_lr = log_ratio(gammas, m, u)
    for field, level, _ in TF_LEVELS:
        log_lr += tf_adjustment(log_tf[(field, level)], float(u[field][level]))
    return m, log_lr, iterations


def score_pairs(
    left: pd.DataFrame,
    right: pd.DataFrame,
    *,
    left_id: str = "record_key",
    right_id: str = "record_key",
    max_iter: int = 30,
    max_block_pairs: int = 5000,
    exclusive: bool = True,
    seed: int = 20180101,
) -> pd.DataFrame:
    """Every candidate pair with its comparison levels, match weight (log2) and match_probability.

    ``exclusive``: a record has at most one match on the other side, so candidates of one record
    compete (their probabilities share one record-level posterior). Without it each pair is scored on
    its own, with the same prior."""
    left = left[left[left_id].notna()].reset_index(drop=True)
    right = right[right[right_id].notna()].reset_index(drop=True)
    cols = ["left_id", "right_id", *[f.name for f in FIELDS], "match_weight", "match_probability"]
    if left.empty or right.empty:
        return pd.DataFrame(columns=cols)
    lrec, rrec = encode([left, right], [left_id, right_id])
    scored = score_records(
        lrec, rrec, max_iter=max_iter, max_block_pairs=max_block_pairs, exclusive=exclusive, seed=seed
    )
    if scored.empty:
        return pd.DataFrame(columns=cols)
    return with_ids(scored, lrec.ids, rrec.ids)


def with_ids(scored: pd.DataFrame, left_ids: ArrayLike, right_ids: ArrayLike) -> pd.DataFrame:
    """Scored row-number pairs (``score_records``) with ids in their place (``left_ids`` and ``right_ids``:
    arrays indexed by row number, e.g. ``Records.ids``)."""
    out = scored.drop(columns=["left_row", "right_row"])
    out.insert(0, "right_id", right_ids.take(scored["right_row"].to_numpy()))
    out.insert(0, "left_id", left_ids.take(scored["left_row"].to_numpy()))
    return out.reset_index(drop=True)
