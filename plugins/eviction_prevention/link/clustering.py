"""Assignment (step 5): pairs at or above the threshold, with ``one_to_one`` greedily by descending
probability, each id used at most once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eviction_prevention.link.model import ArrayLike


def greedy_one_to_one(left: ArrayLike, right: ArrayLike) -> np.ndarray:
    """Positions of the pairs (left[i], right[i]) kept when taking them in the given order and skipping any
    whose left or right is already taken (each id used at most once)."""
    left_codes, right_codes = pd.factorize(pd.Series(left))[0], pd.factorize(pd.Series(right))[0]
    used_left, used_right = bytearray(len(left_codes) + 1), bytearray(len(right_codes) + 1)
    keep = []
    for i, (a, b) in enumerate(zip(left_codes.tolist(), right_codes.tolist(), strict=True)):
        if not (used_left[a] or used_right[b]):
            used_left[a] = used_right[b] = 1
            keep.append(i)
    return np.array(keep, dtype=np.int64)


def assign_one_to_one(pairs: pd.DataFrame) -> pd.DataFrame:
    """Greedy assignment: highest probability first, each left and right id used at most once."""
    ordered = pairs.sort_values(
        ["match_probability", "left_id", "right_id"], ascending=[False, True, True], kind="mergesort"
    )
    return ordered.iloc[greedy_one_to_one(ordered["left_id"], ordered["right_id"])]
