"""Probabilistic record linkage (Fellegi-Sunter) on pseudonym columns only.

Design:

0. *Encoding*: each source's pseudonyms become integer codes in one code space shared by all sources
   (``Encoder``: Arrow dictionary-encodes the strings; -1 = missing) and its hex surname encodings
   64-bit words; everything below works on these arrays, never on a Python object per record or pair.
1. *Blocking*: candidate pairs are the union of the pairs that share any blocking key
   (``BLOCKING_RULES``). Each key combines at least two fields, or is one field nearly unique per person
   (BSN, address), so the pairs per record stay few as the data grows; some keys only pair records
   that lack a birth date. A key value that would give more than ``max_block_pairs`` pairs is skipped
   (too common to be informative, and it would blow up the candidate set).
2. *Comparison*: each candidate pair gets one level per field (``FIELDS``), using what the pair has:
   surname (exact, a shared component of a double name, phonetic, written in the given-name field, keyed
   Bloom distance); given name (the full first given names when both records have one: exact, close, swapped
   with the surname, near, same first letter; else the initials); birth date (exact, day and month swapped,
   one digit typed over, month and day, two digits, the year alone: also when one side knows only the year);
   address (the exact address, else how many of postcode, street, house number and city agree, a postcode
   with up to two characters typed over or swapped and a street or city by bigram Dice); BSN. Level -1 is
   "missing on either side" and is neutral (weight 0).
3. *Parameters*: u (level frequencies among non-matches) comes from a sample of random pairs
   (shrunk towards priors for tiny inputs). m comes from EM with u fixed, run in training sessions
   on the pairs of one blocking key each (``TRAINING_RULES``), leaving out the fields that key
   conditions on, so that the non-matches in a session look like random pairs on the fields that are
   estimated (Splink's approach; EM over all blocked pairs at once is fooled by blocked non-matches).
   A session is sampled down to _TRAINING_PAIRS pairs, and EM runs over its distinct comparison
   patterns weighted by their counts. Exact agreement on surname, given name and initials is
   term-frequency adjusted.
4. *Scoring*: match weight = sum of log2(m/u) over fields. match_probability is a record-level
   posterior: a record has at most one match on the other side, with probability pi (the match share,
   itself estimated by EM); competing candidates of the same record lower each other's probability.
   The smaller of the left-record and right-record view is used.
5. *Assignment*: pairs at or above ``threshold``; with ``one_to_one`` greedily by descending
   probability, each id used at most once.

Random samples (u pairs, training sessions) are drawn by row number from a fixed seed: the same rows
in the same order give the same result; the codes' values never matter.

Only counts are logged (records, pairs, iterations, lambda), never values.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import pandas as pd

from eviction_prevention.link.clustering import _one_to_one
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
