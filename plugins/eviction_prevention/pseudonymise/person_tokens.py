"""A person's linkage tokens (``person_pseudonyms``): the keyed surname, its components and phonetic form,
initials, birth date variants, postcode, address, street, city, BSN, and the Bloom encodings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from eviction_prevention.pseudonymise import keys
from eviction_prevention.pseudonymise import normalize as nz
from eviction_prevention.pseudonymise.distinct_inputs import (
    DistinctColumn,
    DistinctCombination,
    combine_codes,
    keyed_values,
    object_array,
    pseudonymised_column,
    rows_of,
)
from eviction_prevention.pseudonymise.pseudonymiser import (
    COLUMN_FIELD,
    ENCODING_BITS,
    PERSON_PSEUDONYMS,
    POSITION_HASHES,
    SET_HASHES,
    Pseudonymiser,
    padded_bigrams,
    positioned_characters,
    shared_pseudonymiser,
)


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
    pair_codes, (fi, si) = combine_codes(codes)
    texts = ["|".join(sorted((first[a], second[b]))) if first[a] and second[b] else "" for a, b in zip(
        fi.tolist(), si.tolist(), strict=True)]  # fmt: skip
    return texts, pair_codes


def _joined(left: list[str], right: list[str], codes: tuple[np.ndarray, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """``"{left}|{right}"`` of the distinct (left, right) pairs ("" when either is empty), and the row codes."""
    pair_codes, (li, ri) = combine_codes(codes)
    joined = object_array(left)[li] + "|" + object_array(right)[ri]  # numpy loops over the pairs
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

    def col(name: str) -> DistinctColumn:
        return DistinctColumn.of(df, names.get(name, name))

    out: dict[str, np.ndarray] = {}

    def spread(
        func: Callable[..., tuple[str, ...]],
        columns: tuple[str | None, ...],
        inputs: DistinctColumn | DistinctCombination,
    ) -> list[list[str]]:
        """Rows of the pseudonym columns of ``func``'s values; its text values (per distinct input) are returned."""
        per_input = keyed_values(pz, func, columns, inputs)
        for column, values in zip(columns, per_input, strict=True):
            if column is not None:
                out[column] = rows_of(values, inputs.codes)
        return [values for column, values in zip(columns, per_input, strict=True) if column is None]

    name = DistinctCombination.of(col("prefix"), col("surname"))
    (surname,) = spread(
        _name_keys, ("pk_surname", "pk_surname_1", "pk_surname_2", "pk_surname_phon", "pk_prefix", None), name
    )
    given = DistinctCombination.of(col("initials"), col("given_name"))
    (inits,) = spread(_initial_keys, ("pk_initials", "pk_initials_sorted", "pk_initial_1", None), given)
    born = col("birth_date")
    (iso,) = spread(_birth_keys, ("pk_birth_date", "pk_birth_year", "pk_birth_md", "pk_birth_dm_swapped", None), born)

    code = col("postcode")
    (postcode,) = spread(_postcode_keys, ("pk_postcode", None), code)
    house = DistinctCombination.of(col("house_number"), col("house_letter"), col("house_number_suffix"))
    full_house, bare = spread(_house_keys, (None, None), house)
    street = col("street")
    (street_key,) = spread(_street_keys, (None,), street)
    texts, codes = _joined(postcode, full_house, (code.codes, house.codes))  # nearly one per person: no memo
    out["pk_address"] = rows_of(pz._pseudonyms("address", texts), codes)
    texts, codes = _joined(street_key, bare, (street.codes, house.codes))
    out["pk_street_house"] = rows_of(pz.many("street_house", texts), codes)

    out["pk_house_number"] = rows_of(pz.many("house_number", bare), house.codes)
    town = col("city")
    (city,) = spread(_city_keys, ("pk_city", None), town)
    first = col("given_name")
    (given_text,) = spread(_given_keys, ("pk_given_name", None), first)
    texts, codes = _unordered_pairs(surname, given_text, (name.codes, first.codes))
    out["pk_name_pair"] = rows_of(pz._pseudonyms("name_pair", texts), codes)
    texts, codes = _unordered_pairs([t[:1] for t in surname], [t[:1] for t in inits], (name.codes, given.codes))
    out["pk_name_letters"] = rows_of(pz.many("name_letters", texts), codes)
    out["bf_given_name"] = _surname_blooms(pz, given_text, inits, iso, (first.codes, given.codes, born.codes), bloom)
    (digits,) = spread(_birth_digit_keys, (None,), born)
    for column, texts_, codes_, elements, hashes in (
        ("bf_street", street_key, street.codes, padded_bigrams, SET_HASHES),
        ("bf_city", city, town.codes, padded_bigrams, SET_HASHES),
        ("bf_postcode", postcode, code.codes, positioned_characters, POSITION_HASHES),
        ("bf_birth_date", digits, born.codes, positioned_characters, POSITION_HASHES),
    ):
        out[column] = rows_of(pz.set_encodings(column, texts_, elements, ENCODING_BITS[column], hashes), codes_)

    for column, func in (("pk_bsn", nz.bsn), ("pk_phone", nz.phone), ("pk_email", nz.email)):
        out[column] = pseudonymised_column(pz, COLUMN_FIELD[column], func, col(column.removeprefix("pk_")))

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
    person_codes, (ti, ii, bi) = combine_codes(codes)
    per_person = np.full(len(ti), None, dtype=object)
    present = np.flatnonzero(np.array([bool(t) for t in texts], dtype=bool)[ti])
    ti, ii, bi = ti[present], ii[present], bi[present]
    # the flip salt "surname 0x1F initials 0x1F birth date", joined per person from per-input parts (numpy loops)
    messages = (
        object_array([f"{t}\x1f".encode() for t in texts])[ti]
        + object_array([f"{i}\x1f".encode() for i in inits])[ii]
        + object_array([b.encode() for b in iso])[bi]
    )
    per_person[present] = pz._encodings(texts, ti, messages.tolist())
    return per_person[person_codes]
