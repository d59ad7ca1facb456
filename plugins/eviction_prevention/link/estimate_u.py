"""u (step 3a): the level frequencies among non-matches, from a sample of random pairs drawn by row number
from a fixed seed, shrunk towards priors for tiny inputs and corrected for the matches among them.
"""

from __future__ import annotations

import numpy as np

from eviction_prevention.link.blocking import block_pairs
from eviction_prevention.link.comparison import ADDRESS_EXACT, compare_pairs, exact_address, gather, level_frequencies
from eviction_prevention.link.encoding import Records
from eviction_prevention.link.model import FIELDS, RANDOM_PAIRS, U_FLOOR, U_PRIOR_WEIGHT


def u_from_random_pairs(left: Records, right: Records, seed: int) -> dict[str, np.ndarray]:
    """u per field and level from random pairs, shrunk towards the prior for small samples."""
    n = min(len(left.ids) * len(right.ids), RANDOM_PAIRS)
    rng = np.random.default_rng(seed)
    li = rng.integers(0, len(left.ids), size=n)
    ri = rng.integers(0, len(right.ids), size=n)
    gammas = compare_pairs(left, right, li, ri)
    u = {}
    for f in FIELDS:
        counts = level_frequencies(gammas[f.name], len(f.levels))
        prior = np.asarray(f.u_prior)
        u[f.name] = (counts + U_PRIOR_WEIGHT * prior) / (counts.sum() + U_PRIOR_WEIGHT)
    return u


# The pseudonym column whose equality is the "exact" level (level 0) of each field (the address: see
# ``_exact_address_agreement``).
_EXACT_COLUMN = {
    "surname": "pk_surname", "given_name": "pk_given_name", "birth_date": "pk_birth_date", "bsn": "pk_bsn",
}  # fmt: skip


# The column whose presence on both sides makes a pair comparable on the field, where that is not the exact column
# (a pair is compared on given names only when both have one, else on initials).
_COMPARABLE_COLUMN = {"given_name": "pk_initials"}


def _exact_agreement(left: Records, right: Records, column: str, comparable: str | None = None) -> tuple[float, float]:
    """Share of all comparable pairs (both sides have ``comparable``, by default ``column``) that agree exactly
    on ``column``, from value counts (no sampling), and the number of pairs that have ``column`` on both sides."""
    lc, rc = left.codes[column], right.codes[column]
    lc, rc = lc[lc >= 0], rc[rc >= 0]
    if not len(lc) or not len(rc):
        return 0.0, 0.0
    size = int(max(lc.max(), rc.max())) + 1
    agree = float(np.dot(np.bincount(lc, minlength=size).astype(np.float64), np.bincount(rc, minlength=size)))
    total = float(len(lc)) * float(len(rc))
    if comparable is not None:
        comparable_pairs = float((left.codes[comparable] >= 0).sum()) * float((right.codes[comparable] >= 0).sum())
        return agree / max(comparable_pairs, total), total
    return agree / total, total


_EXACT_ADDRESS_CAP = 100_000  # pairs per address value checked one by one; beyond, all count as exact


def _exact_address_agreement(left: Records, right: Records) -> tuple[float, float]:
    """``_exact_agreement`` of the exact address (``exact_address``): the pairs sharing the address pseudonym,
    from value counts, less those whose street or city differ (checked on the pairs themselves; an address
    shared by more than _EXACT_ADDRESS_CAP pairs counts whole, so u errs high, towards a weaker weight)."""
    share, total = _exact_agreement(left, right, "pk_address")
    lk, rk = left.codes["pk_address"].astype(np.int64), right.codes["pk_address"].astype(np.int64)
    li, ri, _ = block_pairs(lk, rk, _EXACT_ADDRESS_CAP)
    L, R = gather(left, right, li, ri, ADDRESS_EXACT)
    differ = float(len(li) - exact_address(L, R).sum())
    return (share * total - differ) / total if total else 0.0, total


def exact_agreements(left: Records, right: Records) -> dict[str, tuple[float, float]]:
    """Per field, the share of pairs at its exact level and the number of pairs it was counted on
    (``_exact_agreement``; the address: ``_exact_address_agreement``). They depend on the records only."""
    out = {}
    for f in FIELDS:
        if f.name == "address":
            out[f.name] = _exact_address_agreement(left, right)
        else:
            out[f.name] = _exact_agreement(left, right, _EXACT_COLUMN[f.name], _COMPARABLE_COLUMN.get(f.name))
    return out


def correct_u(
    agreements: dict[str, tuple[float, float]], u: dict[str, np.ndarray], m: dict[str, np.ndarray], share: float,
    exact_matches: dict[str, float],
) -> dict[str, np.ndarray]:  # fmt: skip
    """u without the matches that random pairs contain.

    The exact level is counted over all pairs (value counts, ``agreements``); every level is then corrected as
    (f - share * m) / (1 - share), with ``share`` the expected share of matching pairs among all pairs
    (from a first scoring pass). Random pairs are mostly non-matches, but with a large overlap their
    agreement on a unique identifier (BSN) or a birth date is mainly made of true matches. A level's u is
    floored at half a pair among the pairs it was counted on (at most its prior); the exact share is
    shrunk towards the prior like the sampled levels, so that tiny inputs do not drown in their matches.
    The exact level subtracts the larger of share * m and ``exact_matches`` (the expected matches among the
    candidate pairs at that level: every pair at the exact address or BSN is a candidate, so there this counts
    the matches pair by pair rather than through an estimate of m)."""
    out = {}
    for f in FIELDS:
        freq = u[f.name].copy()
        exact, total = agreements[f.name]
        floor = np.full(len(f.levels), U_FLOOR)
        if total:
            exact = (exact * total + U_PRIOR_WEIGHT * f.u_prior[0]) / (total + U_PRIOR_WEIGHT)
            rest = freq[1:].sum()
            freq[1:] *= (1.0 - exact) / rest if rest > 0 else 0.0
            freq[0] = exact
            floor[0] = min(0.5 / total, f.u_prior[0])
        corrected = np.maximum((freq - share * m[f.name]) / (1.0 - share), floor)
        if total:
            matched = max(exact_matches.get(f.name, 0.0), share * m[f.name][0] * total)
            corrected[0] = max((freq[0] * (total + U_PRIOR_WEIGHT) - matched) / (total + U_PRIOR_WEIGHT), floor[0])
        out[f.name] = corrected / corrected.sum()
    return out
