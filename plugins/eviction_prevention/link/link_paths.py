"""Links from pairs: the best pair per record above the threshold, two-step paths through a third source, and
records that share a valid BSN.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from eviction_prevention.link import blocking, encoding, predict
from eviction_prevention.link.model import ArrayLike
from eviction_prevention.link.source_records import CASE_CANDIDATE_THRESHOLD


def as_links(pairs: pd.DataFrame, link_type: str) -> pd.DataFrame:
    out = pairs.rename(columns={"left_id": "left_key", "right_id": "right_key"})[
        ["left_key", "right_key", "match_probability"]
    ].copy()
    out.insert(0, "link_type", link_type)
    return out


PAIR_COLUMNS = ["left_id", "right_id", "match_probability"]


def as_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[PAIR_COLUMNS].reset_index(drop=True) if len(frame) else pd.DataFrame(columns=PAIR_COLUMNS)


def reverse(pairs: pd.DataFrame) -> pd.DataFrame:
    """The same links seen from the other side."""
    return as_pairs(pairs.rename(columns={"left_id": "right_id", "right_id": "left_id"}))


def two_step(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """Paths left -(first)-> middle -(second)-> right, with probability the product of both steps."""
    if first.empty or second.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    path = first.merge(second, left_on="right_id", right_on="left_id", suffixes=("", "_2"))
    path["match_probability"] = path["match_probability"].astype(float) * path["match_probability_2"].astype(float)
    return as_pairs(path[["left_id", "right_id_2", "match_probability"]].rename(columns={"right_id_2": "right_id"}))


def best_links(candidates: Iterable[pd.DataFrame], threshold: float) -> pd.DataFrame:
    """Per (left, right) the highest probability among the candidate sets, kept at ``threshold``."""
    frames = [as_pairs(f) for f in candidates if len(f)]
    if not frames:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    pairs = pd.concat(frames, ignore_index=True)
    pairs["match_probability"] = pairs["match_probability"].astype(float)
    pairs = pairs[pairs["match_probability"] >= threshold]
    pairs = pairs.sort_values("match_probability", ascending=False, kind="mergesort")
    pairs = pairs.drop_duplicates(["left_id", "right_id"])
    return as_pairs(pairs.sort_values(["left_id", "right_id"], kind="mergesort"))


def same_bsn(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Pairs of records that carry the same BSN pseudonym (probability 1; a record is not paired with itself)."""
    codes = pd.factorize(pd.concat([left["pk_bsn"], right["pk_bsn"]], ignore_index=True))[0].astype(np.int64)
    li, ri, _ = blocking.block_pairs(codes[: len(left)], codes[len(left) :])
    lids = np.asarray(left["id"].array.take(li))
    rids = np.asarray(right["id"].array.take(ri))
    keep = lids != rids
    pairs = pd.DataFrame({"left_id": lids[keep], "right_id": rids[keep], "match_probability": 1.0})
    return as_pairs(pairs.sort_values(["left_id", "right_id"], kind="mergesort"))


def person_links(
    left: encoding.Records, right: encoding.Records, left_ids: ArrayLike, right_ids: ArrayLike,
    threshold: float = CASE_CANDIDATE_THRESHOLD,
) -> pd.DataFrame:  # fmt: skip
    """Person links at ``threshold``, each pair scored on its own (one record may link to several)."""
    scored = predict.score_records(left, right, exclusive=False)
    return as_pairs(predict.with_ids(scored[scored["match_probability"] >= threshold], left_ids, right_ids))
