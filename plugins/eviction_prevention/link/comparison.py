"""Comparison (step 2): one level per field (``model.FIELDS``) for each candidate pair, from what the pair has;
level -1 is "missing on either side" and neutral (weight 0).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from eviction_prevention.link.encoding import Records
from eviction_prevention.link.model import (
    BLOOM_CLOSE,
    BLOOM_NEAR,
    FIELDS,
    POSITION_ONE,
    POSITION_TWO,
    SET_DICE_CLOSE,
    Codes,
    Field,
)


def _eq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) & (a >= 0)


_PREFIX_WORDS = 8  # words of a wide encoding compared first when only distances up to a limit matter


def _distance(
    left: Records,
    right: Records,
    li: np.ndarray,
    ri: np.ndarray,
    columns: tuple[str, str],
    limit: int | None = None,
    chunk: int = 250_000,
) -> np.ndarray:
    """Hamming distance of encoding ``columns[0]`` of the left and ``columns[1]`` of the right records (the same
    width); -1 when either is missing. With ``limit``, a distance above it may be returned as any value above
    it: the first _PREFIX_WORDS words are compared first, and only pairs still within the limit (the distance
    over a part never exceeds the whole) are compared on the rest."""
    lcol, rcol = columns
    lwords, rwords = left.words[lcol], right.words[rcol]
    split = _PREFIX_WORDS if limit is not None and lwords.shape[1] > 2 * _PREFIX_WORDS else lwords.shape[1]
    out = np.full(len(li), -1, dtype=np.int64)
    for start in range(0, len(li), chunk):
        sl = slice(start, start + chunk)
        a, b = li[sl], ri[sl]
        dist = np.bitwise_count(lwords[a, :split] ^ rwords[b, :split]).sum(axis=1, dtype=np.int64)
        if split < lwords.shape[1]:
            rest = np.flatnonzero(dist <= limit)
            dist[rest] += np.bitwise_count(lwords[a[rest], split:] ^ rwords[b[rest], split:]).sum(
                axis=1, dtype=np.int64
            )
        out[sl] = np.where(left.present[lcol][a] & right.present[rcol][b], dist, -1)
    return out


def _dice(left: Records, right: Records, li: np.ndarray, ri: np.ndarray, column: str) -> np.ndarray:
    """Dice coefficient of the bigram sets behind two encodings of ``column``; NaN when either is missing."""
    dist = _distance(left, right, li, ri, (column, column))
    ones = left.ones[column][li].astype(np.int64) + right.ones[column][ri]
    with np.errstate(invalid="ignore", divide="ignore"):
        dice = (ones - dist) / ones  # |a & b| = (|a| + |b| - |a ^ b|) / 2
    return np.where(dist >= 0, dice, np.nan)


def _close(dist: np.ndarray, limit: int) -> np.ndarray:
    return (dist >= 0) & (dist <= limit)


def _levels(conditions: list[np.ndarray], missing: np.ndarray) -> np.ndarray:
    """First true condition gives the level; none -> last level; missing -> -1."""
    gamma = np.select(conditions, list(range(len(conditions))), default=len(conditions)).astype(np.int8)
    gamma[missing] = -1
    return gamma


def gather(
    left: Records, right: Records, li: np.ndarray, ri: np.ndarray, columns: tuple[str, ...]
) -> tuple[Codes, Codes]:
    """The codes of ``columns`` for each pair, left and right (gathered per field, so only one field's
    columns are in memory at a time)."""
    return {c: left.codes[c][li] for c in columns}, {c: right.codes[c][ri] for c in columns}


def _names_swapped(left: Records, right: Records, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """Surname and given name written the other way round on one side: each close to the other side's other
    name, one of them within BLOOM_CLOSE and the other within BLOOM_NEAR (a typo in a swapped name)."""
    names = ("bf_surname", "bf_given_name")
    both = np.ones(len(li), dtype=bool)
    for column in names:
        both &= left.present[column][li] & right.present[column][ri]
    crossed = np.zeros(len(li), dtype=bool)
    rows = np.flatnonzero(both)
    one = _distance(left, right, li[rows], ri[rows], names, BLOOM_NEAR)
    near = _close(one, BLOOM_NEAR)
    rows, one = rows[near], one[near]
    other = _distance(left, right, li[rows], ri[rows], names[::-1], BLOOM_NEAR)
    crossed[rows] = _close(other, BLOOM_NEAR) & (np.minimum(one, other) <= BLOOM_CLOSE)
    return crossed


def _surname_levels(left: Records, right: Records, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    L, R = gather(left, right, li, ri, ("pk_surname", "pk_surname_1", "pk_surname_2", "pk_surname_phon"))
    missing = (L["pk_surname"] < 0) | (R["pk_surname"] < 0)
    exact = _eq(L["pk_surname"], R["pk_surname"])
    component = np.zeros(len(li), dtype=bool)
    for a in ("pk_surname_1", "pk_surname_2"):
        for b in ("pk_surname_1", "pk_surname_2"):
            component |= _eq(L[a], R[b])
    phon = _eq(L["pk_surname_phon"], R["pk_surname_phon"])
    todo = np.flatnonzero(~(missing | exact | component | phon))
    swapped = np.zeros(len(li), dtype=bool)
    swapped[todo] = _names_swapped(left, right, li[todo], ri[todo])
    dist = np.full(len(li), -1, dtype=np.int64)
    dist[todo] = _distance(left, right, li[todo], ri[todo], ("bf_surname", "bf_surname"), BLOOM_NEAR)
    return _levels([exact, component, phon, swapped, _close(dist, BLOOM_CLOSE), _close(dist, BLOOM_NEAR)], missing)


def _given_name_levels(left: Records, right: Records, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """Full given names when both records have one (levels 0-5), else initials (levels 6-9)."""
    L, R = gather(left, right, li, ri, ("pk_given_name", "pk_initials", "pk_initials_sorted", "pk_initial_1"))
    full = (L["pk_given_name"] >= 0) & (R["pk_given_name"] >= 0)
    missing = ~full & ((L["pk_initials"] < 0) | (R["pk_initials"] < 0))
    exact = _eq(L["pk_given_name"], R["pk_given_name"])
    todo = np.flatnonzero(full & ~exact)
    dist = np.full(len(li), -1, dtype=np.int64)
    dist[todo] = _distance(left, right, li[todo], ri[todo], ("bf_given_name", "bf_given_name"), BLOOM_NEAR)
    swapped = np.zeros(len(li), dtype=bool)
    swapped[todo] = _names_swapped(left, right, li[todo], ri[todo])
    first = _eq(L["pk_initial_1"], R["pk_initial_1"])
    return _levels(
        [
            exact,
            full & _close(dist, BLOOM_CLOSE),
            full & swapped,
            full & _close(dist, BLOOM_NEAR),
            full & first,
            full,
            _eq(L["pk_initials"], R["pk_initials"]),
            _eq(L["pk_initials_sorted"], R["pk_initials_sorted"]),
            first,
        ],
        missing,
    )


def _birth_date_levels(left: Records, right: Records, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    L, R = gather(left, right, li, ri, ("pk_birth_date", "pk_birth_dm_swapped", "pk_birth_md", "pk_birth_year"))
    digits = _distance(left, right, li, ri, ("bf_birth_date", "bf_birth_date"))
    missing = (digits < 0) & ((L["pk_birth_year"] < 0) | (R["pk_birth_year"] < 0))  # a year alone still compares
    swapped = _eq(L["pk_birth_dm_swapped"], R["pk_birth_date"]) | _eq(L["pk_birth_date"], R["pk_birth_dm_swapped"])
    return _levels(
        [
            _eq(L["pk_birth_date"], R["pk_birth_date"]) | (digits == 0),
            swapped,
            _close(digits, POSITION_ONE),
            _eq(L["pk_birth_md"], R["pk_birth_md"]),
            _close(digits, POSITION_TWO),
            _eq(L["pk_birth_year"], R["pk_birth_year"]),
        ],
        missing,
    )


# The exact address: postcode and house number with letter and suffix equal, and street and house number, and city,
# equal where both records have them.
ADDRESS_EXACT = ("pk_address", "pk_street_house", "pk_city")


def exact_address(L: Codes, R: Codes) -> np.ndarray:
    """Pairs (their ``ADDRESS_EXACT`` codes) at the exact address: the address pseudonym equal, and street with
    house number, and city, equal unless missing on either side."""
    exact = _eq(L["pk_address"], R["pk_address"])
    for column in ADDRESS_EXACT[1:]:
        exact &= (L[column] == R[column]) | (L[column] < 0) | (R[column] < 0)
    return exact


def _similar(left: Records, right: Records, li: np.ndarray, ri: np.ndarray, column: str) -> np.ndarray:
    """Address parts that agree allowing typos: a postcode (characters by position) with up to two characters
    typed over or swapped, a street or city (bigrams) with a Dice coefficient of at least SET_DICE_CLOSE."""
    if column == "bf_postcode":
        return _close(_distance(left, right, li, ri, (column, column)), POSITION_TWO)
    return _dice(left, right, li, ri, column) >= SET_DICE_CLOSE


def _address_levels(left: Records, right: Records, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """How many of postcode, street, house number and city agree (``_similar``); level 0 is the exact address
    (``exact_address``: where postcode and house number give street and city, as in the Netherlands, that is
    the postcode and house number; where they are independent, all four agreeing is far rarer among
    non-matches than any one, and its u is counted over all pairs like every exact level,
    ``estimate_u._exact_address_agreement``). Encodings are compared only where the pseudonyms leave it open."""
    L, R = gather(left, right, li, ri, ("pk_postcode", "pk_house_number", *ADDRESS_EXACT))
    exact = exact_address(L, R)
    known = np.zeros(len(li), dtype=np.int8)
    agree = np.zeros(len(li), dtype=np.int8)
    for column, pseudonym in (("bf_postcode", "pk_postcode"), ("bf_street", "pk_street_house"), ("bf_city", "pk_city")):
        encoded = left.present[column][li] & right.present[column][ri]
        present = encoded | ((L[pseudonym] >= 0) & (R[pseudonym] >= 0))  # seals migrated without the encodings
        same = _eq(L[pseudonym], R[pseudonym])
        rows = np.flatnonzero(encoded & ~same & ~exact)
        same[rows] = _similar(left, right, li[rows], ri[rows], column)
        known += present
        agree += same
    known += (L["pk_house_number"] >= 0) & (R["pk_house_number"] >= 0)
    agree += _eq(L["pk_house_number"], R["pk_house_number"])
    return _levels([exact, agree == 4, agree == 3, agree == 2, agree == 1], known == 0)


def _bsn_levels(left: Records, right: Records, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    L, R = gather(left, right, li, ri, ("pk_bsn",))
    return _levels([_eq(L["pk_bsn"], R["pk_bsn"])], (L["pk_bsn"] < 0) | (R["pk_bsn"] < 0))


_FIELD_LEVELS = {
    "surname": _surname_levels, "given_name": _given_name_levels, "birth_date": _birth_date_levels,
    "address": _address_levels, "bsn": _bsn_levels,
}  # fmt: skip


def compare_pairs(
    left: Records, right: Records, li: np.ndarray, ri: np.ndarray, fields: Iterable[Field] = FIELDS
) -> dict[str, np.ndarray]:
    """The comparison level of every pair on each of ``fields``."""
    return {f.name: _FIELD_LEVELS[f.name](left, right, li, ri) for f in fields}


def level_frequencies(gamma: np.ndarray, n_levels: int, weights: np.ndarray | None = None) -> np.ndarray:
    ok = gamma >= 0
    w = None if weights is None else weights[ok]
    return np.bincount(gamma[ok].astype(np.int64), weights=w, minlength=n_levels).astype(np.float64)
