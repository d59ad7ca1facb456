"""Keyed pseudonymisation of canonical records (HMAC-SHA256 with per-field domain separation).

Direct and quasi identifiers never leave ingest: each is normalised (``normalize``), turned into one or
more keyed pseudonyms, and dropped. The key lives outside the warehouse and the code
(``settings.pseudonym_key``); without it a pseudonym cannot be recomputed from a guessed value.

``pseudonym(key, field, value)`` is ``HMAC-SHA256(key, "eviction-prevention/v1/{field}" 0x1F value)``
as 32 hex characters (128 bits). The field label separates domains: the same text as surname and as
street gives unrelated pseudonyms. Fields that must be compared with each other share one label
(``pk_surname_1``/``pk_surname_2`` both use ``surname_component``; ``pk_birth_date`` and
``pk_birth_dm_swapped`` both use ``birth_date``).

Pseudonym columns (``PSEUDONYM_COLUMNS``, hex strings or ``None``):

=====================  ===================================================================
record_key             the kind's reference (tenancy_ref / case_ref / record_ref)
pk_surname             all surname components without prefixes, space-joined
pk_surname_1, _2       the first two components, sorted (partner-name order swaps share one)
pk_surname_phon        ``phonetic`` of the first component
pk_prefix              normalised voorvoegsel
pk_initials            initials (from ``initials``, else from ``given_name``)
pk_initials_sorted     initials sorted (catches swapped initials ``jp``/``pj``)
pk_initial_1           first initial
pk_birth_date          ISO birth date
pk_birth_year          year
pk_birth_md            month-day (catches year typos)
pk_birth_dm_swapped    birth date with day and month swapped, when that is a different valid date
pk_postcode            normalised postcode
pk_address             postcode + ``house()``
pk_street_house        ``street()`` + bare house number (catches postcode typos)
pk_bsn                 BSN, only when it passes the 11-test
pk_phone, pk_email     contact details (corporation files only; else ``None``)
bf_surname             500-bit keyed bigram Bloom filter of the surname (125 hex chars)
=====================  ===================================================================

``bf_surname`` lets linkage score surname typos. It is a *hardened* field-level Bloom filter
(``Pseudonymiser.blooms``): the padded bigrams of the surname set ``BLOOM_HASHES`` positions each in a
``BLOOM_BITS``-bit filter, positions drawn from an HMAC of the bigram (a key-derived salt: without the key
nobody can build or recognise a filter); ``BLOOM_FLIPS`` positions chosen by an HMAC of the whole person
(surname, initials, birth date) are flipped, so two people with the same surname get different
filters and the frequency of a filter says nothing about the frequency of a surname; the filter is
*balanced* (concatenated with its complement: exactly ``BLOOM_BITS`` of the ``ENCODED_BITS`` bits are
set, a density of 50 % whatever the name's length) and its bits are shuffled by a keyed permutation
per key version. Similarity is the Hamming distance between two encodings (a typo moves about
``4 * BLOOM_HASHES`` inner bits, so about ``8 * BLOOM_HASHES`` encoded bits). Treat the column as
personal data of the same class as the other pseudonyms (pseudonymous, not anonymous).

Key versions and rotation (``keys``): the key may be a chain of versions; each pseudonym is an HMAC chain
and each version adds a Bloom permutation, so stored values can be carried to a new key without clear
text (``rotate_frame``). Every staged row records the ``key_version`` that produced it.

Speed and memory (``pseudonymise_frame`` runs on every delivered row): nothing is computed per row in
Python. Each input column is factorised once (``_Column``); normalisation, HMACs and Bloom encodings run on
the distinct values or value combinations only, and the results are spread back over the rows with numpy
takes. HMACs reuse precomputed SHA-256 pad states (``_Hmac``); a Bloom encoding is the XOR of its surname's
encoding and one precomputed row per flipped bit (``Pseudonymiser._flip_basis``), so no bit matrix is built
per row. A ``Pseudonymiser`` memoises the low-cardinality results (names, initials, birth dates, postcodes,
house numbers, streets and their pseudonyms, surname encodings) in memos of at most ``MEMO_LIMIT`` entries,
and ``shared_pseudonymiser`` keeps one per key chain for the whole process, so later frames mostly look them
up. Identifiers nearly unique per person (references, BSN, phone, e-mail, address, Bloom flips) are not
memoised: in a memo that large a lookup misses the CPU caches and costs about as much as the HMAC it saves.
The memos hold normalised clear text: process memory only, never written, logged or returned.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from eviction_prevention.parse.layouts import attribute_columns, identifier_columns
from eviction_prevention.pseudonymise import keys
from eviction_prevention.pseudonymise import normalize as nz

__all__ = [
    "BLOOM_BITS",
    "ENCODED_BITS",
    "MEMO_LIMIT",
    "PSEUDONYM_COLUMNS",
    "REFERENCE_COLUMN",
    "Pseudonymiser",
    "bloom_bits",
    "column_field",
    "person_pseudonyms",
    "pseudonym",
    "pseudonymise_frame",
    "rotate_frame",
    "shared_pseudonymiser",
]

DOMAIN = "eviction-prevention/v1"
HEX_CHARS = keys.HEX_CHARS
BLOOM_BITS = 500  # inner filter
BLOOM_HASHES = 10
BLOOM_FLIPS = 5  # inner bits flipped per person (keyed by the person, not by the surname)
ENCODED_BITS = 2 * BLOOM_BITS  # balanced: the filter and its complement
# Plain keyed Bloom encodings, compared inside the linkage step only: street and city as sets of padded bigrams,
# postcode and birth date as sets of (position, character), so that the Hamming distance counts typed-over
# characters (a typo moves 2 * POSITION_HASHES bits, a transposition twice that).
SET_BITS = 256
SET_HASHES = 4
POSITION_BITS = 128
POSITION_HASHES = 2
# Width in bits of every Bloom encoding column (``bf_*``).
ENCODING_BITS: dict[str, int] = {
    "bf_surname": ENCODED_BITS,
    "bf_given_name": ENCODED_BITS,
    "bf_street": SET_BITS,
    "bf_city": SET_BITS,
    "bf_postcode": POSITION_BITS,
    "bf_birth_date": POSITION_BITS,
}
_ENCODED_BYTES = ENCODED_BITS // 8
_BLOOM_CHUNK = 65_536  # encodings built at a time (bounds the temporary bit arrays)
MEMO_LIMIT = 100_000  # entries per memo: some tens of MB each at most (the bench data needs under 60,000)

REFERENCE_COLUMN: dict[str, str] = {"corporation": "tenancy_ref", "social_team": "case_ref", "sdd": "record_ref"}

PERSON_PSEUDONYMS: tuple[str, ...] = (
    "pk_surname",
    "pk_surname_1",
    "pk_surname_2",
    "pk_surname_phon",
    "pk_prefix",
    "pk_given_name",
    "pk_name_pair",
    "pk_name_letters",
    "pk_initials",
    "pk_initials_sorted",
    "pk_initial_1",
    "pk_birth_date",
    "pk_birth_year",
    "pk_birth_md",
    "pk_birth_dm_swapped",
    "pk_postcode",
    "pk_address",
    "pk_street_house",
    "pk_house_number",
    "pk_city",
    "pk_bsn",
    "pk_phone",
    "pk_email",
    "bf_surname",
    "bf_given_name",
    "bf_street",
    "bf_city",
    "bf_postcode",
    "bf_birth_date",
)
PSEUDONYM_COLUMNS: tuple[str, ...] = ("record_key", *PERSON_PSEUDONYMS)

# The raw width in bytes of each person pseudonym (its hex text is twice as long): ``pk_*`` are HEX_CHARS hex
# characters, ``bf_*`` Bloom encodings ENCODING_BITS bits. ``sealing`` packs every column of PERSON_PSEUDONYMS
# into its fixed-width slot; a new column with another width gets its entry here.
TOKEN_BYTES: dict[str, int] = {
    c: ENCODING_BITS[c] // 8 if c in ENCODING_BITS else HEX_CHARS // 2 for c in PERSON_PSEUDONYMS
}

# The HMAC field label of each stored pseudonym column (columns compared with each other share one).
_COLUMN_FIELD: dict[str, str] = {
    "pk_surname": "surname",
    "pk_surname_1": "surname_component",
    "pk_surname_2": "surname_component",
    "pk_surname_phon": "surname_phonetic",
    "pk_prefix": "prefix",
    "pk_given_name": "given_name",
    "pk_name_pair": "name_pair",
    "pk_name_letters": "name_letters",
    "pk_initials": "initials",
    "pk_initials_sorted": "initials_sorted",
    "pk_initial_1": "initial",
    "pk_birth_date": "birth_date",
    "pk_birth_year": "birth_year",
    "pk_birth_md": "birth_md",
    "pk_birth_dm_swapped": "birth_date",
    "pk_postcode": "postcode",
    "pk_address": "address",
    "pk_street_house": "street_house",
    "pk_house_number": "house_number",
    "pk_city": "city",
    "pk_bsn": "bsn",
    "pk_phone": "phone",
    "pk_email": "email",
}


def column_field(column: str, kind: str | None = None) -> str:
    """The HMAC field label behind a stored pseudonym column (``record_key`` needs the source kind)."""
    if column == "record_key":
        if kind not in REFERENCE_COLUMN:
            raise ValueError("record_key needs the source kind")
        return REFERENCE_COLUMN[kind]
    return _COLUMN_FIELD[column]


def pseudonym(key: bytes | keys.KeyChain, field: str, value: str | None) -> str | None:
    """Keyed pseudonym of one value: the HMAC chain over the key versions (see ``keys``).

    With one key: 32 hex chars of HMAC-SHA256(key, "eviction-prevention/v1/{field}" 0x1F value).
    ``None``, NA and empty/blank strings give ``None``. The value is used as given (normalise first).
    Field labels may not contain the 0x1F separator, so (field, value) -> message is injective.
    """
    if nz.is_missing(value):
        return None
    out = str(value)
    for version, k in keys.parse_key_chain(key).versions:
        out = keys.chain_step(k, version, field, out)
    return out


def _permute_columns(matrix: np.ndarray, order: list[int]) -> np.ndarray:
    """Bit j moves to position order[j] (a gather with the inverse permutation: much faster than a scatter)."""
    inverse = np.empty(len(order), dtype=np.intp)
    inverse[np.asarray(order, dtype=np.intp)] = np.arange(len(order), dtype=np.intp)
    return np.take(matrix, inverse, axis=1)


def _hex_rows(packed: np.ndarray) -> list[str]:
    """Each row of a packed uint8 matrix as lowercase hex (one ``hex()`` call, then slices)."""
    width = 2 * packed.shape[1]
    text = packed.tobytes().hex()
    return [text[i : i + width] for i in range(0, len(text), width)]


def _to_hex(matrix: np.ndarray) -> list[str]:
    return _hex_rows(np.packbits(matrix, axis=1))


_SHA256_BLOCK = 64


@dataclass(frozen=True)
class _Hmac:
    """HMAC-SHA256 of one key with a fixed message prefix, as two precomputed SHA-256 states.

    HMAC(k, m) = H((k ^ opad) || H((k ^ ipad) || m)) (RFC 2104). Copying the state after ``k ^ ipad`` and the
    prefix, and the state after ``k ^ opad``, is about twice as fast per message as ``hmac.HMAC.copy()``;
    the digests are the same (the tests compare with ``hmac``)."""

    inner: Any
    outer: Any

    @classmethod
    def of(cls, key: bytes, prefix: bytes) -> _Hmac:
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_SHA256_BLOCK, b"\0")
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        inner.update(prefix)
        return cls(inner, hashlib.sha256(bytes(b ^ 0x5C for b in key)))

    def digests(self, messages: Iterable[bytes]) -> list[bytes]:
        inner_copy, outer_copy = self.inner.copy, self.outer.copy
        out: list[bytes] = []
        append = out.append
        for message in messages:
            h = inner_copy()
            h.update(message)
            o = outer_copy()
            o.update(h.digest())
            append(o.digest())
        return out

    def hexdigests(self, values: Iterable[str]) -> list[str]:
        """The first ``HEX_CHARS`` hex characters of each digest."""
        return [d.hex()[:HEX_CHARS] for d in self.digests(v.encode() for v in values)]


_MISSING = object()


class _Memo(dict[Hashable, Any]):
    """A memo emptied before it would grow past ``limit`` entries: memory stays bounded however many frames
    pass, while persons recurring in the next deliveries are still found."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def fetch(self, keys_: Sequence[Hashable], compute: Callable[[list[int]], list[Any]]) -> list[Any]:
        """The value of every key: known ones looked up, the others computed in one batch and remembered.

        ``compute`` gets the positions in ``keys_`` of the unknown keys and returns their values in order (a key
        that occurs twice is computed twice: pass distinct keys)."""
        out = list(map(self.get, keys_, itertools.repeat(_MISSING, len(keys_))))
        missing = [i for i, v in enumerate(out) if v is _MISSING]
        if not missing:
            return out
        fresh = compute(missing)
        if len(self) + len(missing) > self.limit:
            self.clear()
        if len(missing) <= self.limit:
            self.update(zip([keys_[i] for i in missing], fresh, strict=True))
        for i, value in zip(missing, fresh, strict=True):
            out[i] = value
        return out


class Pseudonymiser:
    """Memoising pseudonym factory for one key chain (HMAC states per version and field are precomputed).

    Its memos (``MEMO_LIMIT`` entries each) hold normalised clear text for as long as the instance lives;
    ``shared_pseudonymiser`` keeps one per process so that consecutive frames share them."""

    def __init__(self, key: bytes | keys.KeyChain, *, memo_limit: int = MEMO_LIMIT) -> None:
        self.chain = keys.parse_key_chain(key)
        self.memo_limit = memo_limit
        self._hmacs: dict[tuple[str, str], _Hmac] = {}
        self._memos: dict[str, _Memo] = {}
        self._elements: dict[tuple[str, str], tuple[int, ...]] = {}
        self._orders: dict[int, list[int]] = {}
        self._flip_rows: np.ndarray | None = None

    @property
    def key_version(self) -> str:
        return self.chain.current

    def _hmac(self, version: str, k: bytes, field: str) -> _Hmac:
        state = self._hmacs.get((version, field))
        if state is None:
            state = self._hmacs[(version, field)] = _Hmac.of(k, keys.domain_prefix(version, field))
        return state

    def _memo(self, name: str) -> _Memo:
        """The memo called ``name`` (created empty on first use)."""
        memo = self._memos.get(name)
        if memo is None:
            memo = self._memos[name] = _Memo(self.memo_limit)
        return memo

    def _chain(self, field: str, values: list[str]) -> list[str]:
        for version, k in self.chain.versions:
            values = self._hmac(version, k, field).hexdigests(values)
        return values

    def __call__(self, field: str, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return self._chain(field, [value])[0]

    def many(self, field: str, values: Iterable[str | None]) -> list[str | None]:
        """Pseudonyms of many values, each distinct value hashed once (and remembered across calls)."""
        values = list(values)
        distinct = list(dict.fromkeys(values))
        known = self._memo(f"pseudonym:{field}").fetch(
            distinct, lambda todo: self._pseudonyms(field, [distinct[i] for i in todo])
        )
        if len(distinct) == len(values):
            return known
        found = dict(zip(distinct, known, strict=True))
        return [found[v] for v in values]

    def _pseudonyms(self, field: str, values: list[str | None]) -> list[str | None]:
        """Pseudonyms of values (``None`` for ``None`` and empty), not memoised."""
        if all(values):
            return self._chain(field, values)
        hashed = iter(self._chain(field, [v for v in values if v]))
        return [next(hashed) if v else None for v in values]

    def _digests(self, field: str, values: list[bytes]) -> list[bytes]:
        version, k = self.chain.versions[0]
        return self._hmac(version, k, field).digests(values)

    def _permutation(self, size: int = ENCODED_BITS) -> list[int]:
        """The composition of every version's keyed permutation of ``size`` bits (bit j ends at order[j])."""
        if size not in self._orders:
            order = list(range(size))
            for version, k in self.chain.versions:
                step = keys.bloom_permutation(k, version, size)
                order = [step[j] for j in order]
            self._orders[size] = order
        return self._orders[size]

    def _element_positions(self, field: str, element: str, bits: int, hashes: int) -> tuple[int, ...]:
        """The ``hashes`` filter positions of one element (double hashing of a keyed digest), remembered."""
        positions = self._elements.get((field, element))
        if positions is None:
            digest = self._digests(field, [element.encode()])[0]
            h1 = int.from_bytes(digest[:8], "big")
            h2 = int.from_bytes(digest[8:16], "big") | 1
            positions = tuple((h1 + i * h2) % bits for i in range(hashes))
            self._elements[(field, element)] = positions
        return positions

    def set_encodings(
        self, field: str, texts: Sequence[str | None], elements: Callable[[str], list[str]], bits: int, hashes: int
    ) -> list[str | None]:
        """Plain keyed Bloom encodings (``bits`` bits as hex, no flips, permuted per key version) of the element
        sets of texts (``elements(text)``); each distinct text is encoded once and remembered. Empty -> ``None``."""
        distinct = list(dict.fromkeys(t for t in texts if t))

        def compute(todo: list[int]) -> list[str]:
            matrix = np.zeros((len(todo), bits), dtype=bool)
            for row, i in enumerate(todo):
                matrix[
                    row, [p for e in elements(distinct[i]) for p in self._element_positions(field, e, bits, hashes)]
                ] = True
            return _to_hex(_permute_columns(matrix, self._permutation(bits)))

        found = dict(zip(distinct, self._memo(f"encoding:{field}").fetch(distinct, compute), strict=True))
        return [found[t] if t else None for t in texts]

    def _encode(self, inner: np.ndarray) -> np.ndarray:
        """Inner filters (rows of ``BLOOM_BITS`` bools) -> balanced, permuted, packed encodings."""
        return np.packbits(
            _permute_columns(np.concatenate([inner, ~inner], axis=1), self._permutation(ENCODED_BITS)), axis=1
        )

    def _flip_basis(self) -> np.ndarray:
        """Row i: the encoded bits that change when inner bit i is flipped.

        ``_encode`` is affine over GF(2): encode(x ^ y) = encode(x) ^ encode(y) ^ encode(0). So flipping inner
        bit i of any filter XORs its encoding with encode(e_i) ^ encode(0), and flipping a bit twice undoes it."""
        if self._flip_rows is None:
            self._flip_rows = self._encode(np.eye(BLOOM_BITS, dtype=bool)) ^ self._encode(
                np.zeros((1, BLOOM_BITS), dtype=bool)
            )
        return self._flip_rows

    def _surname_encodings(self, texts: list[str]) -> list[bytes]:
        """Packed encodings of the padded bigrams of each text, before the keyed flips."""
        inner = np.zeros((len(texts), BLOOM_BITS), dtype=bool)
        for row, text in enumerate(texts):
            inner[
                row,
                [
                    p
                    for b in padded_bigrams(text)
                    for p in self._element_positions("bf_surname", b, BLOOM_BITS, BLOOM_HASHES)
                ],
            ] = True
        return [row.tobytes() for row in self._encode(inner)]

    def _flip_positions(self, messages: list[bytes]) -> np.ndarray:
        """(len(messages), BLOOM_FLIPS) inner positions to flip, from an HMAC of each message."""
        digests = self._digests("bf_noise", messages)  # one per person: no memo
        heads = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(len(messages), -1)[:, : 2 * BLOOM_FLIPS]
        return np.ascontiguousarray(heads).view(">u2") % BLOOM_BITS

    def _encodings(self, texts: list[str], which: np.ndarray, messages: list[bytes]) -> list[str]:
        """Hex encodings of ``texts[which[k]]`` (non-empty) with the flips chosen by ``messages[k]`` (text 0x1F
        salt), for every k: the text's bigram encoding XOR the flip basis rows, ``_BLOOM_CHUNK`` at a time."""
        rows = self._memo("bloom:surname").fetch(texts, lambda todo: self._surname_encodings([texts[i] for i in todo]))
        base = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(texts), _ENCODED_BYTES)
        basis = self._flip_basis()
        out: list[str] = []
        for start in range(0, len(messages), _BLOOM_CHUNK):
            packed = base[which[start : start + _BLOOM_CHUNK]]
            flips = self._flip_positions(messages[start : start + _BLOOM_CHUNK])
            for j in range(BLOOM_FLIPS):
                packed ^= basis[flips[:, j]]
            out += _hex_rows(packed)
        return out

    def blooms(self, texts: Iterable[str | None], salts: Iterable[str] | None = None) -> list[str | None]:
        """Hardened encodings (``ENCODED_BITS`` bits as hex, see the module doc) of many texts.

        ``salts`` (one per text, e.g. the person's other keys) choose the flipped bits; the same text
        with the same salt always gives the same encoding. Empty text -> ``None``."""
        texts = list(texts)
        salts = list(salts) if salts is not None else [""] * len(texts)
        if len(salts) != len(texts):
            raise ValueError("blooms needs one salt per text")
        pairs = list(dict.fromkeys((t, s) for t, s in zip(texts, salts, strict=True) if t))
        distinct = {t: i for i, t in enumerate(dict.fromkeys(t for t, _ in pairs))}
        which = np.array([distinct[t] for t, _ in pairs], dtype=np.intp)
        hexes = self._encodings(list(distinct), which, [f"{t}\x1f{s}".encode() for t, s in pairs])
        encoded = dict(zip(pairs, hexes, strict=True))
        return [encoded[(t, s)] if t else None for t, s in zip(texts, salts, strict=True)]

    def bloom(self, text: str | None, salt: str = "") -> str | None:
        """The hardened encoding of one text (see ``blooms``)."""
        return self.blooms([text], [salt])[0]


@functools.lru_cache(maxsize=1)
def _shared(chain: keys.KeyChain, _day: date) -> Pseudonymiser:
    return Pseudonymiser(chain)


def shared_pseudonymiser(key: bytes | keys.KeyChain) -> Pseudonymiser:
    """The process-wide ``Pseudonymiser`` of a key chain, so that its memos serve every frame of that key.

    One chain at a time (another key replaces it). It is renewed every day because ``normalize.birth_date``
    reads two-digit years relative to today's date."""
    return _shared(keys.parse_key_chain(key), date.today())


def bloom_bits(hex_filter: str | None) -> int:
    """An encoding as an int (0 for missing); the Hamming distance of two is ``(a ^ b).bit_count()``."""
    return int(hex_filter, 16) if hex_filter else 0


# ---------------------------------------------------------------------------------------- distinct inputs


def _memo_key(value: Any) -> Hashable:
    """The memo key of a distinct input value: ``None`` when missing (blank text included), text as itself,
    anything else tagged with its type (1, 1.0 and True from different frames must not share an entry)."""
    if type(value) is str:
        return value if value.strip() else None
    return None if nz.is_missing(value) else (type(value), value)


@dataclass(frozen=True)
class _Column:
    """One input column as codes into its distinct values: row ``r`` holds distinct value ``codes[r]``.

    The last distinct value is the missing one: ``None``, as NA, NaN, NaT and blank text are too (their memo
    key is ``None``), so a normaliser gets exactly what the row-by-row code passed it."""

    codes: np.ndarray
    uniques: Any  # the distinct values as pd.factorize returns them (without the missing one); None if absent

    @classmethod
    def of(cls, df: pd.DataFrame, name: str) -> _Column:
        if name not in df.columns:
            return cls(np.zeros(len(df), dtype=np.intp), None)
        codes, uniques = pd.factorize(df[name])
        codes[codes < 0] = len(uniques)
        return cls(codes, uniques)

    @property
    def _dates(self) -> bool:  # keyed by integer value and built on demand: a Timestamp per value is slow
        return isinstance(self.uniques, pd.DatetimeIndex)

    @functools.cached_property
    def _known(self) -> list[Any]:
        """Every distinct value (``None`` for the missing ones); not built for datetimes."""
        if self.uniques is None:
            return [None]
        values = self.uniques.tolist()
        if isinstance(self.uniques.dtype, pd.StringDtype) or all(type(v) is str for v in values):
            blank = [i for i, v in enumerate(values) if not v.strip()]
        else:
            blank = [i for i, v in enumerate(values) if nz.is_missing(v)]
        for i in blank:
            values[i] = None
        return [*values, None]

    @functools.cached_property
    def keys(self) -> list[Hashable]:
        """Memo key per distinct value (``_memo_key``)."""
        if self._dates:
            tag = str(self.uniques.dtype)
            return [*((tag, v) for v in self.uniques.asi8.tolist()), None]
        return [v if type(v) is str else _memo_key(v) for v in self._known]

    def values(self, positions: list[int]) -> list[Any]:
        if not self._dates:
            known = self._known
            return [known[p] for p in positions]
        n = len(self.uniques)
        built = iter(self.uniques.take([p for p in positions if p < n]).tolist())
        return [next(built) if p < n else None for p in positions]

    def all_values(self) -> list[Any]:
        return self.values(list(range(len(self.uniques) + 1))) if self._dates else self._known

    def apply(self, func: Callable[[Any], Any], positions: list[int]) -> list[Any]:
        """``func`` of the distinct values at ``positions``."""
        return [func(v) for v in self.values(positions)]


def _combine(codes: Sequence[np.ndarray]) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Codes of the distinct combinations of several code arrays, and per combination each array's code."""
    combined, uniques = pd.factorize(codes[0])
    for more in codes[1:]:
        combined, uniques = pd.factorize(combined.astype(np.int64) * (int(more.max(initial=0)) + 1) + more)
    representative = np.empty(len(uniques), dtype=np.intp)
    representative[combined] = np.arange(len(combined), dtype=np.intp)
    return combined, tuple(c[representative] for c in codes)


@dataclass(frozen=True)
class _Combo:
    """Distinct combinations of several columns' values (same interface as ``_Column``)."""

    codes: np.ndarray
    parts: tuple[np.ndarray, ...]  # per distinct combination, the distinct-value index in each column
    columns: tuple[_Column, ...]

    @classmethod
    def of(cls, *columns: _Column) -> _Combo:
        codes, parts = _combine([c.codes for c in columns])
        return cls(codes, parts, columns)

    @property
    def keys(self) -> list[Hashable]:
        return list(zip(*(_pick(c.keys, p) for c, p in zip(self.columns, self.parts, strict=True)), strict=True))

    def apply(self, func: Callable[..., Any], positions: list[int]) -> list[Any]:
        """``func`` of the distinct combinations at ``positions`` (one argument per column)."""
        args = (c.values(p[positions].tolist()) for c, p in zip(self.columns, self.parts, strict=True))
        return list(itertools.starmap(func, zip(*args, strict=True)))


def _pick(values: list[Any], index: np.ndarray) -> list[Any]:
    return [values[i] for i in index.tolist()]


def _objects(values: Sequence[Any]) -> np.ndarray:
    table = np.empty(len(values), dtype=object)
    table[:] = values
    return table


def _rows(values: Sequence[Any], codes: np.ndarray) -> np.ndarray:
    """Per-distinct values spread over the rows (an object array)."""
    return _objects(values)[codes]


def _unzip(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def _keyed(
    pz: Pseudonymiser, func: Callable[..., tuple[str, ...]], columns: tuple[str | None, ...], inputs: _Column | _Combo
) -> list[list[Any]]:
    """Per returned value of ``func`` (normalised text), a list with one entry per distinct input: the pseudonym
    for the stored column named at that position in ``columns``, or (``None``) the normalised text itself.

    Memoised from raw input to the whole result, so an input seen in an earlier frame costs one lookup."""
    memo = pz._memo(f"keyed:{func.__module__}.{func.__qualname__}:{columns}")

    def compute(todo: list[int]) -> list[tuple[Any, ...]]:
        normalised = _unzip(inputs.apply(func, todo), len(columns))
        done = [v if c is None else pz.many(_COLUMN_FIELD[c], v) for c, v in zip(columns, normalised, strict=True)]
        return list(zip(*done, strict=True))

    return _unzip(memo.fetch(inputs.keys, compute), len(columns))


def _pseudonymised(pz: Pseudonymiser, field: str, func: Callable[[Any], str | None], inputs: _Column) -> np.ndarray:
    """Per row, the pseudonym of ``func`` of the row's value, for identifiers nearly unique per person.

    Not memoised across frames: a lookup in a memo of a few hundred thousand such values misses the CPU caches
    and costs about as much as the normalising and hashing it saves (measured on the bench data, where a
    tenant's contact details recur in the next snapshots)."""
    return _rows(pz._pseudonyms(field, [func(v) for v in inputs.all_values()]), inputs.codes)


def _name_keys(prefix: Any, surname: Any) -> tuple[str, str, str, str, str, str]:
    """(surname, component 1, component 2, phonetic, prefix, surname) in normalised form (the surname twice:
    once for its pseudonym, once as the Bloom filter's text)."""
    norm_prefix, _ = nz.split_prefix(prefix, surname)
    components = nz.surname_components(surname)
    if not components:
        return "", "", "", "", norm_prefix, ""
    full = " ".join(components)
    first_two = sorted(components[:2])
    second = first_two[1] if len(first_two) > 1 else ""
    return full, first_two[0], second, nz.phonetic(components[0]), norm_prefix, full


def padded_bigrams(text: str) -> list[str]:
    """The bigrams of ``_text_``: ``"ab"`` -> ``["_a", "ab", "b_"]``."""
    padded = f"_{text}_"
    return [padded[i : i + 2] for i in range(len(padded) - 1)]


def positioned_characters(text: str) -> list[str]:
    """Each character with its position: ``"12"`` -> ``["0:1", "1:2"]``."""
    return [f"{i}:{ch}" for i, ch in enumerate(text)]


def first_given_name(value: Any) -> str:
    """The first given name written out (``"Jan Pieter"`` -> ``"jan"``), ``""`` when the value holds only initials
    (``"J.P."``, ``"Th."``) or nothing."""
    for token in nz.clean_text(value).split():
        if len(token) > 1 and any(ch in "aeiouy" for ch in token):
            return token
        return ""
    return ""


def _given_keys(given_name: Any) -> tuple[str, str]:
    """(first given name, first given name): once for its pseudonym, once as text for its encoding."""
    name = first_given_name(given_name)
    return name, name


def _initial_keys(initials: Any, given_name: Any) -> tuple[str, str, str, str]:
    """(initials, initials sorted, first initial, initials): the last as text for the Bloom salt."""
    inits = nz.initials(initials) or nz.initials(given_name)
    return inits, "".join(sorted(inits)), inits[:1], inits


def _birth_keys(value: Any) -> tuple[str, str, str, str, str]:
    """(ISO date, year, month-day, swapped ISO date, ISO date): the last as text for the Bloom salt."""
    d = nz.birth_date(value)
    if d is None:  # a partial date (``1980``, ``04-1980``) or one with a typo still gives its year
        year = nz.birth_year(value)
        return "", "" if year is None else str(year), "", "", ""
    swapped = ""
    if d.day <= 12 and d.day != d.month:
        swapped = d.replace(month=d.day, day=d.month).isoformat()
    return d.isoformat(), str(d.year), f"{d.month:02d}-{d.day:02d}", swapped, d.isoformat()


def _postcode_keys(code: Any) -> tuple[str, str]:
    """(postcode, postcode): the second as text for the address key."""
    pc = nz.postcode(code) or ""
    return pc, pc


def _house_keys(number: Any, letter: Any, suffix: Any) -> tuple[str, str]:
    """(full house number, bare house number)."""
    return nz.house(number, letter, suffix), nz.house_number(number)


def _street_keys(street: Any) -> tuple[str]:
    return (nz.street(street),)


def _city_keys(city: Any) -> tuple[str, str]:
    """(city, city): once for its pseudonym, once as text for its encoding (spaces dropped: ``"pen rith"``)."""
    text = nz.clean_text(city).replace(" ", "")
    return text, text


def _birth_digit_keys(value: Any) -> tuple[str]:
    return (nz.birth_digits(value),)


def _unordered_pairs(
    first: list[str], second: list[str], codes: tuple[np.ndarray, np.ndarray]
) -> tuple[list[str], np.ndarray]:
    """``"{a}|{b}"`` of the two texts in sorted order (surname and given name written the other way round give
    the same text; ``""`` unless both are known), per distinct combination, and the row codes."""
    pair_codes, (fi, si) = _combine(codes)
    texts = ["|".join(sorted((first[a], second[b]))) if first[a] and second[b] else "" for a, b in zip(
        fi.tolist(), si.tolist(), strict=True)]  # fmt: skip
    return texts, pair_codes


def _joined(left: list[str], right: list[str], codes: tuple[np.ndarray, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """``"{left}|{right}"`` of the distinct (left, right) pairs ("" when either is empty), and the row codes."""
    pair_codes, (li, ri) = _combine(codes)
    joined = _objects(left)[li] + "|" + _objects(right)[ri]  # numpy loops over the pairs
    both = np.array([bool(a) for a in left], dtype=bool)[li] & np.array([bool(b) for b in right], dtype=bool)[ri]
    return np.where(both, joined, "").tolist(), pair_codes


def person_pseudonyms(
    df: pd.DataFrame,
    key: bytes | keys.KeyChain | Pseudonymiser,
    *,
    columns: dict[str, str] | None = None,
    bloom: bool = True,
) -> pd.DataFrame:
    """The person pseudonym columns (``PERSON_PSEUDONYMS``) for every row of ``df``, same index.

    Reads the canonical person columns (initials, given_name, prefix, surname, birth_date, street,
    house_number, house_letter, house_number_suffix, postcode, bsn, phone, email); absent columns count
    as empty. ``columns`` maps a canonical name to another column name in ``df``. A key (rather than a
    ``Pseudonymiser``) uses the process-wide ``shared_pseudonymiser``.
    """
    pz = key if isinstance(key, Pseudonymiser) else shared_pseudonymiser(key)
    names = columns or {}

    def col(name: str) -> _Column:
        return _Column.of(df, names.get(name, name))

    out: dict[str, np.ndarray] = {}

    def spread(
        func: Callable[..., tuple[str, ...]], columns: tuple[str | None, ...], inputs: _Column | _Combo
    ) -> list[list[str]]:
        """Rows of the pseudonym columns of ``func``'s values; its text values (per distinct input) are returned."""
        per_input = _keyed(pz, func, columns, inputs)
        for column, values in zip(columns, per_input, strict=True):
            if column is not None:
                out[column] = _rows(values, inputs.codes)
        return [values for column, values in zip(columns, per_input, strict=True) if column is None]

    name = _Combo.of(col("prefix"), col("surname"))
    (surname,) = spread(
        _name_keys, ("pk_surname", "pk_surname_1", "pk_surname_2", "pk_surname_phon", "pk_prefix", None), name
    )
    given = _Combo.of(col("initials"), col("given_name"))
    (inits,) = spread(_initial_keys, ("pk_initials", "pk_initials_sorted", "pk_initial_1", None), given)
    born = col("birth_date")
    (iso,) = spread(_birth_keys, ("pk_birth_date", "pk_birth_year", "pk_birth_md", "pk_birth_dm_swapped", None), born)

    code = col("postcode")
    (postcode,) = spread(_postcode_keys, ("pk_postcode", None), code)
    house = _Combo.of(col("house_number"), col("house_letter"), col("house_number_suffix"))
    full_house, bare = spread(_house_keys, (None, None), house)
    street = col("street")
    (street_key,) = spread(_street_keys, (None,), street)
    texts, codes = _joined(postcode, full_house, (code.codes, house.codes))  # nearly one per person: no memo
    out["pk_address"] = _rows(pz._pseudonyms("address", texts), codes)
    texts, codes = _joined(street_key, bare, (street.codes, house.codes))
    out["pk_street_house"] = _rows(pz.many("street_house", texts), codes)

    out["pk_house_number"] = _rows(pz.many("house_number", bare), house.codes)
    town = col("city")
    (city,) = spread(_city_keys, ("pk_city", None), town)
    first = col("given_name")
    (given_text,) = spread(_given_keys, ("pk_given_name", None), first)
    texts, codes = _unordered_pairs(surname, given_text, (name.codes, first.codes))
    out["pk_name_pair"] = _rows(pz._pseudonyms("name_pair", texts), codes)
    texts, codes = _unordered_pairs([t[:1] for t in surname], [t[:1] for t in inits], (name.codes, given.codes))
    out["pk_name_letters"] = _rows(pz.many("name_letters", texts), codes)
    out["bf_given_name"] = _surname_blooms(pz, given_text, inits, iso, (first.codes, given.codes, born.codes), bloom)
    (digits,) = spread(_birth_digit_keys, (None,), born)
    for column, texts_, codes_, elements, hashes in (
        ("bf_street", street_key, street.codes, padded_bigrams, SET_HASHES),
        ("bf_city", city, town.codes, padded_bigrams, SET_HASHES),
        ("bf_postcode", postcode, code.codes, positioned_characters, POSITION_HASHES),
        ("bf_birth_date", digits, born.codes, positioned_characters, POSITION_HASHES),
    ):
        out[column] = _rows(pz.set_encodings(column, texts_, elements, ENCODING_BITS[column], hashes), codes_)

    for column, func in (("pk_bsn", nz.bsn), ("pk_phone", nz.phone), ("pk_email", nz.email)):
        out[column] = _pseudonymised(pz, _COLUMN_FIELD[column], func, col(column.removeprefix("pk_")))

    out["bf_surname"] = _surname_blooms(pz, surname, inits, iso, (name.codes, given.codes, born.codes), bloom)
    return pd.DataFrame(out, index=df.index, columns=list(PERSON_PSEUDONYMS), dtype=object)


def _surname_blooms(
    pz: Pseudonymiser,
    texts: list[str],
    inits: list[str],
    iso: list[str],
    codes: tuple[np.ndarray, np.ndarray, np.ndarray],
    bloom: bool,
) -> np.ndarray:
    """``bf_surname`` per row: the surname's encoding salted with the person's initials and birth date."""
    if not bloom:
        return np.full(len(codes[0]), None, dtype=object)
    person_codes, (ti, ii, bi) = _combine(codes)
    per_person = np.full(len(ti), None, dtype=object)
    present = np.flatnonzero(np.array([bool(t) for t in texts], dtype=bool)[ti])
    ti, ii, bi = ti[present], ii[present], bi[present]
    # the flip salt "surname 0x1F initials 0x1F birth date", joined per person from per-input parts (numpy loops)
    messages = (
        _objects([f"{t}\x1f".encode() for t in texts])[ti]
        + _objects([f"{i}\x1f".encode() for i in inits])[ii]
        + _objects([b.encode() for b in iso])[bi]
    )
    per_person[present] = pz._encodings(texts, ti, messages.tolist())
    return per_person[person_codes]


def pseudonymise_frame(
    df: pd.DataFrame,
    kind: str,
    key: bytes | keys.KeyChain,
    *,
    namespace: str | None = None,
    keep: Iterable[str] = (),
    bloom: bool = True,
) -> pd.DataFrame:
    """Replace the identifiers of a canonical ``kind`` frame by keyed pseudonyms, sealed.

    The result has, in this order: ``record_key``, ``key_version``, every attribute column of ``kind`` that is present
    in ``df`` (unchanged, same dtype), the columns named in ``keep`` (non-personal extras such as a
    partner code or a source file name; identifier columns are refused), and ``person_seal``: the row's person
    pseudonyms (``person_pseudonyms``; phone and e-mail only for corporations) sealed under the current key
    version (``sealing``). The pseudonyms themselves are not returned: their frequencies would survive at rest.
    No identifier column survives; columns not in the schema are dropped unless kept.

    ``record_key`` is the pseudonym of the kind's reference column; references are only unique within
    one partner, so pass the partner code as ``namespace`` when several partners share a table.
    """
    from eviction_prevention.pseudonymise import sealing

    if kind not in REFERENCE_COLUMN:
        raise ValueError(f"unknown source kind {kind!r}")
    identifiers = set(identifier_columns(kind))
    keep = list(keep)
    bad = [c for c in keep if c in identifiers or c in ("given_name", "bsn", "phone", "email")]
    if bad:
        raise ValueError(f"refusing to keep identifier columns {bad}")
    pz = shared_pseudonymiser(key)
    ref_field = REFERENCE_COLUMN[kind]

    def reference(ref: Any) -> str | None:
        if ref is None:
            return None
        text = nz.as_text(ref).strip()
        return f"{namespace}\x1f{text}" if namespace else text

    record_key = _pseudonymised(pz, ref_field, reference, _Column.of(df, ref_field))
    persons = person_pseudonyms(df, pz, bloom=bloom)
    if kind != "corporation":
        persons["pk_phone"] = None
        persons["pk_email"] = None
    seals = sealing.seal(persons, record_key, pz.key_version, kind, pz.chain)
    del persons
    attrs = [c for c in attribute_columns(kind) if c in df.columns]
    extras = [c for c in keep if c in df.columns and c not in attrs]
    out = pd.concat(
        [
            pd.DataFrame(
                {
                    "record_key": pd.Series(record_key, index=df.index, dtype=object),
                    "key_version": pd.Series(pz.key_version, index=df.index, dtype=object),
                }
            ),
            df[attrs + extras],
            seals.to_frame(sealing.SEAL_COLUMN),
        ],
        axis=1,
    )
    leaked = identifiers.intersection(out.columns)
    if leaked:  # cannot happen by construction; a hard stop rather than an assert that -O removes
        raise RuntimeError(f"identifier columns in pseudonymised output: {sorted(leaked)}")
    return out


def rotate_frame(frame: pd.DataFrame, kind: str, chain: bytes | keys.KeyChain, version: str) -> pd.DataFrame:
    """Carry stored rows to key version ``version`` of the key chain ``chain`` without clear text (see ``keys``).

    For a row at an earlier version (``key_version``; missing counts as the chain's first), every version after
    its own up to ``version`` is applied in turn: ``record_key`` (kind ``kind``) and every ``pk_*`` pseudonym
    become ``HMAC(key, root/version/field 0x1F stored)``, every ``bf_*`` encoding gets the version's bit
    permutation. In a stored frame the pseudonyms are in ``person_seal``: unsealed under the row's version,
    rotated, and sealed again under ``version`` (bound to the new record_key); a frame of pseudonym columns
    (in memory) is rotated as it is. ``key_version`` is set. Rows already at ``version`` are left as they are,
    so an interrupted rotation can be rerun."""
    from eviction_prevention.pseudonymise import sealing

    chain = keys.parse_key_chain(chain)
    order = [v for v, _ in chain.versions]
    if version not in order:
        raise ValueError(f"key version {version!r} is not in the key chain")
    out = frame.copy()
    stored = out["key_version"] if "key_version" in out.columns else pd.Series(None, index=out.index, dtype=object)
    stored = stored.astype(object).where(stored.notna(), order[0])
    sealed = sealing.SEAL_COLUMN in out.columns
    columns = [c for c in out.columns if c in PERSON_PSEUDONYMS]
    for start in pd.unique(stored).tolist():
        if start == version:
            continue
        if start not in order or order.index(start) > order.index(version):
            raise ValueError(f"rows at key version {start!r} cannot be rotated to {version!r}")
        rows = (stored == start).to_numpy()
        part = out.loc[rows]
        if sealed:
            tokens = sealing.unseal(part[sealing.SEAL_COLUMN], part["record_key"], start, kind, chain)
        else:
            tokens = part[columns]
        record_key = part["record_key"] if "record_key" in part.columns else None
        for step in order[order.index(start) + 1 : order.index(version) + 1]:
            tokens, record_key = _rotated(tokens, record_key, kind, dict(chain.versions)[step], step)
        if record_key is not None:
            out.loc[rows, "record_key"] = record_key.to_numpy()
        if sealed:
            seals = sealing.seal(tokens, record_key, version, kind, chain)
            out.loc[rows, sealing.SEAL_COLUMN] = seals.to_numpy()
        else:
            for column in columns:
                out.loc[rows, column] = tokens[column].to_numpy()
    out["key_version"] = pd.Series(version, index=out.index, dtype=object)
    return out


def _rotated(
    tokens: pd.DataFrame, record_key: pd.Series | None, kind: str, key: bytes, version: str
) -> tuple[pd.DataFrame, pd.Series | None]:
    """One rotation step (to ``version``, whose key is ``key``) of pseudonym columns and record keys."""

    def values(series: pd.Series) -> list[str | None]:
        return [v if isinstance(v, str) else None for v in series.astype(object).tolist()]

    def chained(series: pd.Series, field: str) -> pd.Series:
        rotated = [keys.rotate_pseudonym(key, version, field, v) for v in values(series)]
        return pd.Series(rotated, index=series.index, dtype=object)

    out = {}
    for column in tokens.columns:
        if column in _COLUMN_FIELD:
            out[column] = chained(tokens[column], column_field(column, kind))
        elif column.startswith("bf_"):
            order = keys.bloom_permutation(key, version, 8 * TOKEN_BYTES[column])
            permuted = [_permute_hex(v, order) if v else v for v in values(tokens[column])]
            out[column] = pd.Series(permuted, index=tokens.index, dtype=object)
        else:
            out[column] = tokens[column]
    rotated_keys = chained(record_key, column_field("record_key", kind)) if record_key is not None else None
    return pd.DataFrame(out, index=tokens.index), rotated_keys


def _permute_hex(value: str, order: list[int]) -> str:
    """A hex encoding of ``len(order)`` bits with bit j moved to position order[j]."""
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(value.zfill(len(order) // 4)), dtype=np.uint8))[None, :]
    return _to_hex(_permute_columns(bits.astype(bool), order))[0]
