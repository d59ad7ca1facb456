"""Blocking (step 1): candidate pairs are the union of the pairs that share any blocking key
(``model.BLOCKING_RULES``). A key value that would give more than ``max_block_pairs`` pairs is skipped (too
common to be informative, and it would blow up the candidate set).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from eviction_prevention.link.encoding import Records
from eviction_prevention.link.model import BLOCKING_RULES, Rule

log = logging.getLogger(__name__)


def block_keys(
    left: Records, right: Records, lcols: tuple[str, ...], rcols: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Blocking keys of both sides for one rule: int64 below 2**31, equal exactly when every column is
    equal, -1 when any column is missing (combinations are re-coded when they would outgrow that)."""
    parts = [np.concatenate([left.codes[a], right.codes[b]]) for a, b in zip(lcols, rcols, strict=True)]
    key = parts[0].astype(np.int64)
    for nxt in parts[1:]:
        key = np.where((key >= 0) & (nxt >= 0), key * (int(nxt.max(initial=0)) + 1) + nxt, -1)
        if key.max(initial=0) >= 1 << 31:
            key = np.where(key >= 0, pd.factorize(key)[0], -1)
    return key[: len(left)], key[len(left) :]


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows with a key, sorted by key, and per distinct key: (rows, keys, start of its run, run length).

    Sorting key and row packed into one int64 is several times faster than an argsort."""
    rows = np.flatnonzero(keys >= 0)
    packed = np.sort((keys[rows] << 32) | rows)
    sorted_keys, rows = packed >> 32, packed & 0xFFFFFFFF
    starts = np.flatnonzero(np.diff(sorted_keys, prepend=-1))
    return rows, sorted_keys[starts], starts, np.diff(starts, append=len(rows))


def block_pairs(
    lk: np.ndarray, rk: np.ndarray, cap: int | None = None, sample: tuple[int, np.random.Generator] | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Pairs (left row, right row) with equal keys: int64 keys below 2**31, -1 = missing (as ``block_keys``
    makes them). A key value that would give more than ``cap`` pairs is skipped. With ``sample`` (n, rng)
    and more than n pairs, only the pairs of a random share of the left rows are made (about n pairs).
    Returns the pairs (grouped by key) and the number of key values skipped."""
    lrows, lkeys, _, llens = _runs(lk)
    rrows, rkeys, rstarts, rlens = _runs(rk)
    if not len(lkeys) or not len(rkeys):
        return np.empty(0, np.int64), np.empty(0, np.int64), 0
    at = np.minimum(np.searchsorted(rkeys, lkeys), len(rkeys) - 1)
    common = rkeys[at] == lkeys
    keep = common if cap is None else common & (llens * rlens[at] <= cap)
    # each left row of a kept key value pairs with every row of that value's run on the right
    per_row = np.repeat(np.where(keep, rlens[at], 0), llens)
    if sample is not None and per_row.sum() > sample[0]:
        # drawn per left row number, so the sample does not depend on how the keys are coded
        per_row[(sample[1].random(len(lk)) >= sample[0] / per_row.sum())[lrows]] = 0
    first = np.repeat(rstarts[at], llens)
    li = np.repeat(lrows, per_row)
    step = np.arange(len(li)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    ri = rrows[np.repeat(first, per_row) + step]
    return li, ri, int((common & ~keep).sum())


def _rule_blocks(left: Records, right: Records, rule: Rule) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (left keys, right keys) to block on for one rule."""
    lk, rk = block_keys(left, right, rule.columns, rule.right or rule.columns)
    if rule.missing is None:
        return [(lk, rk)]
    return [
        (np.where(left.codes[rule.missing] < 0, lk, -1), rk),
        (lk, np.where(right.codes[rule.missing] < 0, rk, -1)),
    ]


def candidate_pairs(left: Records, right: Records, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """The union of the blocking rules' pairs, sorted by (left row, right row)."""
    n_right = max(len(right), 1)
    found = []
    skipped = 0
    for rule in BLOCKING_RULES:
        for lk, rk in _rule_blocks(left, right, rule):
            li, ri, s = block_pairs(lk, rk, cap)
            skipped += s
            found.append(li * n_right + ri)
    pair_ids = np.sort(np.concatenate(found)) if found else np.empty(0, np.int64)
    pair_ids = pair_ids[np.diff(pair_ids, prepend=-1) != 0]
    if skipped:
        log.info("linkage blocking: %d key values skipped as too common", skipped)
    return pair_ids // n_right, pair_ids % n_right
