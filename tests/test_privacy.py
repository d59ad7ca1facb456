"""Privacy properties of the stored encodings: key dependence and resistance to a frequency attack.

(No raw identifier in the warehouse, logs or XComs is checked end to end in test_end_to_end.py; no pseudonym
in the warehouse, whose staging rows store them sealed, in test_sealed_warehouse.py.)
"""

from __future__ import annotations

import pandas as pd
from eviction_prevention.pseudonymise.person_tokens import person_pseudonyms
from eviction_prevention.pseudonymise.pseudonymiser import ENCODED_BITS, PERSON_PSEUDONYMS

from devtools import frequency_attack as fa

KEY = b"privacy-test-key-one"
OTHER_KEY = b"privacy-test-key-two"


def test_every_pseudonym_changes_with_the_key():
    row = pd.DataFrame(
        [
            {
                "initials": "J.P.", "given_name": "Jan Pieter", "city": "Dordrecht", "prefix": "van",
                     "surname": "Dijk-de Vries", "birth_date": "1980-04-07",
                "street": "Kerkstraat", "house_number": "12", "postcode": "3311 AB", "bsn": "111222333",
                "phone": "06-12345678", "email": "j@example.com",
            }
        ]
    )  # fmt: skip
    one, two = person_pseudonyms(row, KEY), person_pseudonyms(row, OTHER_KEY)
    for column in PERSON_PSEUDONYMS:
        assert one.loc[0, column] is not None, column
        assert one.loc[0, column] != two.loc[0, column], column


def test_frequency_attack_helper():
    # two stored values of "a" and one of "b": aligned by count with the clear values, all three are right
    assert fa.reidentified_share(["x", "x", "y"], ["a", "a", "b"]) == 1.0
    # three distinct stored values, one clear value: only the first stored value by text gets a guess
    assert fa.reidentified_share(["x", "y", "z"], ["a", "a", "a"]) == 1 / 3
    assert fa.reidentified_share([None, None], ["a", "b"]) == 0.0


def test_frequency_attack_finds_nothing_in_the_stored_columns():
    report = fa.run(n=3000, seed=3)
    shares = {a.column: a.share for a in report.worst_per_column()}
    assert set(shares) == {"record_key", "person_seal"}  # the per-field pseudonyms are sealed, not stored
    assert max(shares.values()) <= 0.01
    # in memory (inside the linkage step) a deterministic surname HMAC keeps its frequency: that is why it is sealed
    people = fa.population(3000, seed=3)
    truth = fa.truths(people)["surname"]
    assert fa.reidentified_share(list(person_pseudonyms(people, KEY)["pk_surname"]), truth) > 0.5
    people = fa.population(3000, seed=3)
    filters = [f for f in person_pseudonyms(people, KEY)["bf_surname"] if f]
    assert sum(int(f, 16).bit_count() for f in filters) == len(filters) * ENCODED_BITS // 2  # balanced: 50 %
