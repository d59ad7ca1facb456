"""The linkage entry point: ``link`` scores two pseudonymised frames (``predict.score_pairs``), keeps the pairs
at or above the threshold and, with ``one_to_one``, assigns each id at most once (``clustering``); ``evaluate``
measures links against true pairs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import pandas as pd

from eviction_prevention.link.clustering import assign_one_to_one
from eviction_prevention.link.model import OUTPUT_COLUMNS
from eviction_prevention.link.predict import score_pairs

log = logging.getLogger(__name__)


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
        pairs = assign_one_to_one(pairs)
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
