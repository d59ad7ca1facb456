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

``bf_surname`` lets linkage score surname typos (Dice similarity). Its bit positions come from the
HMAC, so it cannot be built without the key, but Bloom filters of short strings are open to
frequency/pattern attacks by someone holding many of them: treat the column as personal data of the
same class as the other pseudonyms (pseudonymous, not anonymous), or pass ``bloom=False``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from eviction_prevention import normalize as nz
from eviction_prevention.schema import attribute_columns, identifier_columns

__all__ = [
    "BLOOM_BITS",
    "PSEUDONYM_COLUMNS",
    "REFERENCE_COLUMN",
    "Pseudonymiser",
    "bloom_bits",
    "person_pseudonyms",
    "pseudonym",
    "pseudonymise_frame",
]

DOMAIN = "eviction-prevention/v1"
HEX_CHARS = 32
BLOOM_BITS = 500
BLOOM_HASHES = 10

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


def _check_field(field: str) -> str:
    if not field or "\x1f" in field:
        raise ValueError("a pseudonym field label must be non-empty and must not contain the separator")
    return field


def _message(field: str, value: str) -> bytes:
    _check_field(field)
    return f"{DOMAIN}/{field}\x1f{value}".encode()


def pseudonym(key: bytes, field: str, value: str | None) -> str | None:
    """Keyed pseudonym of one value: 32 hex chars of HMAC-SHA256(key, domain/field 0x1F value).

    ``None``, NA and empty/blank strings give ``None``. The value is used as given (normalise first).
    Field labels may not contain the 0x1F separator, so (field, value) -> message is injective.
    """
    if nz.is_missing(value):
        return None
    return hmac.new(key, _message(field, str(value)), hashlib.sha256).hexdigest()[:HEX_CHARS]


class Pseudonymiser:
    """Memoising pseudonym factory for one key (fast on repeated values: HMAC state is precomputed)."""

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray) or not key:
            raise ValueError("the pseudonymisation key must be non-empty bytes")
        self._key = bytes(key)
        self._bases: dict[str, Any] = {}
        self._bloom_memo: dict[str, tuple[int, ...]] = {}

    def __call__(self, field: str, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        base = self._bases.get(field)
        if base is None:
            base = hmac.new(self._key, f"{DOMAIN}/{_check_field(field)}\x1f".encode(), hashlib.sha256)
            self._bases[field] = base
        h = base.copy()
        h.update(value.encode())
        return h.hexdigest()[:HEX_CHARS]

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

    def _bigram_positions(self, bigram: str) -> tuple[int, ...]:
        positions = self._bloom_memo.get(bigram)
        if positions is None:
            digest = hmac.new(self._key, _message("bf_surname", bigram), hashlib.sha256).digest()
            h1 = int.from_bytes(digest[:8], "big")
            h2 = int.from_bytes(digest[8:16], "big") | 1
            positions = tuple((h1 + i * h2) % BLOOM_BITS for i in range(BLOOM_HASHES))
            self._bloom_memo[bigram] = positions
        return positions

    def bloom(self, text: str | None) -> str | None:
        """Hex of a ``BLOOM_BITS``-bit filter of the padded bigrams of ``text`` (double hashing from an
        HMAC per bigram, ``BLOOM_HASHES`` positions each); ``None`` for empty text."""
        if not text:
            return None
        padded = f"_{text}_"
        bits = 0
        for i in range(len(padded) - 1):
            for pos in self._bigram_positions(padded[i : i + 2]):
                bits |= 1 << pos
        return f"{bits:0{(BLOOM_BITS + 3) // 4}x}"


def bloom_bits(hex_filter: str | None) -> int:
    """The Bloom filter as an int (0 for missing); Dice = 2|a&b| / (|a| + |b|) with ``int.bit_count``."""
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
    key: bytes | Pseudonymiser,
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
    out["bf_surname"] = _memo_map(pz.bloom, bf_text) if bloom else [None] * len(df)

    frame = pd.DataFrame(out, index=df.index, columns=list(PERSON_PSEUDONYMS), dtype=object)
    return frame.astype(object).where(frame.notna(), None)


def pseudonymise_frame(
    df: pd.DataFrame,
    kind: str,
    key: bytes,
    *,
    namespace: str | None = None,
    keep: Iterable[str] = (),
    bloom: bool = True,
) -> pd.DataFrame:
    """Replace the identifiers of a canonical ``kind`` frame by keyed pseudonyms.

    The result has, in this order: ``record_key``, every attribute column of ``kind`` that is present
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
            pd.DataFrame({"record_key": pd.Series(record_key, index=df.index, dtype=object)}),
            df[attrs + extras],
            persons,
        ],
        axis=1,
    )
    leaked = identifiers.intersection(out.columns)
    if leaked:  # cannot happen by construction; a hard stop rather than an assert that -O removes
        raise RuntimeError(f"identifier columns in pseudonymised output: {sorted(leaked)}")
    return out
