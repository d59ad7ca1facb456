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
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from eviction_prevention import keys
from eviction_prevention import normalize as nz
from eviction_prevention.schema import attribute_columns, identifier_columns

__all__ = [
    "BLOOM_BITS",
    "ENCODED_BITS",
    "PSEUDONYM_COLUMNS",
    "REFERENCE_COLUMN",
    "Pseudonymiser",
    "bloom_bits",
    "column_field",
    "person_pseudonyms",
    "pseudonym",
    "pseudonymise_frame",
    "rotate_frame",
]

DOMAIN = "eviction-prevention/v1"
HEX_CHARS = keys.HEX_CHARS
BLOOM_BITS = 500  # inner filter
BLOOM_HASHES = 10
BLOOM_FLIPS = 5  # inner bits flipped per person (keyed by the person, not by the surname)
ENCODED_BITS = 2 * BLOOM_BITS  # balanced: the filter and its complement
_ENCODED_HEX = ENCODED_BITS // 4

REFERENCE_COLUMN: dict[str, str] = {"corporation": "tenancy_ref", "social_team": "case_ref", "sdd": "record_ref"}

PERSON_PSEUDONYMS: tuple[str, ...] = (
    "pk_surname",
    "pk_surname_1",
    "pk_surname_2",
    "pk_surname_phon",
    "pk_prefix",
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
    "pk_bsn",
    "pk_phone",
    "pk_email",
    "bf_surname",
)
PSEUDONYM_COLUMNS: tuple[str, ...] = ("record_key", *PERSON_PSEUDONYMS)

# The HMAC field label of each stored pseudonym column (columns compared with each other share one).
_COLUMN_FIELD: dict[str, str] = {
    "pk_surname": "surname",
    "pk_surname_1": "surname_component",
    "pk_surname_2": "surname_component",
    "pk_surname_phon": "surname_phonetic",
    "pk_prefix": "prefix",
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


def _to_hex(matrix: np.ndarray) -> list[str]:
    packed = np.packbits(matrix, axis=1)
    return [row.tobytes().hex() for row in packed]


class Pseudonymiser:
    """Memoising pseudonym factory for one key chain (HMAC state per version and field is precomputed)."""

    def __init__(self, key: bytes | keys.KeyChain) -> None:
        self.chain = keys.parse_key_chain(key)
        self._bases: dict[tuple[str, str], Any] = {}
        self._bloom_memo: dict[str, tuple[int, ...]] = {}
        self._order: list[int] | None = None

    @property
    def key_version(self) -> str:
        return self.chain.current

    def _base(self, version: str, k: bytes, field: str) -> Any:
        base = self._bases.get((version, field))
        if base is None:
            base = hmac.new(k, keys.domain_prefix(version, field), hashlib.sha256)
            self._bases[(version, field)] = base
        return base

    def __call__(self, field: str, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        out = value
        for version, k in self.chain.versions:
            h = self._base(version, k, field).copy()
            h.update(out.encode())
            out = h.hexdigest()[:HEX_CHARS]
        return out

    def many(self, field: str, values: Iterable[str | None]) -> list[str | None]:
        """Pseudonyms of many values, each distinct value hashed once."""
        cache: dict[str | None, str | None] = {None: None, "": None}
        out = []
        for v in values:
            res = cache.get(v, cache)
            if res is cache:
                res = cache[v] = self(field, v)
            out.append(res)
        return out

    def _digest(self, field: str, value: str) -> bytes:
        version, k = self.chain.versions[0]
        h = self._base(version, k, field).copy()
        h.update(value.encode())
        return h.digest()

    def _bigram_positions(self, bigram: str) -> tuple[int, ...]:
        positions = self._bloom_memo.get(bigram)
        if positions is None:
            digest = self._digest("bf_surname", bigram)
            h1 = int.from_bytes(digest[:8], "big")
            h2 = int.from_bytes(digest[8:16], "big") | 1
            positions = tuple((h1 + i * h2) % BLOOM_BITS for i in range(BLOOM_HASHES))
            self._bloom_memo[bigram] = positions
        return positions

    def _flip_positions(self, salt: str) -> list[int]:
        digest = self._digest("bf_noise", salt)
        return [int.from_bytes(digest[2 * i : 2 * i + 2], "big") % BLOOM_BITS for i in range(BLOOM_FLIPS)]

    def _permutation(self) -> list[int]:
        """The composition of every version's keyed permutation (bit j ends at position order[j])."""
        if self._order is None:
            order = list(range(ENCODED_BITS))
            for version, k in self.chain.versions:
                step = keys.bloom_permutation(k, version, ENCODED_BITS)
                order = [step[j] for j in order]
            self._order = order
        return self._order

    def blooms(self, texts: Iterable[str | None], salts: Iterable[str] | None = None) -> list[str | None]:
        """Hardened encodings (``ENCODED_BITS`` bits as hex, see the module doc) of many texts.

        ``salts`` (one per text, e.g. the person's other keys) choose the flipped bits; the same text
        with the same salt always gives the same encoding. Empty text -> ``None``."""
        texts = list(texts)
        salts = list(salts) if salts is not None else [""] * len(texts)
        inner = np.zeros((len(texts), BLOOM_BITS), dtype=bool)
        present = np.array([bool(t) for t in texts], dtype=bool)
        set_rows, set_cols, flip_rows, flip_cols = self._bloom_positions(texts, salts)
        inner[set_rows, set_cols] = True
        flips = np.zeros((len(texts), BLOOM_BITS), dtype=np.uint8)
        np.add.at(flips, (flip_rows, flip_cols), 1)  # a position flipped twice is back where it was
        inner ^= (flips & 1).astype(bool)
        encoded = _permute_columns(np.concatenate([inner, ~inner], axis=1), self._permutation())
        hexes = _to_hex(encoded) if len(texts) else []
        return [h if ok else None for h, ok in zip(hexes, present, strict=True)]

    def _bloom_positions(self, texts: list[str | None], salts: list[str]) -> tuple[list[int], ...]:
        """(rows, columns) of the bigram bits to set and of the keyed bits to flip, for every text."""
        set_rows: list[int] = []
        set_cols: list[int] = []
        flip_rows: list[int] = []
        flip_cols: list[int] = []
        word_memo: dict[str, list[int]] = {}
        for row, (text, salt) in enumerate(zip(texts, salts, strict=True)):
            if not text:
                continue
            cols = word_memo.get(text)
            if cols is None:
                padded = f"_{text}_"
                cols = word_memo[text] = [
                    pos for i in range(len(padded) - 1) for pos in self._bigram_positions(padded[i : i + 2])
                ]
            set_rows += [row] * len(cols)
            set_cols += cols
            flips = self._flip_positions(f"{text}\x1f{salt}")
            flip_rows += [row] * len(flips)
            flip_cols += flips
        return set_rows, set_cols, flip_rows, flip_cols

    def bloom(self, text: str | None, salt: str = "") -> str | None:
        """The hardened encoding of one text (see ``blooms``)."""
        return self.blooms([text], [salt])[0]


def bloom_bits(hex_filter: str | None) -> int:
    """An encoding as an int (0 for missing); the Hamming distance of two is ``(a ^ b).bit_count()``."""
    return int(hex_filter, 16) if hex_filter else 0


def _col(df: pd.DataFrame, name: str) -> list[Any]:
    """Column values as Python objects with every kind of missing as None (absent column -> all None)."""
    if name not in df.columns:
        return [None] * len(df)
    return [None if nz.is_missing(v) else v for v in df[name].tolist()]


def _memo_map(func: Callable[..., Any], *columns: list[Any]) -> list[Any]:
    """Apply ``func`` once per distinct tuple of inputs (hashable fallback: call directly)."""
    cache: dict[Any, Any] = {}
    out = []
    for args in zip(*columns, strict=True):
        try:
            res = cache.get(args, cache)
        except TypeError:  # unhashable value
            out.append(func(*args))
            continue
        if res is cache:
            res = func(*args)
            cache[args] = res
        out.append(res)
    return out


def _unzip(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def _name_keys(prefix: Any, surname: Any) -> tuple[str, str, str, str, str, str]:
    """(surname, component 1, component 2, phonetic, prefix, bloom text) in normalised form."""
    norm_prefix, _ = nz.split_prefix(prefix, surname)
    components = nz.surname_components(surname)
    if not components:
        return "", "", "", "", norm_prefix, ""
    full = " ".join(components)
    first_two = sorted(components[:2])
    second = first_two[1] if len(first_two) > 1 else ""
    return full, first_two[0], second, nz.phonetic(components[0]), norm_prefix, full


def _initial_keys(initials: Any, given_name: Any) -> tuple[str, str, str]:
    inits = nz.initials(initials) or nz.initials(given_name)
    return inits, "".join(sorted(inits)), inits[:1]


def _birth_keys(value: Any) -> tuple[str, str, str, str]:
    d = nz.birth_date(value)
    if d is None:
        return "", "", "", ""
    swapped = ""
    if d.day <= 12 and d.day != d.month:
        swapped = d.replace(month=d.day, day=d.month).isoformat()
    return d.isoformat(), str(d.year), f"{d.month:02d}-{d.day:02d}", swapped


def _address_keys(street: Any, number: Any, letter: Any, suffix: Any, code: Any) -> tuple[str, str, str]:
    pc = nz.postcode(code) or ""
    full_house = nz.house(number, letter, suffix)
    bare = nz.house_number(number)
    st = nz.street(street)
    address = f"{pc}|{full_house}" if pc and full_house else ""
    street_house = f"{st}|{bare}" if st and bare else ""
    return pc, address, street_house


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
    as empty. ``columns`` maps a canonical name to another column name in ``df``.
    """
    pz = key if isinstance(key, Pseudonymiser) else Pseudonymiser(key)
    names = columns or {}

    def col(name: str) -> list[Any]:
        return _col(df, names.get(name, name))

    out: dict[str, list[Any]] = {}

    name_keys = _memo_map(_name_keys, col("prefix"), col("surname"))
    full, c1, c2, phon, prefix, bf_text = _unzip(name_keys, 6)
    out["pk_surname"] = pz.many("surname", full)
    out["pk_surname_1"] = pz.many("surname_component", c1)
    out["pk_surname_2"] = pz.many("surname_component", c2)
    out["pk_surname_phon"] = pz.many("surname_phonetic", phon)
    out["pk_prefix"] = pz.many("prefix", prefix)

    init_keys = _memo_map(_initial_keys, col("initials"), col("given_name"))
    inits, inits_sorted, first = _unzip(init_keys, 3)
    out["pk_initials"] = pz.many("initials", inits)
    out["pk_initials_sorted"] = pz.many("initials_sorted", inits_sorted)
    out["pk_initial_1"] = pz.many("initial", first)

    birth_keys = _memo_map(_birth_keys, col("birth_date"))
    iso, year, md, swapped = _unzip(birth_keys, 4)
    out["pk_birth_date"] = pz.many("birth_date", iso)
    out["pk_birth_year"] = pz.many("birth_year", year)
    out["pk_birth_md"] = pz.many("birth_md", md)
    out["pk_birth_dm_swapped"] = pz.many("birth_date", swapped)

    addr_keys = _memo_map(
        _address_keys,
        col("street"),
        col("house_number"),
        col("house_letter"),
        col("house_number_suffix"),
        col("postcode"),
    )
    pc, address, street_house = _unzip(addr_keys, 3)
    out["pk_postcode"] = pz.many("postcode", pc)
    out["pk_address"] = pz.many("address", address)
    out["pk_street_house"] = pz.many("street_house", street_house)

    out["pk_bsn"] = pz.many("bsn", _memo_map(nz.bsn, col("bsn")))
    out["pk_phone"] = pz.many("phone", _memo_map(nz.phone, col("phone")))
    out["pk_email"] = pz.many("email", _memo_map(nz.email, col("email")))
    salts = [f"{i}\x1f{b}" for i, b in zip(inits, iso, strict=True)]
    out["bf_surname"] = pz.blooms(bf_text, salts) if bloom else [None] * len(df)

    frame = pd.DataFrame(out, index=df.index, columns=list(PERSON_PSEUDONYMS), dtype=object)
    return frame.astype(object).where(frame.notna(), None)


def pseudonymise_frame(
    df: pd.DataFrame,
    kind: str,
    key: bytes | keys.KeyChain,
    *,
    namespace: str | None = None,
    keep: Iterable[str] = (),
    bloom: bool = True,
) -> pd.DataFrame:
    """Replace the identifiers of a canonical ``kind`` frame by keyed pseudonyms.

    The result has, in this order: ``record_key``, ``key_version``, every attribute column of ``kind`` that is present
    in ``df`` (unchanged, same dtype), the columns named in ``keep`` (non-personal extras such as a
    partner code or a source file name; identifier columns are refused), and the person pseudonyms.
    No identifier column survives; columns not in the schema are dropped unless kept.

    ``record_key`` is the pseudonym of the kind's reference column; references are only unique within
    one partner, so pass the partner code as ``namespace`` when several partners share a table.
    """
    if kind not in REFERENCE_COLUMN:
        raise ValueError(f"unknown source kind {kind!r}")
    identifiers = set(identifier_columns(kind))
    keep = list(keep)
    bad = [c for c in keep if c in identifiers or c in ("given_name", "bsn", "phone", "email")]
    if bad:
        raise ValueError(f"refusing to keep identifier columns {bad}")
    pz = Pseudonymiser(key)
    ref_field = REFERENCE_COLUMN[kind]
    refs = _col(df, ref_field)
    if namespace:
        record_key = [pz(ref_field, f"{namespace}\x1f{nz.as_text(r).strip()}") if r is not None else None
                      for r in refs]  # fmt: skip
    else:
        record_key = [pz(ref_field, nz.as_text(r).strip()) if r is not None else None for r in refs]
    persons = person_pseudonyms(df, pz, bloom=bloom)
    if kind != "corporation":
        persons["pk_phone"] = None
        persons["pk_email"] = None
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
            persons,
        ],
        axis=1,
    )
    leaked = identifiers.intersection(out.columns)
    if leaked:  # cannot happen by construction; a hard stop rather than an assert that -O removes
        raise RuntimeError(f"identifier columns in pseudonymised output: {sorted(leaked)}")
    return out


def rotate_frame(frame: pd.DataFrame, kind: str, key: bytes, version: str) -> pd.DataFrame:
    """Carry stored pseudonyms to a new key version without clear text (see ``keys``).

    Every ``pk_*`` column and ``record_key`` (kind ``kind``) becomes ``HMAC(key, root/version/field 0x1F
    stored)``, ``bf_*`` encodings get the new version's bit permutation, and ``key_version`` is set.
    Rows already at ``version`` are left as they are, so an interrupted rotation can be rerun."""
    out = frame.copy()
    todo = (out["key_version"] != version).to_numpy() if "key_version" in out.columns else np.ones(len(out), bool)
    for column in out.columns:
        if column == "record_key" or column in _COLUMN_FIELD:
            field = column_field(column, kind)
            values = out[column].astype(object).tolist()
            rotated = [
                keys.rotate_pseudonym(key, version, field, v) if do and isinstance(v, str) else v
                for v, do in zip(values, todo, strict=True)
            ]
            out[column] = pd.Series(rotated, index=out.index, dtype=object)
        elif column.startswith("bf_"):
            order = keys.bloom_permutation(key, version, ENCODED_BITS)
            permuted = [
                _permute_hex(v, order) if do and isinstance(v, str) else v
                for v, do in zip(out[column].astype(object).tolist(), todo, strict=True)
            ]
            out[column] = pd.Series(permuted, index=out.index, dtype=object)
    out["key_version"] = pd.Series(version, index=out.index, dtype=object)
    return out


def _permute_hex(value: str, order: list[int]) -> str:
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(value.zfill(_ENCODED_HEX)), dtype=np.uint8))[None, :]
    return _to_hex(_permute_columns(bits.astype(bool), order))[0]
