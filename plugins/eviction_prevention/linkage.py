"""Probabilistic record linkage (Fellegi-Sunter) on pseudonym columns only.

Design:

1. *Blocking*: candidate pairs are the union of the pairs that share any blocking key
   (``BLOCKING_RULES``: BSN, birth date, address, phonetic surname + first initial, surname component +
   birth year, postcode + first initial, street + house number, and a birth date with day and month
   swapped). A key value that would give more than ``max_block_pairs`` pairs is skipped (too common to
   be informative, and it would blow up the candidate set).
2. *Comparison*: each candidate pair gets one level per field (``FIELDS``): surname, initials, birth
   date, address, BSN. Level -1 is "missing on either side" and is neutral (weight 0).
3. *Parameters*: u (level frequencies among non-matches) comes from a sample of random pairs
   (shrunk towards priors for tiny inputs). m comes from EM with u fixed, run in training sessions
   on the pairs of one blocking key each (``TRAINING_RULES``), leaving out the fields that key
   conditions on, so that the non-matches in a session look like random pairs on the fields that are
   estimated (Splink's approach; EM over all blocked pairs at once is fooled by blocked non-matches).
   Exact agreement on surname and initials is term-frequency adjusted.
4. *Scoring*: match weight = sum of log2(m/u) over fields. match_probability is a record-level
   posterior: a record has at most one match on the other side, with probability pi (the match share,
   itself estimated by EM); competing candidates of the same record lower each other's probability.
   The smaller of the left-record and right-record view is used.
5. *Assignment*: pairs at or above ``threshold``; with ``one_to_one`` greedily by descending
   probability, each id used at most once.

Only counts are logged (records, pairs, iterations, lambda), never values.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from eviction_prevention.pseudonymise import BLOOM_HASHES, ENCODED_BITS, person_pseudonyms

__all__ = ["BLOCKING_RULES", "FIELDS", "TRAINING_RULES", "evaluate", "link", "link_csv", "score_pairs"]

log = logging.getLogger(__name__)

OUTPUT_COLUMNS = ["left_id", "right_id", "match_probability"]

# Columns compared with each other share one code space.
_CODE_GROUPS: dict[str, tuple[str, ...]] = {
    "bsn": ("pk_bsn",),
    "birth": ("pk_birth_date", "pk_birth_dm_swapped"),
    "year": ("pk_birth_year",),
    "md": ("pk_birth_md",),
    "surname": ("pk_surname",),
    "component": ("pk_surname_1", "pk_surname_2"),
    "phon": ("pk_surname_phon",),
    "initials": ("pk_initials",),
    "initials_sorted": ("pk_initials_sorted",),
    "initial_1": ("pk_initial_1",),
    "postcode": ("pk_postcode",),
    "address": ("pk_address",),
    "street_house": ("pk_street_house",),
}

BLOCKING_RULES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("pk_bsn",), ("pk_bsn",)),
    (("pk_birth_date",), ("pk_birth_date",)),
    (("pk_address",), ("pk_address",)),
    (("pk_surname_phon", "pk_initial_1"), ("pk_surname_phon", "pk_initial_1")),
    (("pk_surname_1", "pk_birth_year"), ("pk_surname_1", "pk_birth_year")),
    (("pk_surname_2", "pk_birth_year"), ("pk_surname_2", "pk_birth_year")),
    (("pk_postcode", "pk_initial_1"), ("pk_postcode", "pk_initial_1")),
    (("pk_street_house",), ("pk_street_house",)),
    (("pk_birth_dm_swapped",), ("pk_birth_date",)),
)

# EM training sessions (Splink style): the pairs of one blocking key, with the fields that key
# conditions on left out, so that non-matches in the session look like random pairs on the other fields.
TRAINING_RULES: tuple[tuple[tuple[str, ...], frozenset[str]], ...] = (
    (("pk_birth_date",), frozenset({"birth_date"})),
    (("pk_surname_phon", "pk_initial_1"), frozenset({"surname", "initials"})),
    (("pk_address",), frozenset({"address", "surname"})),  # household members share the surname
)


@dataclass(frozen=True)
class Field:
    name: str
    levels: tuple[str, ...]  # level i is gamma == i; -1 is missing (neutral)
    u_prior: tuple[float, ...]
    m_prior: tuple[float, ...]


FIELDS: tuple[Field, ...] = (
    Field(
        "surname",
        ("exact", "component", "phonetic", "bloom_close", "bloom_near", "else"),
        (0.005, 0.002, 0.005, 0.005, 0.02, 0.963),
        (0.80, 0.06, 0.04, 0.05, 0.02, 0.03),
    ),
    Field("initials", ("exact", "sorted", "first", "else"), (0.05, 0.005, 0.08, 0.865), (0.80, 0.04, 0.10, 0.06)),
    Field(
        "birth_date",
        ("exact", "day_month_swapped", "month_day", "year", "else"),
        (0.0001, 0.0001, 0.003, 0.02, 0.9768),
        (0.90, 0.01, 0.03, 0.03, 0.03),
    ),
    Field(
        "address",
        ("exact", "street_house", "postcode", "else"),
        (0.0005, 0.0002, 0.005, 0.9943),
        (0.60, 0.04, 0.06, 0.30),
    ),
    Field("bsn", ("exact", "differ"), (1e-6, 1.0 - 1e-6), (0.98, 0.02)),
)

_U_PRIOR_WEIGHT = 50.0  # pseudo-pairs behind the u prior (matters only for tiny inputs)
_M_PRIOR_WEIGHT = 5.0  # pseudo-matches behind the m prior
_RANDOM_PAIRS = 200_000
_U_FLOOR = 1.0 / (4 * _RANDOM_PAIRS)  # u of a level after correction: never below a quarter of one sample pair
_BLOOM_BYTES = ENCODED_BITS // 8
# Hamming distance bands of the hardened surname encodings: a one-letter typo changes about four bigrams
# (8 * BLOOM_HASHES encoded bits, fewer with collisions), the keyed bit flips add up to 4 * BLOOM_FLIPS.
BLOOM_CLOSE = 10 * BLOOM_HASHES
BLOOM_NEAR = 16 * BLOOM_HASHES


@dataclass
class _Side:
    ids: np.ndarray
    codes: dict[str, np.ndarray]
    bloom: np.ndarray  # (n, _BLOOM_BYTES) uint8
    bloom_pop: np.ndarray  # (n,) set bits


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    if name in df.columns:
        return df[name].astype(object)
    return pd.Series([None] * len(df), index=df.index, dtype=object)


def _encode(left: pd.DataFrame, right: pd.DataFrame) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Integer codes per pseudonym column, shared between the two sides (-1 = missing)."""
    lcodes: dict[str, np.ndarray] = {}
    rcodes: dict[str, np.ndarray] = {}
    for cols in _CODE_GROUPS.values():
        parts = [_column(left, c) for c in cols] + [_column(right, c) for c in cols]
        values = pd.concat(parts, ignore_index=True)
        codes, _ = pd.factorize(values.where(values.notna() & (values != ""), None))
        codes = codes.astype(np.int64)
        offset = 0
        for c in cols:
            lcodes[c] = codes[offset : offset + len(left)]
            offset += len(left)
        for c in cols:
            rcodes[c] = codes[offset : offset + len(right)]
            offset += len(right)
    return lcodes, rcodes


def _bloom_matrix(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    empty = bytes(_BLOOM_BYTES)
    hex_len = _BLOOM_BYTES * 2
    raw = b"".join(
        bytes.fromhex(v.zfill(hex_len)) if isinstance(v, str) and v else empty
        for v in _column(df, "bf_surname").tolist()
    )
    matrix = np.frombuffer(raw, dtype=np.uint8).reshape(len(df), _BLOOM_BYTES)
    return matrix, np.bitwise_count(matrix).sum(axis=1).astype(np.int64)


def _combined_key(codes: dict[str, np.ndarray], cols: tuple[str, ...], sizes: dict[str, int]) -> np.ndarray:
    key = codes[cols[0]].copy()
    for c in cols[1:]:
        nxt = codes[c]
        key = np.where((key >= 0) & (nxt >= 0), key * sizes[c] + nxt, -1)
    return key


def _block(lk: np.ndarray, rk: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Pairs (left row, right row) with equal non-missing keys; key values over ``cap`` pairs skipped."""
    lpos, rpos = np.flatnonzero(lk >= 0), np.flatnonzero(rk >= 0)
    lkeys, rkeys = lk[lpos], rk[rpos]
    lu, lc = np.unique(lkeys, return_counts=True)
    ru, rc = np.unique(rkeys, return_counts=True)
    common, li, ri = np.intersect1d(lu, ru, assume_unique=True, return_indices=True)
    product = lc[li] * rc[ri]
    ok = common[product <= cap]
    skipped = int((product > cap).sum())
    lsel, rsel = np.isin(lkeys, ok), np.isin(rkeys, ok)
    merged = pd.DataFrame({"k": lkeys[lsel], "l": lpos[lsel]}).merge(
        pd.DataFrame({"k": rkeys[rsel], "r": rpos[rsel]}), on="k"
    )
    return merged["l"].to_numpy(np.int64), merged["r"].to_numpy(np.int64), skipped


def _candidate_pairs(left: _Side, right: _Side, sizes: dict[str, int], cap: int) -> tuple[np.ndarray, np.ndarray]:
    n_right = max(len(right.ids), 1)
    found = []
    skipped = 0
    for lcols, rcols in BLOCKING_RULES:
        lk = _combined_key(left.codes, lcols, sizes)
        rk = _combined_key(right.codes, rcols, sizes)
        li, ri, s = _block(lk, rk, cap)
        skipped += s
        found.append(li * n_right + ri)
    pair_ids = np.unique(np.concatenate(found)) if found else np.empty(0, np.int64)
    if skipped:
        log.info("linkage blocking: %d key values skipped as too common", skipped)
    return pair_ids // n_right, pair_ids % n_right


def _eq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) & (a >= 0)


def _bloom_distance(left: _Side, right: _Side, li: np.ndarray, ri: np.ndarray, chunk: int = 250_000) -> np.ndarray:
    """Hamming distance of the surname encodings (balanced, so always comparable); ENCODED_BITS if missing."""
    out = np.full(len(li), ENCODED_BITS, dtype=np.int64)
    for start in range(0, len(li), chunk):
        sl = slice(start, start + chunk)
        a, b = li[sl], ri[sl]
        dist = np.bitwise_count(left.bloom[a] ^ right.bloom[b]).sum(axis=1).astype(np.int64)
        ok = (left.bloom_pop[a] > 0) & (right.bloom_pop[b] > 0)
        out[sl] = np.where(ok, dist, ENCODED_BITS)
    return out


def _levels(conditions: list[np.ndarray], missing: np.ndarray) -> np.ndarray:
    """First true condition gives the level; none -> last level; missing -> -1."""
    gamma = np.select(conditions, list(range(len(conditions))), default=len(conditions)).astype(np.int8)
    gamma[missing] = -1
    return gamma


def _compare(left: _Side, right: _Side, li: np.ndarray, ri: np.ndarray) -> dict[str, np.ndarray]:
    L = {k: v[li] for k, v in left.codes.items()}
    R = {k: v[ri] for k, v in right.codes.items()}
    out: dict[str, np.ndarray] = {}

    missing = (L["pk_surname"] < 0) | (R["pk_surname"] < 0)
    exact = _eq(L["pk_surname"], R["pk_surname"])
    component = np.zeros(len(li), dtype=bool)
    for a in ("pk_surname_1", "pk_surname_2"):
        for b in ("pk_surname_1", "pk_surname_2"):
            component |= _eq(L[a], R[b])
    phon = _eq(L["pk_surname_phon"], R["pk_surname_phon"])
    dist = np.full(len(li), ENCODED_BITS, dtype=np.int64)
    todo = np.flatnonzero(~(missing | exact | component | phon))
    dist[todo] = _bloom_distance(left, right, li[todo], ri[todo])
    out["surname"] = _levels([exact, component, phon, dist <= BLOOM_CLOSE, dist <= BLOOM_NEAR], missing)

    missing = (L["pk_initials"] < 0) | (R["pk_initials"] < 0)
    out["initials"] = _levels(
        [
            _eq(L["pk_initials"], R["pk_initials"]),
            _eq(L["pk_initials_sorted"], R["pk_initials_sorted"]),
            _eq(L["pk_initial_1"], R["pk_initial_1"]),
        ],
        missing,
    )

    missing = (L["pk_birth_date"] < 0) | (R["pk_birth_date"] < 0)
    swapped = _eq(L["pk_birth_dm_swapped"], R["pk_birth_date"]) | _eq(L["pk_birth_date"], R["pk_birth_dm_swapped"])
    out["birth_date"] = _levels(
        [
            _eq(L["pk_birth_date"], R["pk_birth_date"]),
            swapped,
            _eq(L["pk_birth_md"], R["pk_birth_md"]),
            _eq(L["pk_birth_year"], R["pk_birth_year"]),
        ],
        missing,
    )

    missing = ((L["pk_postcode"] < 0) | (R["pk_postcode"] < 0)) & (
        (L["pk_street_house"] < 0) | (R["pk_street_house"] < 0)
    )
    out["address"] = _levels(
        [
            _eq(L["pk_address"], R["pk_address"]),
            _eq(L["pk_street_house"], R["pk_street_house"]),
            _eq(L["pk_postcode"], R["pk_postcode"]),
        ],
        missing,
    )

    missing = (L["pk_bsn"] < 0) | (R["pk_bsn"] < 0)
    out["bsn"] = _levels([_eq(L["pk_bsn"], R["pk_bsn"])], missing)
    return out


def _level_frequencies(gamma: np.ndarray, n_levels: int, weights: np.ndarray | None = None) -> np.ndarray:
    ok = gamma >= 0
    w = None if weights is None else weights[ok]
    return np.bincount(gamma[ok].astype(np.int64), weights=w, minlength=n_levels).astype(np.float64)


def _estimate_u(left: _Side, right: _Side, seed: int) -> dict[str, np.ndarray]:
    """u per field and level from random pairs, shrunk towards the prior for small samples."""
    n = min(len(left.ids) * len(right.ids), _RANDOM_PAIRS)
    rng = np.random.default_rng(seed)
    li = rng.integers(0, len(left.ids), size=n)
    ri = rng.integers(0, len(right.ids), size=n)
    gammas = _compare(left, right, li, ri)
    u = {}
    for f in FIELDS:
        counts = _level_frequencies(gammas[f.name], len(f.levels))
        prior = np.asarray(f.u_prior)
        u[f.name] = (counts + _U_PRIOR_WEIGHT * prior) / (counts.sum() + _U_PRIOR_WEIGHT)
    return u


# The pseudonym column whose equality is the "exact" level (level 0) of each field.
_EXACT_COLUMN = {
    "surname": "pk_surname", "initials": "pk_initials", "birth_date": "pk_birth_date", "address": "pk_address",
    "bsn": "pk_bsn",
}  # fmt: skip


def _exact_agreement(left: _Side, right: _Side, column: str) -> tuple[float, float]:
    """Share of all (non-missing) pairs that agree exactly on ``column``, from value counts (no sampling),
    and the number of such pairs."""
    lc, rc = left.codes[column], right.codes[column]
    lc, rc = lc[lc >= 0], rc[rc >= 0]
    if not len(lc) or not len(rc):
        return 0.0, 0.0
    size = int(max(lc.max(), rc.max())) + 1
    agree = float(np.dot(np.bincount(lc, minlength=size).astype(np.float64), np.bincount(rc, minlength=size)))
    total = float(len(lc)) * float(len(rc))
    return agree / total, total


def _correct_u(
    left: _Side, right: _Side, u: dict[str, np.ndarray], m: dict[str, np.ndarray], share: float
) -> dict[str, np.ndarray]:
    """u without the matches that random pairs contain.

    The exact level is counted over all pairs (value counts); every level is then corrected as
    (f - share * m) / (1 - share), with ``share`` the expected share of matching pairs among all pairs
    (from a first scoring pass). Random pairs are mostly non-matches, but with a large overlap their
    agreement on a unique identifier (BSN) or a birth date is mainly made of true matches. A level's u is
    floored at half a pair among the pairs it was counted on (at most its prior); the exact share is
    shrunk towards the prior like the sampled levels, so that tiny inputs do not drown in their matches."""
    out = {}
    for f in FIELDS:
        freq = u[f.name].copy()
        exact, total = _exact_agreement(left, right, _EXACT_COLUMN[f.name])
        floor = np.full(len(f.levels), _U_FLOOR)
        if total:
            exact = (exact * total + _U_PRIOR_WEIGHT * f.u_prior[0]) / (total + _U_PRIOR_WEIGHT)
            rest = freq[1:].sum()
            freq[1:] *= (1.0 - exact) / rest if rest > 0 else 0.0
            freq[0] = exact
            floor[0] = min(0.5 / total, f.u_prior[0])
        corrected = np.maximum((freq - share * m[f.name]) / (1.0 - share), floor)
        out[f.name] = corrected / corrected.sum()
    return out


def _log_ratio(
    gammas: dict[str, np.ndarray], m: dict[str, np.ndarray], u: dict[str, np.ndarray],
    fields: Iterable[Field] = FIELDS,
) -> np.ndarray:  # fmt: skip
    n = len(next(iter(gammas.values())))
    total = np.zeros(n)
    for f in fields:
        g = gammas[f.name]
        ok = g >= 0
        table = np.log(m[f.name]) - np.log(u[f.name])
        total[ok] += table[g[ok]]
    return total


def _tf_adjustment(
    left: _Side, right: _Side, li: np.ndarray, gamma: np.ndarray, column: str, u_exact: float
) -> np.ndarray:
    """Extra log-weight for exact agreement on ``column``: log(u_exact / tf(value)), with tf the value's
    share among the non-missing values of both sides (floored at one record). Agreeing on a rare surname
    or on the initials "MO" counts more than agreeing on "Jansen" or "J"."""
    lcodes, rcodes = left.codes[column], right.codes[column]
    allcodes = np.concatenate([lcodes, rcodes])
    allcodes = allcodes[allcodes >= 0]
    adj = np.zeros(len(li))
    if not len(allcodes):
        return adj
    freq = np.bincount(allcodes) / len(allcodes)
    exact = gamma == 0
    tf = np.maximum(freq[lcodes[li[exact]]], 1.0 / len(allcodes))
    adj[exact] = np.log(u_exact) - np.log(tf)
    return adj


def _record_posterior(log_lr: np.ndarray, group: np.ndarray | None, prior_match: float, n_other: int) -> np.ndarray:
    """P(pair is the match of its ``group`` record), given that a record has at most one match.

    A record has a match on the other side with probability ``prior_match``, equally likely any of the
    ``n_other`` records there: p_ij = a L_ij / ((1 - prior_match) + a sum_k L_kj) with a = prior/n_other
    and L the likelihood ratio m/u (pairs outside the candidate set count as L = 0). With ``group``
    None the pair is scored on its own (no competing candidates in the sum).
    """
    log_a = np.log(prior_match) - np.log(max(n_other, 1))
    z = np.clip(log_a + log_lr, -700.0, 700.0)
    odds = np.exp(z)
    total = odds if group is None else np.bincount(group, weights=odds)[group]
    return odds / ((1.0 - prior_match) + total)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _em_session(
    gammas: dict[str, np.ndarray], u: dict[str, np.ndarray], fields: list[Field], max_iter: int,
    tol: float = 1e-6,
) -> tuple[dict[str, np.ndarray], dict[str, float], float, int]:  # fmt: skip
    """EM for lambda and m of ``fields`` over one training session's pairs, u fixed.

    Returns m, the expected number of matches with the field non-missing (the evidence behind m),
    lambda and the number of iterations. m starts at the prior (high on agreement) and is smoothed
    towards it; missing levels are left out."""
    m = {f.name: np.asarray(f.m_prior, dtype=np.float64) for f in fields}
    support = {f.name: 0.0 for f in fields}
    lam, iterations = 0.5, 0
    for iterations in range(1, max_iter + 1):  # noqa: B007
        p = _sigmoid(np.log(lam) - np.log1p(-lam) + _log_ratio(gammas, m, u, fields))
        new_lam = float(np.clip(p.mean(), 1e-6, 1 - 1e-6))
        new_m = {}
        for f in fields:
            counts = _level_frequencies(gammas[f.name], len(f.levels), p)
            support[f.name] = float(counts.sum())
            new_m[f.name] = (counts + _M_PRIOR_WEIGHT * np.asarray(f.m_prior)) / (counts.sum() + _M_PRIOR_WEIGHT)
        delta = max([abs(new_lam - lam)] + [float(np.abs(new_m[k] - m[k]).max()) for k in m])
        lam, m = new_lam, new_m
        if delta < tol:
            break
    return m, support, lam, iterations


def _estimate_m(
    left: _Side, right: _Side, sizes: dict[str, int], u: dict[str, np.ndarray], cap: int, max_iter: int
) -> tuple[dict[str, np.ndarray], int]:
    """m per field: the support-weighted mean over the training sessions that estimate it (prior if none)."""
    total = {f.name: _M_PRIOR_WEIGHT * np.asarray(f.m_prior, dtype=np.float64) for f in FIELDS}
    weight = {f.name: _M_PRIOR_WEIGHT for f in FIELDS}
    iterations = 0
    for cols, conditioned in TRAINING_RULES:
        li, ri, _ = _block(_combined_key(left.codes, cols, sizes), _combined_key(right.codes, cols, sizes), cap)
        if len(li) < 10:
            continue
        fields = [f for f in FIELDS if f.name not in conditioned]
        m, support, lam, it = _em_session(_compare(left, right, li, ri), u, fields, max_iter)
        iterations = max(iterations, it)
        log.info("linkage training on %s: %d pairs, %d iterations, lambda=%.4f", "+".join(cols), len(li), it, lam)
        for f in fields:
            total[f.name] = total[f.name] + support[f.name] * m[f.name]
            weight[f.name] += support[f.name]
    return {k: total[k] / weight[k] for k in total}, iterations


def _match_shares(
    log_lr: np.ndarray, li: np.ndarray, ri: np.ndarray, n_left: int, n_right: int, exclusive: bool,
    max_iter: int = 100,
) -> tuple[np.ndarray, float, float]:  # fmt: skip
    """Record-level posteriors and the shares of left/right records that have a match (EM on the shares).

    ``pi_right`` (share of right records with a match on the left) is re-estimated as the expected number
    of matched right records over n_right, likewise ``pi_left``; the pair probability is the smaller of
    the two record-level posteriors (each record has at most one match on the other side). With
    ``exclusive`` False the final probabilities ignore competing candidates (a person with several
    records on one side, e.g. one SDD record per service, keeps a high probability for each)."""
    pi_left = pi_right = 0.5
    for _ in range(max_iter):
        p_right = _record_posterior(log_lr, ri, pi_right, n_left)
        p_left = _record_posterior(log_lr, li, pi_left, n_right)
        new_right = float(np.clip(p_right.sum() / n_right, 0.01, 0.99))
        new_left = float(np.clip(p_left.sum() / n_left, 0.01, 0.99))
        done = abs(new_right - pi_right) < 1e-5 and abs(new_left - pi_left) < 1e-5
        pi_right, pi_left = new_right, new_left
        if done:
            break
    prob = np.minimum(
        _record_posterior(log_lr, ri if exclusive else None, pi_right, n_left),
        _record_posterior(log_lr, li if exclusive else None, pi_left, n_right),
    )
    return prob, pi_left, pi_right


def _side(df: pd.DataFrame, id_col: str, codes: dict[str, np.ndarray]) -> _Side:
    bloom, pop = _bloom_matrix(df)
    return _Side(ids=df[id_col].to_numpy(dtype=object), codes=codes, bloom=bloom, bloom_pop=pop)


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
    lcodes, rcodes = _encode(left, right)
    sizes = {c: int(max(lcodes[c].max(initial=-1), rcodes[c].max(initial=-1))) + 2 for c in lcodes}
    lside, rside = _side(left, left_id, lcodes), _side(right, right_id, rcodes)
    li, ri = _candidate_pairs(lside, rside, sizes, max_block_pairs)
    if not len(li):
        log.info("linkage: %d x %d records, 0 candidate pairs", len(left), len(right))
        return pd.DataFrame(columns=cols)
    gammas = _compare(lside, rside, li, ri)
    u_random = _estimate_u(lside, rside, seed)
    u = u_random
    for _ in range(2):  # the second pass uses u corrected for the matches among the random pairs
        m, iterations = _estimate_m(lside, rside, sizes, u, max_block_pairs, max_iter)
        log_lr = _log_ratio(gammas, m, u)
        for field, column in (("surname", "pk_surname"), ("initials", "pk_initials")):
            log_lr += _tf_adjustment(lside, rside, li, gammas[field], column, float(u[field][0]))
        prob, pi_left, pi_right = _match_shares(log_lr, li, ri, len(left), len(right), exclusive)
        matches = float(_match_shares(log_lr, li, ri, len(left), len(right), False)[0].sum())
        u = _correct_u(lside, rside, u_random, m, matches / (len(left) * len(right)))
    log.info(
        "linkage: %d x %d records, %d candidate pairs, %d EM iterations, match share left=%.4f right=%.4f",
        len(left), len(right), len(li), iterations, pi_left, pi_right,
    )  # fmt: skip
    out = pd.DataFrame({"left_id": lside.ids[li], "right_id": rside.ids[ri]})
    for f in FIELDS:
        out[f.name] = gammas[f.name]
    out["match_weight"] = log_lr / np.log(2)
    out["match_probability"] = prob
    return out


def _one_to_one(pairs: pd.DataFrame) -> pd.DataFrame:
    """Greedy assignment: highest probability first, each left and right id used at most once."""
    ordered = pairs.sort_values(
        ["match_probability", "left_id", "right_id"], ascending=[False, True, True], kind="mergesort"
    )
    used_left: set = set()
    used_right: set = set()
    keep = []
    for idx, lid, rid in zip(ordered.index, ordered["left_id"], ordered["right_id"], strict=True):
        if lid in used_left or rid in used_right:
            continue
        used_left.add(lid)
        used_right.add(rid)
        keep.append(idx)
    return pairs.loc[keep]


def link(
    left: pd.DataFrame,
    right: pd.DataFrame,
    *,
    left_id: str = "record_key",
    right_id: str = "record_key",
    one_to_one: bool = True,
    threshold: float = 0.9,
    max_iter: int = 30,
    max_block_pairs: int = 5000,
) -> pd.DataFrame:
    """Link two pseudonymised frames; returns ``left_id, right_id, match_probability`` sorted by ids.

    Only pairs with ``match_probability >= threshold`` are returned. With ``one_to_one`` each id appears
    at most once (greedy by descending probability) and competing candidates lower each other's
    probability; without it every pair is scored on its own, so one record may link to several
    records of the same person on the other side (and to a look-alike household member more easily).
    """
    scored = score_pairs(
        left,
        right,
        left_id=left_id,
        right_id=right_id,
        max_iter=max_iter,
        max_block_pairs=max_block_pairs,
        exclusive=one_to_one,
    )
    if scored.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c != "match_probability" else float)
                             for c in OUTPUT_COLUMNS})  # fmt: skip
    pairs = scored[OUTPUT_COLUMNS]
    pairs = pairs.sort_values("match_probability", ascending=False, kind="mergesort")
    pairs = pairs.drop_duplicates(["left_id", "right_id"])  # duplicate ids in the input
    pairs = pairs[pairs["match_probability"] >= threshold]
    if one_to_one:
        pairs = _one_to_one(pairs)
    log.info("linkage: %d links at threshold %.2f", len(pairs), threshold)
    return pairs.sort_values(["left_id", "right_id"], kind="mergesort").reset_index(drop=True)


def evaluate(pairs: pd.DataFrame, truth: Iterable[tuple[str, str]]) -> dict[str, float]:
    """Precision, recall, F1 and tp/fp/fn of ``pairs`` (columns left_id, right_id) against true pairs."""
    found = set(zip(pairs["left_id"], pairs["right_id"], strict=True)) if len(pairs) else set()
    truth = set(truth)
    tp = len(found & truth)
    fp = len(found - truth)
    fn = len(truth - found)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


_CSV_ALIASES = {
    "house_suffix": "house_number_suffix",
    "suffix": "house_number_suffix",
    "toevoeging": "house_number_suffix",
    "letter": "house_letter",
    "first_name": "given_name",
    "given_names": "given_name",
    "last_name": "surname",
    "dob": "birth_date",
    "zip": "postcode",
    "zipcode": "postcode",
}


def _read_person_csv(path: Path) -> pd.DataFrame:
    """All columns as text, empty cells as None; ``;`` or ``,`` separated; UTF-8 (BOM ok) or cp1252."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            with open(path, encoding=encoding, newline="") as fh:
                header = fh.readline()
                fh.read()
            break
        except UnicodeDecodeError:
            continue
    sep = ";" if header.count(";") > header.count(",") else ","
    df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding=encoding, quoting=csv.QUOTE_MINIMAL)
    df.columns = [str(c).strip().lower() for c in df.columns]
    df = df.rename(columns={k: v for k, v in _CSV_ALIASES.items() if k in df.columns and v not in df.columns})
    if "record_id" not in df.columns:
        df["record_id"] = [str(i) for i in range(len(df))]
    df = df.astype(object).where(df.ne(""), None)
    return df


def link_csv(left_csv: Path, right_csv: Path, out_csv: Path, key: bytes) -> int:
    """Pseudonymise two person CSVs with ``key``, link them one-to-one, write ``out_csv``.

    Input columns: ``record_id`` and any of given_name, initials, prefix, surname, birth_date, street,
    house_number, house_letter, house_suffix, postcode, city, bsn (other columns are ignored; values are
    normalised, never rejected). The output has ``left_id,right_id,match_probability`` where the ids
    are the input ``record_id`` values (row ids, not personal data). Returns the number of pairs.
    """
    frames = []
    for path in (left_csv, right_csv):
        raw = _read_person_csv(Path(path))
        pseudo = person_pseudonyms(raw, key)
        pseudo.insert(0, "record_id", raw["record_id"].astype(object))
        frames.append(pseudo)
    pairs = link(frames[0], frames[1], left_id="record_id", right_id="record_id", one_to_one=True)
    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    pairs.to_csv(out, index=False, float_format="%.6f")
    return len(pairs)
