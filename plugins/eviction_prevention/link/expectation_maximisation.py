"""m (step 3b): EM with u fixed, in training sessions on the pairs of one blocking key each
(``model.TRAINING_RULES``), leaving out the fields that key conditions on (Splink's approach), over the
distinct comparison patterns weighted by their counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from eviction_prevention.link.blocking import block_keys, block_pairs
from eviction_prevention.link.comparison import compare_pairs, level_frequencies
from eviction_prevention.link.encoding import Records
from eviction_prevention.link.model import FIELDS, M_PRIOR_WEIGHT, TRAINING_PAIRS, TRAINING_RULES, Field
from eviction_prevention.link.weights import log_ratio

log = logging.getLogger(__name__)


def _record_posterior(ratio: np.ndarray, ratio_sum: np.ndarray, prior_match: float, n_other: int) -> np.ndarray:
    """P(pair is the match of its record), given that a record has at most one match.

    A record has a match on the other side with probability ``prior_match``, equally likely any of the
    ``n_other`` records there: p_ij = a L_ij / ((1 - prior_match) + a sum_k L_kj) with a = prior/n_other
    and L the likelihood ratio m/u (pairs outside the candidate set count as L = 0). ``ratio_sum`` is
    that sum over the record's candidates, or the pair's own L to score it on its own.
    """
    a = prior_match / max(n_other, 1)
    return a * ratio / ((1.0 - prior_match) + a * ratio_sum)


def _expected_matched(ratio_sums: np.ndarray, prior_match: float, n_other: int) -> float:
    """The expected number of records that have their match among their candidates: the sum over records
    of the posteriors of their candidates (``_record_posterior``), from each record's sum of ratios."""
    return float(np.sum(_record_posterior(ratio_sums, ratio_sums, prior_match, n_other)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass(frozen=True)
class TrainingSession:
    """One EM training session: the pairs of one blocking key, compared on the fields it does not fix,
    as the distinct comparison patterns (levels per field) and the number of pairs with each."""

    name: str
    fields: list[Field]
    patterns: dict[str, np.ndarray]
    pairs: np.ndarray


def _patterns(gammas: dict[str, np.ndarray], fields: list[Field]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The distinct level combinations of ``fields`` (a few hundred at most) and how many pairs have each:
    EM over them gives what EM over the pairs gives, at a cost independent of the number of pairs."""
    sizes = [len(f.levels) + 1 for f in fields]  # level -1 (missing) shifted to 0
    code = np.zeros(len(gammas[fields[0].name]), dtype=np.int64)
    for f, size in zip(fields, sizes, strict=True):
        code = code * size + (gammas[f.name].astype(np.int64) + 1)
    pairs = np.bincount(code, minlength=int(np.prod(sizes)))
    present = np.flatnonzero(pairs)
    patterns = {}
    for f, size in reversed(list(zip(fields, sizes, strict=True))):
        patterns[f.name] = (present % size - 1).astype(np.int8)
        present = present // size
    return patterns, pairs[pairs > 0].astype(np.float64)


def _em_session(
    session: TrainingSession, u: dict[str, np.ndarray], max_iter: int, tol: float = 1e-6
) -> tuple[dict[str, np.ndarray], dict[str, float], float, int]:
    """EM for lambda and m of the session's fields over its comparison patterns, u fixed.

    Returns m, the expected number of matches with the field non-missing (the evidence behind m),
    lambda and the number of iterations. m starts at the prior (high on agreement) and is smoothed
    towards it; missing levels are left out."""
    fields, gammas, pairs = session.fields, session.patterns, session.pairs
    m = {f.name: np.asarray(f.m_prior, dtype=np.float64) for f in fields}
    support = {f.name: 0.0 for f in fields}
    lam, iterations = 0.5, 0
    for iterations in range(1, max_iter + 1):  # noqa: B007
        p = _sigmoid(np.log(lam) - np.log1p(-lam) + log_ratio(gammas, m, u, fields))
        new_lam = float(np.clip(np.dot(p, pairs) / pairs.sum(), 1e-6, 1 - 1e-6))
        new_m = {}
        for f in fields:
            counts = level_frequencies(gammas[f.name], len(f.levels), p * pairs)
            support[f.name] = float(counts.sum())
            new_m[f.name] = (counts + M_PRIOR_WEIGHT * np.asarray(f.m_prior)) / (counts.sum() + M_PRIOR_WEIGHT)
        delta = max([abs(new_lam - lam)] + [float(np.abs(new_m[k] - m[k]).max()) for k in m])
        lam, m = new_lam, new_m
        if delta < tol:
            break
    return m, support, lam, iterations


def training_sessions(left: Records, right: Records, cap: int, seed: int) -> list[TrainingSession]:
    """The sessions of TRAINING_RULES with at least 10 pairs; a session with more than TRAINING_PAIRS
    pairs is trained on a random sample of its left records' pairs (the patterns' shares, which is all
    EM sees, stay the same; the cost stays linear)."""
    rng = np.random.default_rng((seed, 1))  # a stream of its own (the u sample draws from ``seed``)
    sessions = []
    for cols, conditioned in TRAINING_RULES:
        li, ri, _ = block_pairs(*block_keys(left, right, cols, cols), cap, (TRAINING_PAIRS, rng))
        if len(li) < 10:
            continue
        fields = [f for f in FIELDS if f.name not in conditioned]
        patterns, pairs = _patterns(compare_pairs(left, right, li, ri, fields), fields)
        sessions.append(TrainingSession("+".join(cols), fields, patterns, pairs))
    return sessions


def m_by_em(
    sessions: list[TrainingSession], u: dict[str, np.ndarray], max_iter: int
) -> tuple[dict[str, np.ndarray], int]:
    """m per field: the support-weighted mean over the training sessions that estimate it (prior if none)."""
    total = {f.name: M_PRIOR_WEIGHT * np.asarray(f.m_prior, dtype=np.float64) for f in FIELDS}
    weight = {f.name: M_PRIOR_WEIGHT for f in FIELDS}
    iterations = 0
    for session in sessions:
        m, support, lam, it = _em_session(session, u, max_iter)
        iterations = max(iterations, it)
        pairs = int(session.pairs.sum())
        log.info("linkage training on %s: %d pairs, %d iterations, lambda=%.4f", session.name, pairs, it, lam)
        for f in session.fields:
            total[f.name] = total[f.name] + support[f.name] * m[f.name]
            weight[f.name] += support[f.name]
    return {k: total[k] / weight[k] for k in total}, iterations


def match_shares(
    log_lr: np.ndarray, li: np.ndarray, ri: np.ndarray, n_left: int, n_right: int, exclusive: bool,
    max_iter: int = 100,
) -> tuple[np.ndarray, float, float]:  # fmt: skip
    """Record-level posteriors and the shares of left/right records that have a match (EM on the shares).

    ``pi_right`` (share of right records with a match on the left) is re-estimated as the expected number
    of matched right records over n_right, likewise ``pi_left``; the pair probability is the smaller of
    the two record-level posteriors (each record has at most one match on the other side). With
    ``exclusive`` False the final probabilities ignore competing candidates (a person with several
    records on one side, e.g. one SDD record per service, keeps a high probability for each)."""
    ratio = np.exp(np.minimum(log_lr, 600.0))
    right_sums = np.bincount(ri, weights=ratio, minlength=n_right)
    left_sums = np.bincount(li, weights=ratio, minlength=n_left)
    pi_left = pi_right = 0.5
    for _ in range(max_iter):
        new_right = float(np.clip(_expected_matched(right_sums, pi_right, n_left) / n_right, 0.01, 0.99))
        new_left = float(np.clip(_expected_matched(left_sums, pi_left, n_right) / n_left, 0.01, 0.99))
        done = abs(new_right - pi_right) < 1e-5 and abs(new_left - pi_left) < 1e-5
        pi_right, pi_left = new_right, new_left
        if done:
            break
    prob = np.minimum(
        _record_posterior(ratio, right_sums[ri] if exclusive else ratio, pi_right, n_left),
        _record_posterior(ratio, left_sums[li] if exclusive else ratio, pi_left, n_right),
    )
    return prob, pi_left, pi_right
