"""Encoding (step 0): each source's pseudonyms become integer codes in one code space shared by all sources
(``Encoder``: Arrow dictionary-encodes the strings; -1 = missing) and its hex surname encodings 64-bit words;
everything after works on these arrays, never on a Python object per record or pair.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from eviction_prevention.link.model import CODE_GROUPS, ENCODINGS
from eviction_prevention.pseudonymise.arrow_rows import fixed_rows_array
from eviction_prevention.pseudonymise.pseudonymiser import ENCODING_BITS


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
    (``predict.score_records``) and a value has the same code in every source.

    A source comes as text (``records``: hex pseudonyms in a frame, as ``frames.pseudonymise_frame`` writes them) or as
    raw bytes (``raw_records``: the tokens of opened seals, ``sealing.open_seals``); one encoder takes one
    form only, since the same token in the two forms is two different values. Per code group it keeps the
    distinct values seen so far, in order of first appearance; each source is dictionary-encoded by Arrow
    (hashing in C, no Python object per value) and its dictionary mapped onto those. A source's text or
    bytes can be dropped once it is encoded."""

    def __init__(self) -> None:
        self._values = {group: pa.array([], pa.large_binary()) for group in CODE_GROUPS}
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
        for group, cols in CODE_GROUPS.items():
            codes.update(zip(cols, self._codes(group, [column(c) for c in cols]), strict=True))
        # text ids stay Arrow strings (taking rows from them is cheap); other ids as objects, as given
        ids = ids.array if isinstance(ids.dtype, pd.StringDtype) else ids.to_numpy(dtype=object)
        ones = {c: np.bitwise_count(w).sum(axis=1, dtype=np.int16) for c, w in words.items()}
        return Records(ids, codes, words, {c: n > 0 for c, n in ones.items()}, ones)

    def records(self, frame: pd.DataFrame, id_column: str = "record_key") -> Records:
        """The records of one source (the person pseudonym columns of ``frame``, as text; absent ones are
        missing)."""
        self._take_form("text")
        words = {c: _words(_text(frame, c), ENCODING_BITS[c] // 8, c) for c in ENCODINGS}
        return self._records(frame[id_column], lambda c: _text(frame, c).cast(pa.large_binary()), words)

    def raw_records(self, ids: pd.Series, present: Mapping[str, np.ndarray], raw: Mapping[str, np.ndarray]) -> Records:
        """The records of one source from raw tokens: per pseudonym column, whether each row has it and its
        bytes ((rows, width) uint8, zeros where missing); absent columns are missing."""
        self._take_form("raw")
        n = len(ids)
        words = {c: _raw_words(raw.get(c), n, ENCODING_BITS[c] // 8, c) for c in ENCODINGS}
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
