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

import binascii
import csv
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from eviction_prevention.pseudonymise.arrow_rows import fixed_rows_array
from eviction_prevention.pseudonymise.pseudonyms import (
    BLOOM_HASHES,
    ENCODING_BITS,
    POSITION_HASHES,
    person_pseudonyms,
)
from eviction_prevention.spreadsheet_safety import neutralised_frame

__all__ = [
    "BLOCKING_RULES", "FIELDS", "TRAINING_RULES", "Encoder", "Records", "Rule", "block_pairs", "encode", "evaluate",
    "greedy_one_to_one", "link", "link_csv", "score_pairs", "score_records", "with_ids",
]  # fmt: skip

log = logging.getLogger(__name__)

ArrayLike = Any  # a numpy array, pandas Series or extension array
Codes = dict[str, np.ndarray]  # pseudonym column -> integer codes

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
    "given": ("pk_given_name",),
    "name_pair": ("pk_name_pair",),
    "name_letters": ("pk_name_letters",),
    "initials": ("pk_initials",),
    "initials_sorted": ("pk_initials_sorted",),
    "initial_1": ("pk_initial_1",),
    "postcode": ("pk_postcode",),
    "address": ("pk_address",),
    "street_house": ("pk_street_house",),
    "house": ("pk_house_number",),
    "city": ("pk_city",),
}


@dataclass(frozen=True)
class Rule:
    """A blocking key: records pair when ``columns`` of the left record equal ``right`` (default: the same
    columns) of the right record. With ``missing``, only pairs where that column is missing on one side
    or the other: a fallback for records the rules on that column cannot reach."""

    columns: tuple[str, ...]
    right: tuple[str, ...] | None = None
    missing: str | None = None


# Every rule pairs records on at least two fields, or on one that is nearly unique per person (BSN,
# address), so the pairs per record stay few as the data grows (a single birth date or street and house
# number is shared by ever more records). Together they reach the matches that one or two kinds of noise
# leave (typo, other surname, moved, other or missing initials, missing or swapped birth date, a typo
# in the birth year); the last three are fallbacks for records without a birth date.
BLOCKING_RULES: tuple[Rule, ...] = (
    Rule(("pk_bsn",)),
    Rule(("pk_address",)),
    Rule(("pk_birth_date", "pk_initial_1")),
    Rule(("pk_birth_date", "pk_initials_sorted")),
    Rule(("pk_birth_date", "pk_surname_phon")),
    Rule(("pk_birth_date", "pk_postcode")),
    Rule(("pk_birth_date", "pk_house_number")),
    Rule(("pk_birth_dm_swapped", "pk_initial_1"), ("pk_birth_date", "pk_initial_1")),
    Rule(("pk_surname_phon", "pk_initial_1", "pk_birth_md")),
    Rule(("pk_surname_2", "pk_birth_year")),
    Rule(("pk_postcode", "pk_surname_phon")),
    Rule(("pk_name_pair",)),
    Rule(("pk_birth_date", "pk_name_letters")),
    Rule(("pk_street_house", "pk_surname_phon")),
    Rule(("pk_given_name", "pk_house_number", "pk_city")),
    Rule(("pk_street_house", "pk_initial_1")),
    Rule(("pk_surname_phon", "pk_initials"), missing="pk_birth_date"),
    Rule(("pk_postcode", "pk_initial_1"), missing="pk_birth_date"),
)

# EM training sessions (Splink style): the pairs of one blocking key, with the fields that key
# conditions on left out, so that non-matches in the session look like random pairs on the other fields.
TRAINING_RULES: tuple[tuple[tuple[str, ...], frozenset[str]], ...] = (
    (("pk_birth_date",), frozenset({"birth_date"})),
    (("pk_surname_phon", "pk_initial_1"), frozenset({"surname", "given_name"})),
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
        ("exact", "component", "phonetic", "swapped", "bloom_close", "bloom_near", "else"),
        (0.005, 0.002, 0.005, 0.0005, 0.005, 0.02, 0.9625),
        (0.78, 0.06, 0.04, 0.02, 0.05, 0.02, 0.03),
    ),
    # Full given names when both sides have one, else initials (a corporation knows only initials).
    Field(
        "given_name",
        (
            "name_exact",
            "name_close",
            "name_swapped",
            "name_near",
            "name_first_letter",
            "name_else",
            "initials_exact",
            "initials_sorted",
            "initial_first",
            "initials_else",
        ),
        (0.01, 0.005, 0.0005, 0.01, 0.05, 0.4245, 0.03, 0.003, 0.05, 0.417),
        (0.40, 0.05, 0.01, 0.02, 0.01, 0.01, 0.40, 0.02, 0.05, 0.03),
    ),
    Field(
        "birth_date",
        ("exact", "day_month_swapped", "one_digit", "month_day", "two_digits", "year", "else"),
        (0.0001, 0.0001, 0.001, 0.003, 0.005, 0.02, 0.9708),
        (0.88, 0.01, 0.04, 0.02, 0.01, 0.01, 0.03),
    ),
    # Postcode (one or two characters typed over count), street (bigram Dice), house number, city: how many agree.
    Field(
        "address",
        ("exact", "four", "three", "two", "one", "none"),
        (0.0005, 0.0002, 0.001, 0.01, 0.2, 0.7883),
        (0.55, 0.15, 0.10, 0.05, 0.05, 0.10),
    ),
    Field("bsn", ("exact", "differ"), (1e-6, 1.0 - 1e-6), (0.98, 0.02)),
)

_U_PRIOR_WEIGHT = 50.0  # pseudo-pairs behind the u prior (matters only for tiny inputs)
_M_PRIOR_WEIGHT = 5.0  # pseudo-matches behind the m prior
_RANDOM_PAIRS = 200_000
_U_CORRECTIONS = 3  # passes of the u correction for the matches among random pairs (_correct_u)
_TRAINING_PAIRS = 200_000  # per EM training session (sampled beyond that)
_U_FLOOR = 1.0 / (4 * _RANDOM_PAIRS)  # u of a level after correction: never below a quarter of one sample pair
_ENCODINGS = tuple(ENCODING_BITS)  # the Bloom encoding columns (bf_*)
# Hamming distance bands of the hardened surname encodings: a one-letter typo changes about four bigrams
# (8 * BLOOM_HASHES encoded bits, fewer with collisions), the keyed bit flips add up to 4 * BLOOM_FLIPS.
BLOOM_CLOSE = 10 * BLOOM_HASHES
BLOOM_NEAR = 16 * BLOOM_HASHES
# Bigram sets (street, city): similar when their Dice coefficient is at least this.
SET_DICE_CLOSE = 0.75
# Characters by position (postcode, birth date): one or two characters typed over or swapped.
POSITION_ONE = 2 * POSITION_HASHES
POSITION_TWO = 4 * POSITION_HASHES


@dataclass(frozen=True)
class Records:
    """One source's records encoded for linkage (``encode``): an integer code per pseudonym value, shared
    with the records they are compared with (-1 = missing), and each Bloom encoding as 64-bit words."""

    ids: np.ndarray | pd.api.extensions.ExtensionArray
    codes: dict[str, np.ndarray]  # int32 per pseudonym column
    words: dict[str, np.ndarray]  # (n, words) uint64 per encoding column, zeros if missing
    present: dict[str, np.ndarray]  # (n,) bool per encoding column
    ones: dict[str, np.ndarray]  # (n,) int16 per encoding column: bits set

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows: np.ndarray) -> Records:
        """The records ``rows``, in that order."""
        codes = {c: v[rows] for c, v in self.codes.items()}
        words = {c: v[rows] for c, v in self.words.items()}
        present = {c: v[rows] for c, v in self.present.items()}
        ones = {c: v[rows] for c, v in self.ones.items()}
        return Records(self.ids.take(rows), codes, words, present, ones)


def arrow_text(values: Iterable[object]) -> pa.ChunkedArray:
    """Text values as Arrow large_string chunks: zero-copy for Arrow-backed pandas strings (a query
    result comes in several chunks; joining them would copy every string)."""
    array = pa.array(values, type=pa.large_string(), from_pandas=True)
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


def _text(df: pd.DataFrame, name: str) -> pa.ChunkedArray:
    """A text column as Arrow chunks (all null if absent)."""
    return arrow_text(df[name]) if name in df.columns else pa.chunked_array([pa.nulls(len(df), pa.large_string())])


def _words(values: pa.ChunkedArray, nbytes: int, name: str, block: int = 1 << 16) -> np.ndarray:
    """Hex encodings of ``nbytes`` bytes as (n, words) uint64, zeros if missing.

    Decoded from the Arrow buffers a block of rows at a time, without a Python string per value; only an
    encoding shorter than the full width (never written by the pseudonymiser) is left-padded one by one."""
    out = np.zeros((len(values), -(-nbytes // 8) * 8), dtype=np.uint8)
    row = 0
    for chunk in values.chunks:
        for start in range(0, len(chunk), block):
            part = chunk.slice(start, block)
            _decode_hex_rows(part, out[row : row + len(part)], nbytes, name)
            row += len(part)
    return out.view(np.uint64)


def _decode_hex_rows(part: pa.Array, out: np.ndarray, nbytes: int, name: str) -> None:
    """Decode the hex strings of ``part`` (large_string) into the rows of ``out``; missing rows stay zero."""
    hex_len = 2 * nbytes
    bounds = np.frombuffer(part.buffers()[1], dtype=np.int64)[part.offset : part.offset + len(part) + 1]
    lengths = np.diff(bounds) * pc.is_valid(part).to_numpy(zero_copy_only=False)
    if (lengths > hex_len).any():
        raise ValueError(f"{name}: an encoding is longer than {hex_len} hex digits")
    data = np.frombuffer(part.buffers()[2], dtype=np.uint8) if part.buffers()[2] else np.empty(0, np.uint8)
    full = np.flatnonzero(lengths == hex_len)
    if len(full) == len(part):  # the usual case: one contiguous run of hex digits
        digits = data[bounds[0] : bounds[-1]]
    else:
        digits = data[(bounds[full, None] + np.arange(hex_len)).ravel()]
    raw = np.frombuffer(binascii.a2b_hex(digits), dtype=np.uint8)  # binascii.Error (a ValueError) if not hex
    out[full, :nbytes] = raw.reshape(len(full), nbytes)
    for row in np.flatnonzero((lengths > 0) & (lengths < hex_len)):
        out[row, :nbytes] = np.frombuffer(bytes.fromhex(part[row].as_py().zfill(hex_len)), np.uint8)


class Encoder:
    """Encodes sources one at a time in one shared code space, so that any two of them can be scored
    (``score_records``) and a value has the same code in every source.

    A source comes as text (``records``: hex pseudonyms in a frame, as ``pseudonymise`` writes them) or as
    raw bytes (``raw_records``: the tokens of opened seals, ``sealing.open_seals``); one encoder takes one
    form only, since the same token in the two forms is two different values. Per code group it keeps the
    distinct values seen so far, in order of first appearance; each source is dictionary-encoded by Arrow
    (hashing in C, no Python object per value) and its dictionary mapped onto those. A source's text or
    bytes can be dropped once it is encoded."""

    def __init__(self) -> None:
        self._values = {group: pa.array([], pa.large_binary()) for group in _CODE_GROUPS}
        self._form: str | None = None

    def _take_form(self, form: str) -> None:
        if self._form not in (None, form):
            raise ValueError(f"this encoder encoded {self._form} pseudonyms; {form} ones would not compare")
        self._form = form

    def _codes(self, group: str, parts: list[pa.ChunkedArray]) -> list[np.ndarray]:
        """Codes (int32, -1 = missing or empty) of the columns ``parts`` (large_binary) of one code group."""
        encoded = pc.dictionary_encode(pa.chunked_array([c for part in parts for c in part.chunks], pa.large_binary()))
        local = encoded.chunk(0).dictionary if encoded.num_chunks else pa.array([], pa.large_binary())
        seen = self._values[group]
        known = pc.index_in(local, value_set=seen)
        new = local.filter(pc.is_null(known))
        self._values[group] = pa.concat_arrays([seen, new])
        mapping = pc.fill_null(known, -1).to_numpy().astype(np.int32)
        mapping[mapping < 0] = np.arange(len(seen), len(seen) + len(new), dtype=np.int32)
        mapping[pc.fill_null(pc.equal(local, b""), False).to_numpy(zero_copy_only=False)] = -1
        mapping = np.append(mapping, np.int32(-1))  # local index -1 (null) stays missing
        indices = pa.chunked_array([chunk.indices for chunk in encoded.chunks], pa.int32())
        codes = mapping[pc.fill_null(indices, -1).to_numpy()]
        return np.split(codes, np.cumsum([len(part) for part in parts])[:-1])

    def _records(
        self, ids: pd.Series, column: Callable[[str], pa.ChunkedArray], words: dict[str, np.ndarray]
    ) -> Records:
        codes = {}
        for group, cols in _CODE_GROUPS.items():
            codes.update(zip(cols, self._codes(group, [column(c) for c in cols]), strict=True))
        # text ids stay Arrow strings (taking rows from them is cheap); other ids as objects, as given
        ids = ids.array if isinstance(ids.dtype, pd.StringDtype) else ids.to_numpy(dtype=object)
        ones = {c: np.bitwise_count(w).sum(axis=1, dtype=np.int16) for c, w in words.items()}
        return Records(ids, codes, words, {c: n > 0 for c, n in ones.items()}, ones)

    def records(self, frame: pd.DataFrame, id_column: str = "record_key") -> Records:
        """The records of one source (the person pseudonym columns of ``frame``, as text; absent ones are
        missing)."""
        self._take_form("text")
        words = {c: _words(_text(frame, c), ENCODING_BITS[c] // 8, c) for c in _ENCODINGS}
        return self._records(frame[id_column], lambda c: _text(frame, c).cast(pa.large_binary()), words)

    def raw_records(self, ids: pd.Series, present: Mapping[str, np.ndarray], raw: Mapping[str, np.ndarray]) -> Records:
        """The records of one source from raw tokens: per pseudonym column, whether each row has it and its
        bytes ((rows, width) uint8, zeros where missing); absent columns are missing."""
        self._take_form("raw")
        n = len(ids)
        words = {c: _raw_words(raw.get(c), n, ENCODING_BITS[c] // 8, c) for c in _ENCODINGS}
        return self._records(ids, lambda c: _raw_binary(present.get(c), raw.get(c), n), words)


def _raw_binary(present: np.ndarray | None, raw: np.ndarray | None, n: int) -> pa.ChunkedArray:
    """Raw tokens as Arrow large_binary, null where not present."""
    if present is None or raw is None:
        return pa.chunked_array([pa.nulls(n, pa.large_binary())])
    return pa.chunked_array([fixed_rows_array(raw, present)])


def _raw_words(raw: np.ndarray | None, n: int, nbytes: int, name: str) -> np.ndarray:
    """Raw encodings of ``nbytes`` bytes as (n, words) uint64 (laid out as ``_words`` lays out hex), zeros
    if missing."""
    out = np.zeros((n, -(-nbytes // 8) * 8), dtype=np.uint8)
    if raw is not None:
        if raw.shape[1] != nbytes:
            raise ValueError(f"{name}: encodings of {raw.shape[1]} bytes, not {nbytes}")
        out[:, :nbytes] = raw
    return out.view(np.uint64)


def encode(frames: Sequence[pd.DataFrame], id_columns: str | Sequence[str] = "record_key") -> list[Records]:
    """Encode several sources in one shared code space (see ``Encoder``). ``id_columns``: one name for all
    frames or one per frame."""
    names = [id_columns] * len(frames) if isinstance(id_columns, str) else list(id_columns)
    encoder = Encoder()
    return [encoder.records(frame, name) for frame, name in zip(frames, names, strict=True)]


def _keys(
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
    """Pairs (left row, right row) with equal keys: int64 keys below 2**31, -1 = missing (as ``_keys``
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
    lk, rk = _keys(left, right, rule.columns, rule.right or rule.columns)
    if rule.missing is None:
        return [(lk, rk)]
    return [
        (np.where(left.codes[rule.missing] < 0, lk, -1), rk),
        (lk, np.where(right.codes[rule.missing] < 0, rk, -1)),
    ]


def _candidate_pairs(left: Records, right: Records, cap: int) -> tuple[np.ndarray, np.ndarray]:
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


def _gather(
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
    L, R = _gather(left, right, li, ri, ("pk_surname", "pk_surname_1", "pk_surname_2", "pk_surname_phon"))
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
    L, R = _gather(left, right, li, ri, ("pk_given_name", "pk_initials", "pk_initials_sorted", "pk_initial_1"))
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
    L, R = _gather(left, right, li, ri, ("pk_birth_date", "pk_birth_dm_swapped", "pk_birth_md", "pk_birth_year"))
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
_ADDRESS_EXACT = ("pk_address", "pk_street_house", "pk_city")


def _exact_address(L: Codes, R: Codes) -> np.ndarray:
    """Pairs (their ``_ADDRESS_EXACT`` codes) at the exact address: the address pseudonym equal, and street with
    house number, and city, equal unless missing on either side."""
    exact = _eq(L["pk_address"], R["pk_address"])
    for column in _ADDRESS_EXACT[1:]:
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
    (``_exact_address``: where postcode and house number give street and city, as in the Netherlands, that is
    the postcode and house number; where they are independent, all four agreeing is far rarer among
    non-matches than any one, and its u is counted over all pairs like every exact level,
    ``_exact_address_agreement``). Encodings are compared only where the pseudonyms leave it open."""
    L, R = _gather(left, right, li, ri, ("pk_postcode", "pk_house_number", *_ADDRESS_EXACT))
    exact = _exact_address(L, R)
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
    L, R = _gather(left, right, li, ri, ("pk_bsn",))
    return _levels([_eq(L["pk_bsn"], R["pk_bsn"])], (L["pk_bsn"] < 0) | (R["pk_bsn"] < 0))


_FIELD_LEVELS = {
    "surname": _surname_levels, "given_name": _given_name_levels, "birth_date": _birth_date_levels,
    "address": _address_levels, "bsn": _bsn_levels,
}  # fmt: skip


def _compare(
    left: Records, right: Records, li: np.ndarray, ri: np.ndarray, fields: Iterable[Field] = FIELDS
) -> dict[str, np.ndarray]:
    """The comparison level of every pair on each of ``fields``."""
    return {f.name: _FIELD_LEVELS[f.name](left, right, li, ri) for f in fields}


def _level_frequencies(gamma: np.ndarray, n_levels: int, weights: np.ndarray | None = None) -> np.ndarray:
    ok = gamma >= 0
    w = None if weights is None else weights[ok]
    return np.bincount(gamma[ok].astype(np.int64), weights=w, minlength=n_levels).astype(np.float64)


def _estimate_u(left: Records, right: Records, seed: int) -> dict[str, np.ndarray]:
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
    """``_exact_agreement`` of the exact address (``_exact_address``): the pairs sharing the address pseudonym,
    from value counts, less those whose street or city differ (checked on the pairs themselves; an address
    shared by more than _EXACT_ADDRESS_CAP pairs counts whole, so u errs high, towards a weaker weight)."""
    share, total = _exact_agreement(left, right, "pk_address")
    lk, rk = left.codes["pk_address"].astype(np.int64), right.codes["pk_address"].astype(np.int64)
    li, ri, _ = block_pairs(lk, rk, _EXACT_ADDRESS_CAP)
    L, R = _gather(left, right, li, ri, _ADDRESS_EXACT)
    differ = float(len(li) - _exact_address(L, R).sum())
    return (share * total - differ) / total if total else 0.0, total


def _exact_agreements(left: Records, right: Records) -> dict[str, tuple[float, float]]:
    """Per field, the share of pairs at its exact level and the number of pairs it was counted on
    (``_exact_agreement``; the address: ``_exact_address_agreement``). They depend on the records only."""
    out = {}
    for f in FIELDS:
        if f.name == "address":
            out[f.name] = _exact_address_agreement(left, right)
        else:
            out[f.name] = _exact_agreement(left, right, _EXACT_COLUMN[f.name], _COMPARABLE_COLUMN.get(f.name))
    return out


def _correct_u(
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
        floor = np.full(len(f.levels), _U_FLOOR)
        if total:
            exact = (exact * total + _U_PRIOR_WEIGHT * f.u_prior[0]) / (total + _U_PRIOR_WEIGHT)
            rest = freq[1:].sum()
            freq[1:] *= (1.0 - exact) / rest if rest > 0 else 0.0
            freq[0] = exact
            floor[0] = min(0.5 / total, f.u_prior[0])
        corrected = np.maximum((freq - share * m[f.name]) / (1.0 - share), floor)
        if total:
            matched = max(exact_matches.get(f.name, 0.0), share * m[f.name][0] * total)
            corrected[0] = max((freq[0] * (total + _U_PRIOR_WEIGHT) - matched) / (total + _U_PRIOR_WEIGHT), floor[0])
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


# Levels of exact agreement that are term-frequency adjusted: (field, level, the column that holds the value).
_TF_LEVELS = (("surname", 0, "pk_surname"), ("given_name", 0, "pk_given_name"), ("given_name", 6, "pk_initials"))


def _log_term_frequency(
    left: Records, right: Records, li: np.ndarray, gamma: np.ndarray, level: int, column: str
) -> np.ndarray:
    """For pairs at ``level`` (exact agreement on ``column``): log of the value's share among the non-missing
    values of both sides (floored at one record); NaN for the other pairs."""
    lcodes, rcodes = left.codes[column], right.codes[column]
    allcodes = np.concatenate([lcodes, rcodes])
    allcodes = allcodes[allcodes >= 0]
    out = np.full(len(li), np.nan)
    if len(allcodes):
        freq = np.bincount(allcodes) / len(allcodes)
        exact = gamma == level
        out[exact] = np.log(np.maximum(freq[lcodes[li[exact]]], 1.0 / len(allcodes)))
    return out


def _tf_adjustment(log_tf: np.ndarray, u_exact: float) -> np.ndarray:
    """Extra log-weight for exact agreement: log(u_exact / tf(value)), from ``_log_term_frequency``.
    Agreeing on a rare surname or on the initials "MO" counts more than agreeing on "Jansen" or "J"."""
    return np.where(np.isnan(log_tf), 0.0, np.log(u_exact) - log_tf)


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
class _Session:
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
    session: _Session, u: dict[str, np.ndarray], max_iter: int, tol: float = 1e-6
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
        p = _sigmoid(np.log(lam) - np.log1p(-lam) + _log_ratio(gammas, m, u, fields))
        new_lam = float(np.clip(np.dot(p, pairs) / pairs.sum(), 1e-6, 1 - 1e-6))
        new_m = {}
        for f in fields:
            counts = _level_frequencies(gammas[f.name], len(f.levels), p * pairs)
            support[f.name] = float(counts.sum())
            new_m[f.name] = (counts + _M_PRIOR_WEIGHT * np.asarray(f.m_prior)) / (counts.sum() + _M_PRIOR_WEIGHT)
        delta = max([abs(new_lam - lam)] + [float(np.abs(new_m[k] - m[k]).max()) for k in m])
        lam, m = new_lam, new_m
        if delta < tol:
            break
    return m, support, lam, iterations


def _training_sessions(left: Records, right: Records, cap: int, seed: int) -> list[_Session]:
    """The sessions of TRAINING_RULES with at least 10 pairs; a session with more than _TRAINING_PAIRS
    pairs is trained on a random sample of its left records' pairs (the patterns' shares, which is all
    EM sees, stay the same; the cost stays linear)."""
    rng = np.random.default_rng((seed, 1))  # a stream of its own (the u sample draws from ``seed``)
    sessions = []
    for cols, conditioned in TRAINING_RULES:
        li, ri, _ = block_pairs(*_keys(left, right, cols, cols), cap, (_TRAINING_PAIRS, rng))
        if len(li) < 10:
            continue
        fields = [f for f in FIELDS if f.name not in conditioned]
        patterns, pairs = _patterns(_compare(left, right, li, ri, fields), fields)
        sessions.append(_Session("+".join(cols), fields, patterns, pairs))
    return sessions


def _estimate_m(sessions: list[_Session], u: dict[str, np.ndarray], max_iter: int) -> tuple[dict[str, np.ndarray], int]:
    """m per field: the support-weighted mean over the training sessions that estimate it (prior if none)."""
    total = {f.name: _M_PRIOR_WEIGHT * np.asarray(f.m_prior, dtype=np.float64) for f in FIELDS}
    weight = {f.name: _M_PRIOR_WEIGHT for f in FIELDS}
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
    li, ri = _candidate_pairs(left, right, max_block_pairs) if len(left) and len(right) else (_NO_ROWS, _NO_ROWS)
    if not len(li):
        log.info("linkage: %d x %d records, 0 candidate pairs", len(left), len(right))
        return pd.DataFrame(
            {"left_row": _NO_ROWS, "right_row": _NO_ROWS, **{f.name: np.empty(0, np.int8) for f in FIELDS},
             "match_weight": np.empty(0), "match_probability": np.empty(0)}
        )  # fmt: skip
    gammas = _compare(left, right, li, ri)
    log_tf = {
        (field, level): _log_term_frequency(left, right, li, gammas[field], level, column)
        for field, level, column in _TF_LEVELS
    }
    sessions = _training_sessions(left, right, max_block_pairs, seed)
    u = _estimate_u(left, right, seed)
    sampled, agreements = u, _exact_agreements(left, right)
    m, log_lr, iterations = _log_likelihood_ratio(gammas, log_tf, sessions, u, max_iter)
    # u without the matches among the random pairs (their share from the previous pass), then score again;
    # the corrected u raises the weights, which finds more of the matches, so the correction is repeated
    for _ in range(_U_CORRECTIONS):
        prob = _match_shares(log_lr, li, ri, len(left), len(right), False)[0]
        exact_matches = {f.name: float(prob[gammas[f.name] == 0].sum()) for f in FIELDS}
        u = _correct_u(agreements, sampled, m, float(prob.sum()) / (len(left) * len(right)), exact_matches)
        m, log_lr, iterations = _log_likelihood_ratio(gammas, log_tf, sessions, u, max_iter)
    prob, pi_left, pi_right = _match_shares(log_lr, li, ri, len(left), len(right), exclusive)
    log.info(
        "linkage: %d x %d records, %d candidate pairs, %d EM iterations, match share left=%.4f right=%.4f",
        len(left), len(right), len(li), iterations, pi_left, pi_right,
    )  # fmt: skip
    return pd.DataFrame(
        {"left_row": li, "right_row": ri, **gammas, "match_weight": log_lr / np.log(2), "match_probability": prob}
    )


def _log_likelihood_ratio(
    gammas: dict[str, np.ndarray], log_tf: dict[tuple[str, int], np.ndarray], sessions: list[_Session],
    u: dict[str, np.ndarray], max_iter: int,
) -> tuple[dict[str, np.ndarray], np.ndarray, int]:  # fmt: skip
    """m from the training sessions, and the natural-log m/u of every pair, term-frequency adjusted."""
    m, iterations = _estimate_m(sessions, u, max_iter)
    log_lr = _log_ratio(gammas, m, u)
    for field, level, _ in _TF_LEVELS:
        log_lr += _tf_adjustment(log_tf[(field, level)], float(u[field][level]))
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


def _one_to_one(pairs: pd.DataFrame) -> pd.DataFrame:
    """Greedy assignment: highest probability first, each left and right id used at most once."""
    ordered = pairs.sort_values(
        ["match_probability", "left_id", "right_id"], ascending=[False, True, True], kind="mergesort"
    )
    return ordered.iloc[greedy_one_to_one(ordered["left_id"], ordered["right_id"])]


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
    # FEBRL's layout (address_2, state and soc_sec_id are not used)
    "rec_id": "record_id",
    "street_number": "house_number",
    "address_1": "street",
    "suburb": "city",
    "date_of_birth": "birth_date",
}


def _read_person_csv(path: Path) -> pd.DataFrame:
    """All columns as text, spaces around headers and cells stripped (FEBRL's ``", "`` separators), empty cells
    as None; ``;`` or ``,`` separated; UTF-8 (BOM ok) or cp1252."""
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
    df = df.apply(lambda column: column.str.strip())
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
    neutralised_frame(pairs).to_csv(out, index=False, float_format="%.6f")  # ids come from the input files
    return len(pairs)
