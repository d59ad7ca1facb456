"""The linkage model's parts: the compared fields and their levels, the blocking and training rules, the
code groups, the priors and the distance bands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from eviction_prevention.pseudonymise.pseudonymiser import BLOOM_HASHES, ENCODING_BITS, POSITION_HASHES

ArrayLike = Any  # a numpy array, pandas Series or extension array
Codes = dict[str, np.ndarray]  # pseudonym column -> integer codes

OUTPUT_COLUMNS = ["left_id", "right_id", "match_probability"]

# Columns compared with each other share one code space.
CODE_GROUPS: dict[str, tuple[str, ...]] = {
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

U_PRIOR_WEIGHT = 50.0  # pseudo-pairs behind the u prior (matters only for tiny inputs)
M_PRIOR_WEIGHT = 5.0  # pseudo-matches behind the m prior
RANDOM_PAIRS = 200_000
U_CORRECTIONS = 3  # passes of the u correction for the matches among random pairs (correct_u)
TRAINING_PAIRS = 200_000  # per EM training session (sampled beyond that)
U_FLOOR = 1.0 / (4 * RANDOM_PAIRS)  # u of a level after correction: never below a quarter of one sample pair
ENCODINGS = tuple(ENCODING_BITS)  # the Bloom encoding columns (bf_*)
# Hamming distance bands of the hardened surname encodings: a one-letter typo changes about four bigrams
# (8 * BLOOM_HASHES encoded bits, fewer with collisions), the keyed bit flips add up to 4 * BLOOM_FLIPS.
BLOOM_CLOSE = 10 * BLOOM_HASHES
BLOOM_NEAR = 16 * BLOOM_HASHES
# Bigram sets (street, city): similar when their Dice coefficient is at least this.
SET_DICE_CLOSE = 0.75
# Characters by position (postcode, birth date): one or two characters typed over or swapped.
POSITION_ONE = 2 * POSITION_HASHES
POSITION_TWO = 4 * POSITION_HASHES
