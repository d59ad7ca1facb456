"""Sealed person pseudonyms: a row's linkage tokens stored as one authenticated ciphertext, ``person_seal``.

Why. The person pseudonyms (``pseudonymiser.PERSON_PSEUDONYMS``: keyed HMACs of surname, initials, birth date,
postcode ... and the hardened surname Bloom encoding) are deterministic per value, so stored as columns they
keep each value's frequency: aligned by count with a public surname list, ``pk_surname`` re-identified about
60% of surnames. They are only needed inside the linkage step. So ingest computes them as before and seals them
per row; the warehouse stores the seal only, and the linkage unseals them in memory right after reading.

Cipher. AES-SIV (RFC 5297; ``cryptography``'s ``AESSIV``) with a 512-bit key (AES-256-SIV): deterministic
authenticated encryption. The same row sealed twice gives the same bytes (rerunning any task gives the same
warehouse), while the synthetic IV is a PRF of the associated data and the whole plaintext, so two rows that
differ in any token or in their record get unrelated ciphertexts: a seal repeats only where its row (record
and every token) repeats, so its frequency is that of the record, never that of a surname or a birth year.
The associated data binds a seal to its row: ``root/{key version}/person_seal 0x1F {source kind}`` and the
row's ``record_key``. Wrong key, changed seal, or a seal copied to another record or kind: ``SealError``,
whose message holds a row position and a key version label only, never a seal or a token.

Key. No new secret: the sealing key of key version ``v`` is derived from that version's pseudonymisation key
``k_v`` (``settings.pseudonym_key``, the chain of ``keys``) as HKDF-SHA256(ikm=k_v, salt=none,
info=``root/{v}/person_seal`` 0x1F, 64 bytes): a label of its own, so it is independent of every HMAC and
Bloom key drawn from ``k_v``. A row is sealed under the key of its ``key_version``; a rotation
(``frames.rotate_frame``) unseals under the old version and reseals under the new one.

Plaintext layout (``FORMAT`` 1), fixed width for a given column count ``n``:

=========================  ==============================================================================
byte 0                     ``FORMAT``
byte 1                     ``n``: the seal holds the first ``n`` columns of PERSON_PSEUDONYMS
bytes 2-5                  layout check: SHA-256 of ``"name:width;"`` over those ``n`` columns, first 4 bytes
``ceil(n / 8)`` bytes      presence bitmap (``numpy.packbits`` order: column 0 is the high bit of byte 0)
one slot per column        its raw bytes (``pseudonymiser.TOKEN_BYTES``: 16 per ``pk_*``, the width of each ``bf_*``);
                           zeros when missing, so the length never tells which fields are missing
zero padding               so that the ciphertext (plaintext + 16-byte SIV) is a multiple of 3 bytes
=========================  ==============================================================================

Today (29 columns: 23 ``pk_*`` of 16 bytes; ``bf_surname`` and ``bf_given_name`` 125, ``bf_street`` and
``bf_city`` 32, ``bf_postcode`` and ``bf_birth_date`` 16): 724 bytes of plaintext, a 741-byte ciphertext with its
padding, stored as 988 characters of base64 (no ``=``) in a VARCHAR, so DuckDB, PostgreSQL and the COPY paths
handle it as any other text (the 29 hex columns it replaces took up to 1,428 characters). Columns appended to
PERSON_PSEUDONYMS later make new seals longer; older seals still open, their newer columns missing. A seal
whose layout check does not match the current columns (a column renamed, moved, or given another width)
is refused rather than read wrongly.

Opening. ``open_seals`` (and ``open_seal_batches``, for a query read as a stream of record batches) gives the
tokens as raw bytes (``Opened``: per column, presence and a (rows, width) byte matrix), which the linkage
encodes directly; ``unseal`` gives them as hex text, as ``pseudonymise`` writes them.

Cost, measured on this machine (2 cores shared with other work, one core used; 1M rows of 19 random tokens,
10% of them missing; five runs each): sealing 1M rows takes 6.9-11.5 s, unsealing 9.5-14.6 s. Per row:
one AES-SIV call, ~3-6 µs either way (``cryptography`` holds the GIL, so threads do not help; AES-GCM would
take ~1 µs but is not deterministic); base64, ~1.5 µs to encode and ~3 µs to decode; the packing into and out
of the fixed layout is vectorised over blocks of ``BLOCK_ROWS`` rows. Ingest seals every delivered row; the
linkage opens one row per record (1.25M records at 1M arrears rows: about 11 s of its link stage). Seals do
not compress (no two rows share bytes, by design), so DuckDB writes them more slowly and its file at 100k
arrears rows doubled (120 to 239 MB).
"""

from __future__ import annotations

import binascii
import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from eviction_prevention.pseudonymise import keys
from eviction_prevention.pseudonymise.arrow_rows import fixed_rows_array
from eviction_prevention.pseudonymise.pseudonymiser import PERSON_PSEUDONYMS, REFERENCE_COLUMN, TOKEN_BYTES

__all__ = [
    "FORMAT",
    "SEAL_COLUMN",
    "Opened",
    "SealError",
    "open_seal_batches",
    "open_seals",
    "seal",
    "seal_length",
    "sealing_key",
    "unseal",
]

SEAL_COLUMN = "person_seal"
FORMAT = 1
SEAL_FIELD = "person_seal"  # the HKDF and associated-data label
KEY_BYTES = 64  # AES-256-SIV
TAG_BYTES = 16  # the SIV
BLOCK_ROWS = 65_536  # rows packed, encrypted and encoded at a time (bounds the temporary buffers)
_HEADER_BYTES = 6


class SealError(ValueError):
    """A seal that cannot be made or opened. The message names rows by position, never by content."""


@dataclass(frozen=True)
class Layout:
    """The plaintext layout of a seal holding the first ``len(columns)`` person pseudonyms."""

    columns: tuple[str, ...]
    widths: tuple[int, ...]

    @property
    def bitmap_bytes(self) -> int:
        return (len(self.columns) + 7) // 8

    @property
    def offsets(self) -> tuple[int, ...]:
        """Where each column's slot starts in the plaintext."""
        start = _HEADER_BYTES + self.bitmap_bytes
        return tuple(start + s for s in np.cumsum((0, *self.widths[:-1])).tolist())

    @property
    def size(self) -> int:
        """Plaintext bytes, padded so that the ciphertext is a multiple of 3 bytes (base64 without padding)."""
        body = _HEADER_BYTES + self.bitmap_bytes + sum(self.widths)
        return body + (-(body + TAG_BYTES)) % 3

    @property
    def header(self) -> bytes:
        described = "".join(f"{c}:{w};" for c, w in zip(self.columns, self.widths, strict=True)).encode()
        return bytes([FORMAT, len(self.columns)]) + hashlib.sha256(described).digest()[:4]


def layout(n: int | None = None) -> Layout:
    """The layout of the first ``n`` columns of PERSON_PSEUDONYMS (all of them by default)."""
    columns = PERSON_PSEUDONYMS[: len(PERSON_PSEUDONYMS) if n is None else n]
    if not 0 < len(columns) < 256:
        raise SealError("a seal holds between 1 and 255 token columns")
    return Layout(columns, tuple(TOKEN_BYTES[c] for c in columns))


def seal_length(n: int | None = None) -> int:
    """Characters of a stored seal of the first ``n`` (default all) person pseudonyms."""
    return (layout(n).size + TAG_BYTES) // 3 * 4


def sealing_key(key: bytes, version: str) -> bytes:
    """The AES-SIV key of one key version: HKDF-SHA256 of that version's key, with its own label."""
    return keys.derived_key(key, version, SEAL_FIELD, KEY_BYTES)


@functools.lru_cache(maxsize=8)
def _cipher(key: bytes, version: str) -> AESSIV:
    return AESSIV(sealing_key(key, version))


def _context(version: str, kind: str) -> bytes:
    """The first associated-data component: what kind of row, under which key version."""
    if kind not in REFERENCE_COLUMN:
        raise SealError(f"unknown source kind {kind!r}")
    return keys.domain_prefix(version, SEAL_FIELD) + kind.encode()


def _suites(chain: bytes | keys.KeyChain, versions: np.ndarray, kind: str) -> dict[Any, tuple[AESSIV, bytes]]:
    """Per key version that occurs in ``versions`` and in the chain: its cipher and the associated data's
    first component."""
    parsed = keys.parse_key_chain(chain)
    _context(parsed.current, kind)  # an unknown kind fails even without rows
    known = dict(parsed.versions)
    return {v: (_cipher(known[v], v), _context(v, kind)) for v in pd.unique(versions).tolist() if v in known}


def _chunks(values: Any) -> pa.ChunkedArray:
    """Text values (a Series, Arrow array, or list; ``None``/NaN missing) as Arrow large_string chunks,
    without copying Arrow-backed text."""
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, from_pandas=True)
    array = array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])
    return array.cast(pa.large_string()) if array.type != pa.large_string() else array


def _text(values: Any, n: int) -> pa.Array:
    """Text values as one Arrow large_string array of ``n`` rows."""
    array = _chunks(values).combine_chunks()
    if len(array) != n:
        raise SealError(f"{len(array)} values for {n} rows")
    return array


def _versions(values: str | Sequence[str | None] | pd.Series | None, n: int) -> np.ndarray:
    """The key version of every row (one label for all, or one per row) as an object array."""
    if values is None or isinstance(values, str):
        return np.full(n, values, dtype=object)
    return _text(values, n).to_numpy(zero_copy_only=False).astype(object)


def _ad_keys(record_keys: Sequence[str | None] | pd.Series, n: int) -> list[bytes]:
    """Each row's record_key as the second associated-data component (missing: empty)."""
    return pc.fill_null(_text(record_keys, n).cast(pa.large_binary()), b"").to_pylist()


def _crypt(
    items: list[bytes], ads: list[bytes], versions: np.ndarray, suites: dict, numbers: Sequence[int], *, opening: bool
) -> list[bytes]:
    """Seal (``opening`` False) or open every item with its row's associated data and key version; ``numbers``:
    the input row number of each item, for error messages."""
    distinct = pd.unique(versions).tolist()
    out: list[bytes] = [b""] * len(items)
    for version in distinct:
        rows = range(len(items)) if len(distinct) == 1 else np.flatnonzero(versions == version).tolist()
        try:
            cipher, context = suites[version]
        except KeyError:
            raise SealError(f"row {numbers[rows[0]]}: key version {version!r} is not in the key chain") from None
        run = cipher.decrypt if opening else cipher.encrypt
        try:
            done = [run(items[i], [context, ads[i]]) for i in rows]
        except InvalidTag:
            row = numbers[next(i for i in rows if not _opens(run, items[i], [context, ads[i]]))]
            raise SealError(
                f"row {row}: person_seal does not open under key version {version!r} for this record "
                "(wrong key, a changed seal, or a seal moved to another record or source)"
            ) from None
        if len(distinct) == 1:
            return done
        for i, value in zip(rows, done, strict=True):
            out[i] = value
    return out


def _opens(run: Any, item: bytes, ad: list[bytes]) -> bool:
    try:
        run(item, ad)
    except InvalidTag:
        return False
    return True


def _token_bytes(values: pa.Array, width: int, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(present per row, the present rows' raw bytes as (present, width) uint8) of one hex token column."""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[values.offset : values.offset + len(values) + 1]
    lengths = np.diff(offsets)
    valid = values.is_valid().to_numpy(zero_copy_only=False) if values.null_count else None
    if valid is not None and lengths[~valid].any():  # a null row that owns bytes: keep the valid rows' only
        return _token_bytes(pc.if_else(valid, values, ""), width, column)
    present = lengths > 0
    if (lengths[present] != 2 * width).any():
        raise SealError(f"{column}: a token that is not {2 * width} hex digits")
    if not present.any():
        return present, np.empty((0, width), dtype=np.uint8)
    # empty and null rows own no bytes: the buffer holds the present rows' digits back to back
    digits = np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    try:
        raw = binascii.a2b_hex(digits)
    except binascii.Error:
        raise SealError(f"{column}: a token that is not hex") from None
    return present, np.frombuffer(raw, dtype=np.uint8).reshape(-1, width)


def _plaintexts(tokens: pd.DataFrame, rows: slice, shape: Layout) -> np.ndarray:
    """The plaintexts of ``tokens.iloc[rows]`` as a (rows, size) uint8 matrix."""
    part = tokens.iloc[rows]
    n = len(part)
    plain = np.zeros((n, shape.size), dtype=np.uint8)
    plain[:, :_HEADER_BYTES] = np.frombuffer(shape.header, dtype=np.uint8)
    presence = np.zeros((n, len(shape.columns)), dtype=bool)
    for j, (column, width, start) in enumerate(zip(shape.columns, shape.widths, shape.offsets, strict=True)):
        if column in part.columns:
            present, raw = _token_bytes(_text(part[column], n), width, column)
            presence[:, j] = present
            plain[present, start : start + width] = raw
    plain[:, _HEADER_BYTES : _HEADER_BYTES + shape.bitmap_bytes] = np.packbits(presence, axis=1)
    return plain


def seal(
    tokens: pd.DataFrame,
    record_keys: Sequence[str | None] | pd.Series,
    key_versions: str | Sequence[str | None] | pd.Series,
    kind: str,
    chain: bytes | keys.KeyChain,
) -> pd.Series:
    """The seal of every row of ``tokens``: base64 text (pandas ``str``, Arrow-backed), same index.

    ``tokens``: person pseudonym columns as hex text (``None``/NaN/empty missing; a column of
    PERSON_PSEUDONYMS that is absent counts as missing; other columns are refused). ``record_keys``: each
    row's record_key (associated data). ``key_versions``: the version whose key seals each row (one label
    for all rows, or one per row); ``chain``: the key chain that has those versions."""
    unknown = [c for c in tokens.columns if c not in PERSON_PSEUDONYMS]
    if unknown:
        raise SealError(f"not person pseudonym columns: {unknown}")
    n = len(tokens)
    shape = layout()
    versions = _versions(key_versions, n)
    ads = _ad_keys(record_keys, n)
    suites = _suites(chain, versions, kind)
    size, text_len = shape.size, (shape.size + TAG_BYTES) // 3 * 4
    chunks = []
    for start in range(0, n, BLOCK_ROWS):
        stop = min(n, start + BLOCK_ROWS)
        blob = _plaintexts(tokens, slice(start, stop), shape).tobytes()
        plain = [blob[at : at + size] for at in range(0, len(blob), size)]
        sealed = _crypt(plain, ads[start:stop], versions[start:stop], suites, range(start, stop), opening=False)
        text = pa.py_buffer(binascii.b2a_base64(b"".join(sealed), newline=False))
        offsets = pa.py_buffer(np.arange(stop - start + 1, dtype=np.int64) * text_len)
        chunks.append(pa.Array.from_buffers(pa.large_string(), stop - start, [None, offsets, text]))
    out = pa.chunked_array(chunks, pa.large_string()).to_pandas() if chunks else pd.Series([], dtype="str")
    return out.set_axis(tokens.index).rename(SEAL_COLUMN)


@dataclass(frozen=True)
class Opened:
    """The person pseudonyms of opened seals as raw bytes: per column of PERSON_PSEUDONYMS, whether each row
    has it (``present``, bool) and its bytes (``raw``, (rows, width) uint8, zeros where missing). The
    linkage encodes these directly; ``unseal`` gives them as hex text."""

    present: dict[str, np.ndarray]
    raw: dict[str, np.ndarray]

    def hex(self) -> pd.DataFrame:
        """One text column (pandas ``str``, Arrow-backed) per column, lowercase hex, missing as NA."""
        return pd.DataFrame(
            {
                c: pa.chunked_array([fixed_rows_array(self.raw[c], self.present[c], as_hex=True)]).to_pandas()
                for c in self.raw
            }
        )


def _fill_block(matrix: np.ndarray, rows: np.ndarray, offset: int, out: Opened) -> None:
    """Copy the plaintexts ``matrix`` of the input rows ``offset + rows`` (all of one column count) into
    ``out``, checked against their layout's header."""
    count = int(matrix[0, 1])
    shape = layout(count) if 0 < count <= len(PERSON_PSEUDONYMS) else None
    if shape is None or matrix.shape[1] != shape.size:
        raise SealError(f"row {offset + int(rows[0])}: a seal of {count} columns that this version cannot read")
    header = np.frombuffer(shape.header, dtype=np.uint8)
    bad = np.flatnonzero((matrix[:, :_HEADER_BYTES] != header).any(axis=1))
    if len(bad):
        raise SealError(f"row {offset + int(rows[bad[0]])}: the seal's layout does not match the token columns")
    presence = np.unpackbits(matrix[:, _HEADER_BYTES : _HEADER_BYTES + shape.bitmap_bytes], axis=1).astype(bool)
    contiguous = len(rows) and int(rows[-1]) - int(rows[0]) + 1 == len(rows)
    at = slice(offset + int(rows[0]), offset + int(rows[-1]) + 1) if contiguous else offset + rows
    for j, (column, width, start) in enumerate(zip(shape.columns, shape.widths, shape.offsets, strict=True)):
        out.present[column][at] = presence[:, j]
        out.raw[column][at] = matrix[:, start : start + width]  # a missing slot is zeros (``seal``)


def _ciphertexts(text: pa.Array, first_row: int) -> list[bytes]:
    """The ciphertexts of seals (large_string, no nulls) that all have the same length: base64 decoded in
    one call, straight from the Arrow buffer."""
    bounds = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset : text.offset + len(text) + 1]
    digits = memoryview(text.buffers()[2])[int(bounds[0]) : int(bounds[-1])]
    try:
        blob = binascii.a2b_base64(digits, strict_mode=True) if (bounds[1] - bounds[0]) % 4 == 0 else b""
    except binascii.Error:
        blob = b""
    size = len(blob) // len(text)
    if size <= TAG_BYTES or size * len(text) != len(blob):
        raise SealError(f"row {first_row}: person_seal is not a seal")
    return [blob[i : i + size] for i in range(0, len(blob), size)]


def _open_block(
    seals: pa.Array, offset: int, versions: np.ndarray, ads: list[bytes], suites: dict, out: Opened
) -> None:
    """Open one block of seals (a slice of one chunk; input rows from ``offset`` on) into ``out``."""
    lengths = pc.fill_null(pc.binary_length(seals), 0).to_numpy(zero_copy_only=False)
    for length in np.unique(lengths[lengths > 0]).tolist():  # one group per layout (or corrupt length)
        same = lengths == length
        rows = np.flatnonzero(same)
        group = seals if len(rows) == len(seals) else seals.filter(pa.array(same))
        cts = _ciphertexts(group, offset + int(rows[0]))
        group_ads = ads if len(rows) == len(seals) else [ads[i] for i in rows.tolist()]
        plain = _crypt(cts, group_ads, versions[rows], suites, rows + offset, opening=True)
        matrix = np.frombuffer(b"".join(plain), dtype=np.uint8).reshape(len(rows), -1)
        if (matrix[:, 0] != FORMAT).any():
            raise SealError(f"row {offset + int(rows[0])}: a seal of an unknown format")
        counts = np.unique(matrix[:, 1])
        for count in counts.tolist():
            sub = slice(None) if len(counts) == 1 else matrix[:, 1] == count
            _fill_block(matrix[sub], rows[sub], offset, out)


def _opened(n: int) -> Opened:
    """``n`` rows of missing tokens, to be filled."""
    shape = layout()
    return Opened(
        {c: np.zeros(n, dtype=bool) for c in shape.columns},
        {c: np.zeros((n, w), dtype=np.uint8) for c, w in zip(shape.columns, shape.widths, strict=True)},
    )


def _open_into(
    out: Opened, offset: int, seals: Any, record_keys: Any, key_versions: Any, kind: str, chain: bytes | keys.KeyChain
) -> int:
    """Open the seals of rows ``offset`` on into ``out``, a block of rows at a time (a block never spans two
    chunks, so a query result is not copied into one array first). Returns the number of rows."""
    texts = _chunks(seals)
    n = len(texts)
    versions = _versions(key_versions, n)
    ads = _ad_keys(record_keys, n)
    suites = _suites(chain, versions, kind)
    done = 0
    for chunk in texts.chunks:
        for start in range(0, len(chunk), BLOCK_ROWS):
            block = chunk.slice(start, BLOCK_ROWS)
            at, stop = done + start, done + start + len(block)
            _open_block(block, offset + at, versions[at:stop], ads[at:stop], suites, out)
        done += len(chunk)
    return n


def open_seals(
    seals: Sequence[str | None] | pd.Series | pa.Array | pa.ChunkedArray,
    record_keys: Sequence[str | None] | pd.Series | pa.Array | pa.ChunkedArray,
    key_versions: str | Sequence[str | None] | pd.Series | pa.Array | pa.ChunkedArray,
    kind: str,
    chain: bytes | keys.KeyChain,
) -> Opened:
    """The person pseudonyms of every seal as raw bytes (``Opened``); a missing seal gives a row of missing
    tokens. ``record_keys``, ``key_versions`` and ``kind`` must be the row's own (they are the associated
    data): anything else raises ``SealError``. Keep the result in memory: it holds the frequency-preserving
    tokens the warehouse does not."""
    texts = _chunks(seals)
    out = _opened(len(texts))
    _open_into(out, 0, texts, record_keys, key_versions, kind, chain)
    return out


def open_seal_batches(batches: Iterable[pa.RecordBatch], n: int, kind: str, chain: bytes | keys.KeyChain) -> Opened:
    """``open_seals`` of ``n`` rows that come as Arrow record batches with the columns ``person_seal``,
    ``record_key`` and ``key_version`` (other columns are ignored), say a query result read as a stream:
    only one batch of seal text is in memory at a time."""
    out = _opened(n)
    offset = 0
    for batch in batches:
        if offset + batch.num_rows > n:
            raise SealError(f"more than the {n} rows announced")
        offset += _open_into(out, offset, batch[SEAL_COLUMN], batch["record_key"], batch["key_version"], kind, chain)
    if offset != n:
        raise SealError(f"{offset} rows instead of the {n} announced")
    return out


def unseal(
    seals: Sequence[str | None] | pd.Series,
    record_keys: Sequence[str | None] | pd.Series,
    key_versions: str | Sequence[str | None] | pd.Series,
    kind: str,
    chain: bytes | keys.KeyChain,
) -> pd.DataFrame:
    """The person pseudonyms of every seal: one text column (pandas ``str``, Arrow-backed) per column of
    PERSON_PSEUDONYMS, lowercase hex, missing as NA; a missing seal gives a row of missing tokens
    (``open_seals``, as text)."""
    return open_seals(seals, record_keys, key_versions, kind, chain).hex()
