"""Keyed pseudonyms: ``pseudonym(key, field, value)`` (an HMAC chain with per-field domain separation),
the pseudonym columns, and the ``Pseudonymiser``: precomputed HMAC pad states, memos of the low-cardinality
results, and the hardened Bloom encodings of surnames, street, city, postcode and birth date.
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

from eviction_prevention.pseudonymise import keys
from eviction_prevention.pseudonymise import normalize as nz

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
COLUMN_FIELD: dict[str, str] = {
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
    return COLUMN_FIELD[column]


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


def permute_columns(matrix: np.ndarray, order: list[int]) -> np.ndarray:
    """Bit j moves to position order[j] (a gather with the inverse permutation: much faster than a scatter)."""
    inverse = np.empty(len(order), dtype=np.intp)
    inverse[np.asarray(order, dtype=np.intp)] = np.arange(len(order), dtype=np.intp)
    return np.take(matrix, inverse, axis=1)


def _hex_rows(packed: np.ndarray) -> list[str]:
    """Each row of a packed uint8 matrix as lowercase hex (one ``hex()`` call, then slices)."""
    width = 2 * packed.shape[1]
    text = packed.tobytes().hex()
    return [text[i : i + width] for i in range(0, len(text), width)]


def to_hex(matrix: np.ndarray) -> list[str]:
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
            return to_hex(permute_columns(matrix, self._permutation(bits)))

        found = dict(zip(distinct, self._memo(f"encoding:{field}").fetch(distinct, compute), strict=True))
        return [found[t] if t else None for t in texts]

    def _encode(self, inner: np.ndarray) -> np.ndarray:
        """Inner filters (rows of ``BLOOM_BITS`` bools) -> balanced, permuted, packed encodings."""
        return np.packbits(
            permute_columns(np.concatenate([inner, ~inner], axis=1), self._permutation(ENCODED_BITS)), axis=1
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


def padded_bigrams(text: str) -> list[str]:
    """The bigrams of ``_text_``: ``"ab"`` -> ``["_a", "ab", "b_"]``."""
    padded = f"_{text}_"
    return [padded[i : i + 2] for i in range(len(padded) - 1)]


def positioned_characters(text: str) -> list[str]:
    """Each character with its position: ``"12"`` -> ``["0:1", "1:2"]``."""
    return [f"{i}:{ch}" for i, ch in enumerate(text)]
