"""Normalisation of Dutch person and address fields, before pseudonymisation and linkage.

Every function here is pure, total (never raises on odd input: ``None``, ``NaN``, ``pd.NA``, ``NaT``,
numbers where text was expected, foreign values) and deterministic, so that two partners who write
the same person differently produce the same normalised value, and therefore the same keyed pseudonym.

Rules in short:

* text: casefolded, diacritics stripped (é->e, ë->e, ï->i, ç->c, ñ->n, ß->ss), every run of
  punctuation/whitespace collapsed to one space (``clean_text``);
* surname prefixes (voorvoegsels: van, de, van der, in 't, ter, ...) are split off the surname,
  wherever the partner put them (``split_prefix``); abbreviations ``v.``, ``v.d.``, ``vd``, ``v/d``
  are expanded (``van``, ``van der``);
* double surnames (``Jansen-de Vries``, partner names, ``e.v.``/``geb.`` forms) are split into their
  components without prefixes (``surname_components``);
* initials are the lowercase first letters (``initials``); postcodes uppercase alphanumerics
  (``postcode``); house numbers ``12A-BIS`` (``house``); birth dates ``datetime.date`` (``birth_date``);
  BSN checked with the 11-test (``bsn_valid``).
"""

from __future__ import annotations

import math
import operator
import re
import unicodedata
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "PREFIX_TOKENS",
    "as_text",
    "birth_date",
    "bsn",
    "bsn_valid",
    "clean_text",
    "email",
    "house",
    "house_number",
    "initials",
    "is_dutch_postcode",
    "is_missing",
    "phone",
    "phonetic",
    "postcode",
    "split_prefix",
    "street",
    "surname_components",
]

# Characters NFKD does not decompose into base letter + combining mark.
_TRANSLIT = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ĳ": "ij"}
)
_NON_WORD = re.compile(r"[\W_]+")

# Tokens (after clean_text) that make up Dutch (and common foreign) surname prefixes; a subset of the
# BRP voorvoegsel table. "t"/"s"/"d"/"l" are the remains of 't, 's, d' and l' once punctuation is gone.
PREFIX_TOKENS: frozenset[str] = frozenset(
    {
        "van", "de", "der", "den", "het", "t", "s", "te", "ter", "ten", "in", "op", "aan", "bij", "uit",
        "onder", "over", "voor", "tot", "la", "le", "les", "l", "du", "d", "des", "del", "della", "dela",
        "di", "da", "das", "dos", "do", "von", "vom", "zu", "zum", "zur", "am", "auf", "el", "al", "v",
        "vd", "vder", "vden", "vanden", "vander", "ver",
    }
)  # fmt: skip
# Rendering of a normalised prefix token (apostrophes are restored for readability; hashing does not care).
_PREFIX_RENDER = {"t": "'t", "s": "'s", "d": "d'", "l": "l'"}
# Markers that join two surnames: echtgenote van, geboren, weduwe van, ...
_PARTNER_MARKERS = re.compile(
    r"\b(?:e v|ev|echtg|echtgenote(?: van)?|echtgenoot(?: van)?|geb|geboren|gehuwd(?: met)?|wed|"
    r"weduwe(?: van)?|weduwnaar(?: van)?)\b"
)

_DUTCH_POSTCODE = re.compile(r"^[1-9][0-9]{3}[A-Z]{2}$")

_MONTHS = {
    "jan": 1, "januari": 1, "feb": 2, "februari": 2, "mrt": 3, "maa": 3, "maart": 3, "mar": 3,
    "apr": 4, "april": 4, "mei": 5, "may": 5, "jun": 6, "juni": 6, "jul": 7, "juli": 7, "aug": 8,
    "augustus": 8, "sep": 9, "sept": 9, "september": 9, "okt": 10, "oct": 10, "oktober": 10,
    "nov": 11, "november": 11, "dec": 12, "december": 12,
}  # fmt: skip


def is_missing(value: Any) -> bool:
    """True for None, NaN, pd.NA, NaT and blank strings."""
    if type(value) is str:  # the common case first: this runs for every distinct value of every column
        return not value.strip()
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(math.isnan(value))
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, np.datetime64):
        return bool(np.isnat(value))
    return False


def as_text(value: Any) -> str:
    """A value as text; whole floats (Excel turns 12 into 12.0) lose their ``.0``."""
    if type(value) is str:
        return value if value.strip() else ""
    if is_missing(value):
        return ""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _strip_accents(text: str) -> str:
    if text.isascii():  # nothing to decompose or transliterate
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_TRANSLIT)


def clean_text(value: Any) -> str:
    """Casefold, strip diacritics and collapse punctuation and whitespace to single spaces.

    ``"  Çelik-Özdemir "`` -> ``"celik ozdemir"``; ``"in 't Veld"`` -> ``"in t veld"``; missing -> ``""``.
    Letters of other scripts are kept (casefolded).
    """
    text = as_text(value)
    if not text:
        return ""
    text = _strip_accents(text.casefold())
    return _NON_WORD.sub(" ", text).strip()


def _expand_prefix_tokens(tokens: list[str]) -> list[str]:
    """Expand abbreviations: v -> van, vd/vder -> van der, vden/vanden -> van den, ``v d`` -> van der."""
    out: list[str] = []
    for tok in tokens:
        if tok in ("vd", "vder", "vander"):
            out += ["van", "der"]
        elif tok in ("vden", "vanden"):
            out += ["van", "den"]
        elif tok == "v":
            out.append("van")
        elif tok == "d" and out and out[-1] == "van":
            out.append("der")  # "v.d." / "v/d"
        else:
            out.append(tok)
    return out


def _render_prefix(tokens: list[str]) -> str:
    return " ".join(_PREFIX_RENDER.get(t, t) for t in tokens)


def _leading_prefix(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Split leading prefix tokens off, always leaving at least one surname token."""
    i = 0
    while i < len(tokens) - 1 and tokens[i] in PREFIX_TOKENS:
        i += 1
    return tokens[:i], tokens[i:]


def split_prefix(prefix: Any, surname: Any) -> tuple[str, str]:
    """Return ``(prefix, surname)`` normalised, with the voorvoegsel moved out of the surname field.

    * ``("", "van Dijk")`` -> ``("van", "dijk")``; ``("", "Dijk, van")`` -> ``("van", "dijk")``;
    * ``("v.d.", "Berg")`` and ``("vd", "Berg")`` -> ``("van der", "berg")``;
    * ``("", "in 't Veld")`` -> ``("in 't", "veld")``;
    * ``("van", "der Berg")`` -> ``("van der", "berg")`` (prefix split over both fields);
    * a surname that consists of prefix words only is kept as surname (``("", "De")`` -> ``("", "de")``).

    The surname is returned as ``clean_text`` (hyphens of double surnames become spaces; use
    ``surname_components`` on the raw value to split them).
    """
    given = _expand_prefix_tokens(clean_text(prefix).split())
    raw = as_text(surname)
    trailing: list[str] = []
    if "," in raw:  # "Dijk, van" / "Berg, v.d."
        head, _, tail = raw.partition(",")
        tail_tokens = _expand_prefix_tokens(clean_text(tail).split())
        if tail_tokens and all(t in PREFIX_TOKENS for t in tail_tokens) and clean_text(head):
            raw, trailing = head, tail_tokens
    tokens = _expand_prefix_tokens(clean_text(raw).split())
    leading, rest = _leading_prefix(tokens)
    found = leading or trailing
    # a prefix split over both fields ("van" + "der Berg") is joined; one written twice counts once
    split_over_both = bool(given and found and given[-len(found) :] != found)
    prefix_tokens = given + found if split_over_both else given or found
    return _render_prefix(prefix_tokens), " ".join(rest)


def surname_components(surname: Any) -> list[str]:
    """The components of a (double) surname, each without prefixes, in their written order.

    ``"Jansen-de Vries"``, ``"Jansen - de Vries"`` and ``"Jansen e.v. de Vries"`` -> ``["jansen", "vries"]``;
    ``"van den Berg"`` -> ``["berg"]``; ``"Dijk, van"`` -> ``["dijk"]``. Words are split on hyphens and
    spaces; prefix words are dropped (unless the name is nothing but prefix words); a one- or two-letter
    non-prefix word is glued to the next word (``"O'Brien"`` -> ``["obrien"]``, ``"Mc Donald"`` ->
    ``["mcdonald"]``). Missing -> ``[]``.
    """
    raw = as_text(surname)
    if "," in raw:
        head, _, tail = raw.partition(",")
        if all(t in PREFIX_TOKENS for t in _expand_prefix_tokens(clean_text(tail).split())):
            raw = head
    text = _PARTNER_MARKERS.sub(" ", clean_text(raw))
    tokens = _expand_prefix_tokens(text.split())
    words = [t for t in tokens if t not in PREFIX_TOKENS]
    if not words:
        return [tokens[-1]] if tokens else []
    out: list[str] = []
    carry = ""
    for word in words:
        if len(word) <= 2 and not carry:
            carry = word
            continue
        out.append(carry + word)
        carry = ""
    if carry:
        if out:
            out[-1] += carry
        else:
            out.append(carry)
    return out


_VOWEL_RUN = re.compile(r"[aeiou]+")
# (pattern, replacement, text every match contains): a rule is skipped when its text is absent (most are).
_PHONETIC_RULES: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(p), r, needs)
    for p, r, needs in (
        (r"sch$", "s", "sch"),  # Bosch -> bos
        (r"sch", "sg", "sch"),  # Schouten -> sgouten (then ch/g)
        (r"ch", "g", "ch"),  # ch and g sound alike in Dutch
        (r"gh", "g", "gh"),
        (r"ck", "k", "ck"),
        (r"ph", "f", "ph"),
        (r"th", "t", "th"),
        (r"qu", "kw", "qu"),
        (r"q", "k", "q"),
        (r"x", "ks", "x"),
        (r"c(?=[eiy])", "s", "c"),
        (r"c", "k", "c"),
        (r"ij", "ei", "ij"),  # ij, y and ei are one sound
        (r"y", "ei", "y"),
        (r"ey", "ei", "ey"),
        (r"z", "s", "z"),  # s/z
        (r"v", "f", "v"),  # v/f
        (r"dt$", "t", "dt"),  # final d, dt and t sound alike
        (r"d$", "t", "d"),
        (r"(?<=.)h", "", "h"),  # a non-initial h is (nearly) silent
    )
)


def phonetic(surname: Any) -> str:
    """A simple Dutch-aware phonetic key for a surname (or one surname component).

    On ``clean_text`` letters only (spaces and digits removed), in this order: final ``sch`` -> ``s``;
    ``sch`` -> ``sg``; ``ch``/``gh`` -> ``g``; ``ck`` -> ``k``; ``ph`` -> ``f``; ``th`` -> ``t``;
    ``qu`` -> ``kw``; ``q`` -> ``k``; ``x`` -> ``ks``; ``c`` before e/i/y -> ``s`` else ``k``;
    ``ij``, ``y``, ``ey`` -> ``ei``; ``z`` -> ``s``; ``v`` -> ``f``; final ``dt``/``d`` -> ``t``;
    a non-initial ``h`` is dropped; doubled letters are collapsed; every run of vowels becomes ``a``.
    So ``Dijk``, ``Dyk`` and ``Dijck`` -> ``dak``; ``Jansen`` and ``Janssen`` -> ``jansan``;
    ``Smit``/``Smidt``/``Smid`` -> ``smat``.
    """
    text = "".join(ch for ch in clean_text(surname) if ch.isalpha())
    for pattern, repl, needs in _PHONETIC_RULES:
        if needs in text:
            text = pattern.sub(repl, text)
    collapsed = []
    for ch in text:
        if not collapsed or collapsed[-1] != ch:
            collapsed.append(ch)
    return _VOWEL_RUN.sub("a", "".join(collapsed))


_INITIAL_TOKEN = re.compile(r"[^\W\d_]+\.?")


def initials(value: Any) -> str:
    """Lowercase initials from given names or written initials.

    ``"Johannes Pieter"``, ``"J.P."``, ``"j p"``, ``"JP"``, ``"jp"`` -> ``"jp"``; ``"Jan-Willem"`` ->
    ``"jw"``; ``"Th.J."`` -> ``"tj"`` (Dutch multi-letter initials count once); ``"Émile"`` -> ``"e"``.
    A word without a dot counts as a run of initials when it has no vowel (``"JP"``) or is a
    two-letter all-caps word (``"AJ"``); otherwise it is a name and gives its first letter.
    """
    text = _strip_accents(as_text(value))
    out: list[str] = []
    for tok in _INITIAL_TOKEN.findall(text):
        word = tok.rstrip(".")
        if tok.endswith(".") or len(word) == 1:
            out.append(word[0])
        elif not any(ch in "aeiouyAEIOUY" for ch in word) or (len(word) == 2 and word.isupper()):
            out.extend(word)
        else:
            out.append(word[0])
    return "".join(out).casefold()


def postcode(value: Any) -> str | None:
    """Uppercase alphanumerics: ``"1234 ab"`` -> ``"1234AB"``; ``"NL-3311 AB"`` -> ``"3311AB"``.

    Foreign or garbage values are kept as cleaned uppercase alphanumerics (``"SW1A 1AA"`` ->
    ``"SW1A1AA"``); missing -> ``None``. Never raises.
    """
    text = clean_text(value).replace(" ", "").upper()
    if text.startswith("NL") and _DUTCH_POSTCODE.match(text[2:]):
        text = text[2:]
    return text or None


def is_dutch_postcode(value: Any) -> bool:
    """True when the normalised postcode has the Dutch form ``1234AB``."""
    code = postcode(value)
    return bool(code and _DUTCH_POSTCODE.match(code))


_HOUSE_NUMBER = re.compile(r"^\D*?0*(\d+)(.*)$")


def _alnum_upper(value: Any) -> str:
    return clean_text(value).replace(" ", "").upper()


def house(number: Any, letter: Any = None, suffix: Any = None) -> str:
    """House number, letter and suffix as one string: ``("12", "a", "bis")`` -> ``"12A-BIS"``.

    Rules: leading zeros dropped; ``12.0`` -> ``"12"``; text after the digits in the number field is
    moved to the letter (a single letter) or the suffix (``"12a"`` -> ``"12A"``, ``"12-2"`` ->
    ``"12-2"``); a letter longer than one character is really a suffix; a single-letter suffix without a
    letter is really the letter (``("12", "", "a")`` -> ``"12A"``). No number -> ``""``.
    """
    m = _HOUSE_NUMBER.match(as_text(number).strip())
    if not m:
        return ""
    num, rest = m.group(1), clean_text(m.group(2)).upper().split()
    let, suf = _alnum_upper(letter), _alnum_upper(suffix)
    if rest:
        if not let and len(rest[0]) == 1 and rest[0].isalpha():
            let, rest = rest[0], rest[1:]
        if rest and not suf:
            suf = "".join(rest)
    if len(let) > 1:
        let, suf = "", let + suf
    if not let and len(suf) == 1 and suf.isalpha():
        let, suf = suf, ""
    return f"{num}{let}-{suf}" if suf else f"{num}{let}"


def house_number(number: Any) -> str:
    """The bare house number (digits only, no leading zeros), ``""`` when missing."""
    m = _HOUSE_NUMBER.match(as_text(number).strip())
    return m.group(1) if m else ""


_STREET_ABBREVIATIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"str\b", "straat"),
        (r"ln\b", "laan"),
        (r"wg\b", "weg"),
        (r"pln\b", "plein"),
        (r"sngl\b", "singel"),
        (r"\bburg\b", "burgemeester"),
        (r"\bmr\b", "meester"),
        (r"\bdr\b", "doctor"),
    )
)


def street(value: Any) -> str:
    """Street name key: ``clean_text``, abbreviations expanded (``Kerkstr.`` -> ``kerkstraat``,
    ``Burg.`` -> ``burgemeester``, ``v.d.`` -> ``van der``), spaces removed (``Johan de Witt straat`` ==
    ``Johan de Wittstraat``)."""
    text = " ".join(_expand_prefix_tokens(clean_text(value).split()))
    for pattern, repl in _STREET_ABBREVIATIONS:
        text = pattern.sub(repl, text)
    return text.replace(" ", "")


_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_DMY2 = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{2})$")
_DIGITS8 = re.compile(r"^\d{8}$")
_WORDY = re.compile(r"^(\d{1,2})[ \-.]+([a-z]+)\.?[ \-.]+(\d{4})$")


def _make_date(year: int, month: int, day: int) -> date | None:
    if not 1880 <= year <= 2100:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def birth_date(value: Any) -> date | None:
    """A birth date as ``datetime.date``, or ``None`` when missing or not a valid date.

    Accepts ``date``, ``datetime``, ``pd.Timestamp``, ``numpy.datetime64`` and the texts
    ``31-12-1980``, ``31/12/1980``, ``31.12.1980``, ``1980-12-31`` (with or without a time part),
    ``19801231``, ``31-12-80`` (two-digit years: 00 up to this year's two digits are 20xx, else 19xx) and
    ``31 dec 1980`` (Dutch or English month names). Years outside 1880-2100 are rejected. Never raises.
    """
    if is_missing(value):
        return None
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, datetime):  # includes pd.Timestamp
        return _make_date(value.year, value.month, value.day)
    if isinstance(value, date):
        return _make_date(value.year, value.month, value.day)
    text = as_text(value).strip().casefold()
    text = re.split(r"[t ](?=\d{1,2}:\d{2})", text, maxsplit=1)[0].strip()  # drop a time part
    if m := _ISO.match(text):
        return _make_date(int(m[1]), int(m[2]), int(m[3]))
    if m := _DMY.match(text):
        return _make_date(int(m[3]), int(m[2]), int(m[1]))
    if m := _DMY2.match(text):
        yy = int(m[3])
        century = 2000 if yy <= date.today().year % 100 else 1900
        return _make_date(century + yy, int(m[2]), int(m[1]))
    if _DIGITS8.match(text):
        if text[:2] in ("18", "19", "20"):
            parsed = _make_date(int(text[:4]), int(text[4:6]), int(text[6:]))
            if parsed:
                return parsed
        return _make_date(int(text[4:]), int(text[2:4]), int(text[:2]))
    if (m := _WORDY.match(_strip_accents(text))) and m[2] in _MONTHS:
        return _make_date(int(m[3]), _MONTHS[m[2]], int(m[1]))
    return None


def _year_first(digits: str) -> str:
    """Eight date digits in year-month-day order: as given when they start with a century (18, 19, 20), else
    read as day-month-year."""
    return digits if digits[:2] in ("18", "19", "20") else digits[4:] + digits[2:4] + digits[:2]


def birth_digits(value: Any) -> str:
    """A birth date as its eight digits year-month-day, also when they make no valid date (a typo such as
    ``19729518`` still shares seven of eight digits with ``19720518``); ``""`` when not eight digits."""
    d = birth_date(value)
    if d is not None:
        return f"{d.year:04d}{d.month:02d}{d.day:02d}"
    digits = "".join(ch for ch in as_text(value) if ch.isdigit())
    return _year_first(digits) if len(digits) == 8 else ""


_DATE_PARTS = re.compile(r"^[0-9]+(?:[-/. ][0-9]+){0,2}$")


def birth_year(value: Any) -> int | None:
    """The birth year, also of a partial or invalid date: ``1980``, ``04-1980``, ``1980-04``, ``00-00-1980``,
    ``19809518`` (a typo in the month) -> 1980; ``None`` when no year in 1880-2100 can be read."""
    if (d := birth_date(value)) is not None:
        return d.year
    text = as_text(value).strip()
    if not _DATE_PARTS.match(text):
        return None
    parts = re.split(r"[-/. ]", text)
    if len(parts) == 1 and len(text) == 8:
        parts = [_year_first(text)[:4]]
    years = [int(p) for p in parts if len(p) == 4 and 1880 <= int(p) <= 2100]
    return years[0] if len(years) == 1 else None


_NON_DIGIT = re.compile(r"\D")
BSN_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)  # d1..d8, and d9 counted negatively
_BSN_ASCII_OFFSET = ord("0") * sum(BSN_WEIGHTS)


def _bsn_digits(value: Any) -> str | None:
    digits = _NON_DIGIT.sub("", as_text(value))
    if len(digits) == 8:
        digits = "0" + digits
    return digits if len(digits) == 9 else None


def _passes_eleven_test(digits: str | None) -> bool:
    if digits is None or digits == "000000000":
        return False
    if digits.isascii():  # the common case: digit values are the bytes minus ord("0"), without int() per digit
        total = sum(map(operator.mul, digits.encode(), BSN_WEIGHTS)) - _BSN_ASCII_OFFSET
    else:
        total = sum(map(operator.mul, map(int, digits), BSN_WEIGHTS))
    return total % 11 == 0


def bsn_numbers_valid(numbers: np.ndarray) -> np.ndarray:
    """``bsn_valid`` on an int64 array of BSNs read as numbers (an 8-digit BSN is the same number as its
    9 digits with the leading zero), for whole columns at once."""
    total = np.zeros_like(numbers)
    rest = numbers
    for weight in reversed(BSN_WEIGHTS):  # d9 first: the last digit of the number
        rest, digit = np.divmod(rest, 10)
        total += weight * digit
    return (numbers != 0) & (total % 11 == 0)


def bsn_valid(value: Any) -> bool:
    """The BSN 11-test on the digits of ``value`` (spaces, dots and dashes ignored).

    With digits d1..d9: ``9*d1 + 8*d2 + ... + 2*d8 - d9`` must be divisible by 11. An 8-digit input gets
    a leading zero (spreadsheets drop it). ``000000000`` is rejected.
    ``111222333`` is valid (9+8+7+12+10+8+9+6-3 = 66 = 6*11); ``123456789`` is not (156-9 = 147).
    """
    return _passes_eleven_test(_bsn_digits(value))


def bsn(value: Any) -> str | None:
    """The 9-digit BSN when it passes the 11-test, else ``None``."""
    digits = _bsn_digits(value)
    return digits if _passes_eleven_test(digits) else None


def phone(value: Any) -> str | None:
    """Digits of a phone number in Dutch national form: ``+31 (0)6-1234 5678``, ``0031612345678`` and
    ``06 12345678`` -> ``"0612345678"``; other international numbers keep ``+`` and country code.
    Fewer than 6 digits -> ``None``."""
    text = as_text(value).replace("(0)", "")
    plus = text.strip().startswith("+")
    digits = _NON_DIGIT.sub("", text)
    if digits.startswith("0031"):
        digits = "0" + digits[4:]
    elif plus and digits.startswith("31"):
        digits = "0" + digits[2:]
    elif digits.startswith("00"):
        digits = "+" + digits[2:]
    elif plus:
        digits = "+" + digits
    return digits if len(digits.lstrip("+")) >= 6 else None


def email(value: Any) -> str | None:
    """Trimmed, casefolded e-mail address; ``None`` when there is no ``@`` with text on both sides."""
    text = as_text(value).strip().casefold()
    local, at, domain = text.rpartition("@")
    return text if at and local and domain else None
