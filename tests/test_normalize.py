"""Dutch normalisation rules, with hand-computed expected values."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from eviction_prevention.pseudonymise import normalize as nz


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Çelik", "celik"),
        ("  Ëlsa   Ïnge ", "elsa inge"),
        ("Muñoz", "munoz"),
        ("José-María", "jose maria"),
        ("in 't Veld", "in t veld"),
        ("Straße", "strasse"),
        ("Søren", "soren"),
        (None, ""),
        (float("nan"), ""),
        (pd.NA, ""),
        (12.0, "12"),
    ],
)
def test_clean_text(raw, expected):
    assert nz.clean_text(raw) == expected


@pytest.mark.parametrize(
    ("prefix", "surname", "expected"),
    [
        ("van", "Dijk", ("van", "dijk")),
        ("", "van Dijk", ("van", "dijk")),
        (None, "Dijk, van", ("van", "dijk")),
        ("", "Van der Berg", ("van der", "berg")),
        ("v.d.", "Berg", ("van der", "berg")),
        ("vd", "Berg", ("van der", "berg")),
        ("", "v/d Berg", ("van der", "berg")),
        ("", "Berg, v.d.", ("van der", "berg")),
        ("", "in 't Veld", ("in 't", "veld")),
        ("In 'T", "Veld", ("in 't", "veld")),
        ("ter", "Horst", ("ter", "horst")),
        ("", "Den Hartog", ("den", "hartog")),
        ("van", "der Meer", ("van der", "meer")),  # prefix split over both fields
        ("van der", "van der Meer", ("van der", "meer")),  # written twice
        ("", "De", ("", "de")),  # a surname that is only a prefix word stays a surname
        ("", "Çelik", ("", "celik")),
        ("", "Jansen-de Vries", ("", "jansen de vries")),
    ],
)
def test_split_prefix(prefix, surname, expected):
    assert nz.split_prefix(prefix, surname) == expected


@pytest.mark.parametrize(
    ("surname", "expected"),
    [
        ("Jansen-de Vries", ["jansen", "vries"]),
        ("Jansen - de Vries", ["jansen", "vries"]),
        ("Jansen e.v. de Vries", ["jansen", "vries"]),
        ("de Vries geb. Jansen", ["vries", "jansen"]),
        ("van den Berg", ["berg"]),
        ("Van der Berg-van Dijk", ["berg", "dijk"]),
        ("Dijk, van", ["dijk"]),
        ("O'Brien", ["obrien"]),
        ("García López", ["garcia", "lopez"]),
        ("De", ["de"]),
        ("", []),
        (None, []),
    ],
)
def test_surname_components(surname, expected):
    assert nz.surname_components(surname) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Johannes Pieter", "jp"),
        ("J.P.", "jp"),
        ("j p", "jp"),
        ("JP", "jp"),
        ("jp", "jp"),
        ("J.P", "jp"),
        ("Jan-Willem", "jw"),
        ("Th.J.", "tj"),
        ("Émile", "e"),
        ("JAN", "j"),
        ("", ""),
        (None, ""),
    ],
)
def test_initials(raw, expected):
    assert nz.initials(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234ab", "1234AB"),
        ("1234 ab", "1234AB"),
        ("3311 AB", "3311AB"),
        (" 3311-ab ", "3311AB"),
        ("NL-3311 AB", "3311AB"),
        ("SW1A 1AA", "SW1A1AA"),  # foreign: cleaned, kept
        ("B-2000", "B2000"),
        ("???", None),
        ("", None),
        (None, None),
        (3311.0, "3311"),
    ],
)
def test_postcode(raw, expected):
    assert nz.postcode(raw) == expected


def test_is_dutch_postcode():
    assert nz.is_dutch_postcode("3311 ab")
    assert not nz.is_dutch_postcode("SW1A 1AA")
    assert not nz.is_dutch_postcode("0311AB")  # Dutch postcodes do not start with 0


@pytest.mark.parametrize(
    ("number", "letter", "suffix", "expected"),
    [
        ("12", "a", "bis", "12A-BIS"),
        (12, None, None, "12"),
        (12.0, None, None, "12"),
        ("012", "", "", "12"),
        ("12a", None, None, "12A"),
        ("12 A", None, None, "12A"),
        ("12-2", None, None, "12-2"),
        ("12", "", "a", "12A"),  # a single-letter suffix is the house letter
        ("12", "bis", None, "12-BIS"),  # a long 'letter' is a suffix
        ("12", "b", "2", "12B-2"),
        (pd.NA, "a", None, ""),
        (None, None, None, ""),
    ],
)
def test_house(number, letter, suffix, expected):
    assert nz.house(number, letter, suffix) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("31-12-1980", date(1980, 12, 31)),
        ("1980-12-31", date(1980, 12, 31)),
        ("31/12/1980", date(1980, 12, 31)),
        ("31.12.1980", date(1980, 12, 31)),
        ("1-2-1980", date(1980, 2, 1)),
        ("1980-12-31 00:00:00", date(1980, 12, 31)),
        ("1980-12-31T00:00:00", date(1980, 12, 31)),
        ("19801231", date(1980, 12, 31)),
        ("31 dec 1980", date(1980, 12, 31)),
        ("3 mrt 1975", date(1975, 3, 3)),
        (date(1980, 12, 31), date(1980, 12, 31)),
        (datetime(1980, 12, 31, 13, 5), date(1980, 12, 31)),
        (pd.Timestamp("1980-12-31"), date(1980, 12, 31)),
        (np.datetime64("1980-12-31"), date(1980, 12, 31)),
        ("31-02-1980", None),  # no such date
        ("1750-01-01", None),  # out of range
        ("onbekend", None),
        (pd.NaT, None),
        (None, None),
        (float("nan"), None),
        ("", None),
    ],
)
def test_birth_date(raw, expected):
    assert nz.birth_date(raw) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Dijk", "Dyk"),
        ("Dijk", "Dijck"),
        ("Jansen", "Janssen"),
        ("Smit", "Smidt"),
        ("Smit", "Smid"),
        ("Bosch", "Bos"),
        ("Vries", "Fries"),
        ("Zwart", "Swart"),
        ("Meijer", "Meyer"),
        ("Çelik", "Celik"),
        ("Huisman", "HUISMAN"),
        ("Christiaans", "Gristiaans"),
    ],
)
def test_phonetic_equal(a, b):
    assert nz.phonetic(a) == nz.phonetic(b)


def test_phonetic_values_and_distinctions():
    assert nz.phonetic("Bosch") == "bas"  # final sch
    assert nz.phonetic("Schouten") == "sgatan"
    assert nz.phonetic("Çelik") == "salak"  # c before e/i/y, after accents are stripped
    assert nz.phonetic("Dijk") == "dak"
    assert nz.phonetic("Jansen") == "jansan"
    assert nz.phonetic("Smit") == "smat"
    assert nz.phonetic("Jansen") != nz.phonetic("Jacobs")
    assert nz.phonetic("Visser") != nz.phonetic("Vos")
    assert nz.phonetic(None) == ""


@pytest.mark.parametrize(
    ("raw", "valid"),
    [
        # 1*9+1*8+1*7+2*6+2*5+2*4+3*3+3*2 = 69; 69 - 3 = 66 = 6*11 -> valid
        ("111222333", True),
        ("111 222 333", True),
        ("111.222.333", True),
        (111222333, True),
        (111222333.0, True),
        # 1*9+2*8+3*7+4*6+5*5+6*4+7*3+8*2 = 156; 156 - 9 = 147 = 13*11 + 4 -> invalid
        ("123456789", False),
        # 8 digits: leading zero restored, 0*9+1*8+2*7+3*6+4*5+5*4+6*3+7*2 = 112; 112 - 8 = 104 -> invalid
        ("12345678", False),
        # 0*9+1*8+2*7+3*6+4*5+5*4+6*3+8*2 = 114; 114 - 4 = 110 = 10*11 -> valid, with or without the 0
        ("012345684", True),
        ("12345684", True),
        ("000000000", False),
        ("11122233", False),
        ("1112223334", False),
        ("abc", False),
        (None, False),
    ],
)
def test_bsn_valid(raw, valid):
    assert nz.bsn_valid(raw) is valid


def test_bsn_normalised():
    assert nz.bsn("111 222 333") == "111222333"
    assert nz.bsn("12345684") == "012345684"
    assert nz.bsn("123456789") is None


def test_bsn_numbers_valid_is_the_11_test_on_whole_arrays():
    numbers = np.array([111222333, 123456789, 0, 12345684, 12345685], dtype=np.int64)  # 12345684: 8 digits
    assert nz.bsn_numbers_valid(numbers).tolist() == [True, False, False, True, False]


def test_bsn_digits_of_other_scripts_count_like_ascii_digits():
    arabic_indic = "".join(chr(0x0660 + int(d)) for d in "111222333")  # the 11-test on the digits' values
    assert nz.bsn_valid(arabic_indic)
    assert nz.bsn(arabic_indic) == arabic_indic
    assert not nz.bsn_valid("".join(chr(0x0660 + int(d)) for d in "123456789"))


def test_blank_text_of_any_whitespace_is_missing():
    for blank in ("", " ", "\t\n", "\x1c\x1f", "\u00a0\u2003"):  # str.isspace() characters, not only ASCII
        assert nz.is_missing(blank)
        assert nz.as_text(blank) == ""
    assert nz.as_text(" x ") == " x "


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+31 (0)6-1234 5678", "0612345678"),
        ("0031612345678", "0612345678"),
        ("06 12345678", "0612345678"),
        ("078-1234567", "0781234567"),
        ("+44 20 7946 0000", "+442079460000"),
        ("123", None),
        (None, None),
    ],
)
def test_phone(raw, expected):
    assert nz.phone(raw) == expected


def test_email_and_street():
    assert nz.email(" Jan.Jansen@Example.NL ") == "jan.jansen@example.nl"
    assert nz.email("geen") is None
    assert nz.street("Kerkstr.") == nz.street("Kerkstraat") == "kerkstraat"
    assert nz.street("Johan de Witt straat") == nz.street("Johan de Wittstraat")
    assert nz.street("Burg. de Raadtsingel") == nz.street("Burgemeester de Raadtsingel")
    assert nz.street(None) == ""


def test_never_raises_on_odd_input():
    odd = [None, pd.NA, pd.NaT, float("nan"), 0, -1, 3.5, "", "   ", "💥", "\x00", object(), b"bytes", ["x"]]
    for value in odd:
        nz.clean_text(value)
        nz.split_prefix(value, value)
        nz.surname_components(value)
        nz.initials(value)
        nz.postcode(value)
        nz.house(value, value, value)
        nz.birth_date(value)
        nz.phonetic(value)
        nz.bsn_valid(value)
        nz.phone(value)
        nz.email(value)
        nz.street(value)


@pytest.mark.parametrize(
    ("value", "year"),
    [
        ("1980", 1980), ("04-1980", 1980), ("1980-04", 1980), ("00-00-1980", 1980), ("19809518", 1980),
        ("95181980", 1980), ("31-12-1980", 1980), ("1879", None), ("12", None), ("abc", None), (None, None),
    ],
)  # fmt: skip
def test_birth_year_of_partial_and_invalid_dates(value, year):
    assert nz.birth_year(value) == year


def test_bsn_eleven_test_agrees_with_python_stdnum() -> None:
    """The 11-test against a maintained implementation (``stdnum.nl.bsn``) on 60,000 numbers of 8 and 9
    digits: random ones, 10,000 consecutive ones, 8-digit ones (a dropped leading zero) and separators.
    Shorter inputs differ on purpose: stdnum pads any length with zeros, ours repairs only one dropped zero."""
    import numpy as np
    from stdnum.nl import bsn as stdnum_bsn

    rng = np.random.default_rng(11)
    numbers = np.concatenate(
        [rng.integers(10**7, 10**9, 40_000), np.arange(123_450_000, 123_460_000), rng.integers(10**7, 10**8, 10_000)]
    )
    texts = [f"{n:09d}" if i % 3 else str(n) for i, n in enumerate(numbers)]  # some without the leading zeros
    want = np.array([stdnum_bsn.is_valid(t) for t in texts])
    assert 3_000 < want.sum() < 8_000  # about one in eleven passes: the sample has both kinds
    assert [nz.bsn_valid(t) for t in texts] == want.tolist()
    assert nz.bsn_numbers_valid(numbers.astype(np.int64)).tolist() == want.tolist()
    for text in ("1112 22 333", "111.222.333", "111-222-333", "11122233", "000000000"):
        assert nz.bsn_valid(text) == stdnum_bsn.is_valid(text), text
    assert stdnum_bsn.is_valid("117535") and not nz.bsn_valid("117535")  # six digits: no BSN for us
