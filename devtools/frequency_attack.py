"""Frequency attack on every stored pseudonym column (``make bench-linkage``).

Attacker: anyone with read access to the warehouse and public frequency lists, without the key. For one
stored column and one quasi-identifier (a *truth*: surname, initials, birth date, postcode + house
number, ...), the attacker ranks the distinct stored values by how often they occur and the clear values
by their public frequency, and takes the i-th most frequent stored value to be the i-th most common clear
value. A record is re-identified when that guess is its true value. Ties are broken by the value itself
(stored values: their text; clear values: alphabetically), so equal counts tell the attacker nothing.

As the best case for the attacker, the public list is the population's own distribution: the clear
values ranked by their exact counts in the population that was pseudonymised.

Population (``population``): ``n`` persons drawn with the lists the synthetic generator uses
(``synthetic_names``): surnames by a Zipf law over the surname list (rank r has weight 1/r), given names
likewise over each pool (the generator draws them uniformly; real given-name frequencies are heavy-tailed,
which favours the attacker) with the generator's one/two/three-name weights, birth dates uniform over
1940-2005 as the generator's, addresses from the generator's ``AddressBook`` (streets and postcodes per
municipality, municipalities by population weight, house letters and suffixes at its rates), BSN, phone
and e-mail by the generator's own draws. Each source kind's canonical columns of it go through the real
ingest function ``frames.pseudonymise_frame``; every output column that is not an attribute of
the schema or bookkeeping (``key_version``) is attacked with every truth, whatever its name (today
``record_key`` and the ``pk_*``/``bf_*`` columns). The score of a column is its best truth.

Coverage (``coverage_gaps``): the columns of the staging tables as the warehouse creates them (every
``sql/schema`` statement run on an in-memory DuckDB), less the schema's attribute columns and the
bookkeeping columns, must all be among the attacked columns of their kind.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from eviction_prevention.parse import layouts
from eviction_prevention.pseudonymise import normalize as nz

from devtools import synthetic_names as data

TARGET = 0.01  # at most this share of records re-identified from any stored column
KINDS: tuple[str, ...] = ("corporation", "social_team", "sdd")
# Columns a staging row carries besides the pseudonymised record: who sent it, where it came from, which
# key version made it, how many warnings it had.
BOOKKEEPING = frozenset({"partner", "file_id", "source_row", "key_version", "row_warnings"})
_FIRST_BIRTH, _LAST_BIRTH = date(1940, 1, 1), date(2005, 12, 31)
_NAME_COUNTS, _NAME_COUNT_WEIGHTS = (1, 2, 3), (35, 45, 20)


@dataclass(frozen=True)
class Attack:
    kind: str
    column: str
    truth: str
    share: float  # of all records

    @property
    def met(self) -> bool:
        return self.share <= TARGET


# ------------------------------------------------------------------------------------------------ the attack


def frequency_ranks(values: Iterable[object]) -> np.ndarray:
    """Per record, the rank of its value among the distinct values ordered by count (most frequent first),
    ties by the value's text; -1 where the value is missing (None, NaN or empty text)."""
    codes, uniques = pd.factorize(pd.Series(list(values), dtype=object), use_na_sentinel=True)
    text = np.array([str(u) for u in uniques], dtype=str)
    valid = codes >= 0
    valid[valid] = text[codes[valid]] != ""
    counts = np.bincount(codes[valid], minlength=len(text))  # an empty text counts 0: ranked after the rest
    rank = np.empty(len(text), dtype=np.int64)
    rank[np.lexsort((text, -counts))] = np.arange(len(text))  # by count descending, then text
    out = np.full(len(codes), -1, dtype=np.int64)
    out[valid] = rank[codes[valid]]
    return out


def _hits(stored_ranks: np.ndarray, truth_ranks: np.ndarray) -> float:
    """Share of records whose stored value's rank equals their clear value's rank (a right guess)."""
    if len(stored_ranks) != len(truth_ranks):
        raise ValueError("stored and truth differ in length")
    return float(np.count_nonzero((stored_ranks >= 0) & (stored_ranks == truth_ranks)) / max(len(stored_ranks), 1))


def reidentified_share(stored: Sequence[object], truth: Sequence[object]) -> float:
    """Share of records whose true value the attacker gets by aligning the stored values' ranks with the
    clear values' ranks (the i-th most frequent stored value is taken to be the i-th most common value)."""
    return _hits(frequency_ranks(stored), frequency_ranks(truth))


def best_attack(kind: str, column: str, stored: Sequence[object], truth_ranks: Mapping[str, np.ndarray]) -> Attack:
    """The truth (``truth_ranks``: name -> ``frequency_ranks`` of its clear values) that re-identifies the
    largest share of records from ``stored`` (the first one on a tie)."""
    stored_ranks = frequency_ranks(stored)
    best = Attack(kind, column, "-", 0.0)
    for name, ranks in truth_ranks.items():
        share = _hits(stored_ranks, ranks)
        if share > best.share:
            best = Attack(kind, column, name, share)
    return best


def attacked_columns(output: Iterable[str], kind: str) -> list[str]:
    """The stored columns of a pseudonymised ``kind`` frame that are neither attributes nor bookkeeping."""
    plain = set(layouts.attribute_columns(kind)) | BOOKKEEPING
    return [c for c in output if c not in plain]


def coverage_gaps(stored: Mapping[str, Iterable[str]], attacked: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Per kind, the stored columns (``stored``: kind -> staging table columns) that are neither an attribute
    of the schema, nor bookkeeping, nor attacked."""
    gaps = {}
    for kind, columns in stored.items():
        done = set(attacked.get(kind, ()))
        missing = [c for c in attacked_columns(columns, kind) if c not in done]
        if missing:
            gaps[kind] = missing
    return gaps


# ------------------------------------------------------------------------------------------------ population


def _zipf_weights(n: int) -> list[float]:
    return [1.0 / (rank + 1) for rank in range(n)]


def _given_names(rng: random.Random, female: bool) -> str:
    pool = list(data.FEMALE_GIVEN if female else data.MALE_GIVEN)
    weights = _zipf_weights(len(pool))
    names: list[str] = []
    for _ in range(rng.choices(_NAME_COUNTS, weights=_NAME_COUNT_WEIGHTS)[0]):
        i = rng.choices(range(len(pool)), weights=weights)[0]
        names.append(pool.pop(i))
        weights.pop(i)
    return " ".join(names)


def population(n: int, seed: int) -> pd.DataFrame:
    """``n`` persons with every canonical identifier column (see the module docstring), one per address."""
    from devtools import synthetic as gen

    rng = random.Random(seed)
    book = gen.AddressBook(rng)
    cities = sorted(data.MUNICIPALITY_WEIGHTS)
    city_weights = [data.MUNICIPALITY_WEIGHTS[c] for c in cities]
    surname_weights = _zipf_weights(len(data.SURNAMES))
    used_bsn: set[str] = set()
    days = (_LAST_BIRTH - _FIRST_BIRTH).days
    rows = []
    for i in range(n):
        address = book.new(rng.choices(cities, weights=city_weights)[0])
        given = _given_names(rng, rng.random() < 0.55)
        prefix, surname = rng.choices(data.SURNAMES, weights=surname_weights)[0]
        rows.append(
            {
                "tenancy_ref": f"H{i:07d}", "case_ref": f"C{i:07d}", "record_ref": f"S{i:07d}",
                "given_name": given, "initials": gen.initials_of(given), "prefix": prefix, "surname": surname,
                "birth_date": _FIRST_BIRTH + timedelta(days=rng.randint(0, days)),
                "street": address.street, "house_number": address.house_number, "house_letter": address.house_letter,
                "house_number_suffix": address.house_number_suffix, "postcode": address.postcode,
                "city": address.city, "bsn": gen._new_bsn(rng, used_bsn), "phone": gen._phone(rng, address.city),
                "email": gen._email(rng, given, prefix, surname),
            }
        )  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["birth_date"] = pd.to_datetime(frame["birth_date"])
    return frame


def kind_frame(people: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The canonical columns of ``kind`` that ``people`` has (what a parsed partner file would hold)."""
    return people[[c.name for c in layouts.columns(kind) if c.name in people.columns]]


# ------------------------------------------------------------------------------------------------ truths


def _column(people: pd.DataFrame, func: Callable[..., str | None], *names: str) -> list[str | None]:
    columns = [people[n].astype(object).tolist() for n in names]
    return [func(*values) or None for values in zip(*columns, strict=True)]


def _joined(*parts: Sequence[str | None]) -> list[str | None]:
    return [None if any(p is None for p in values) else "|".join(values) for values in zip(*parts, strict=True)]


def _swapped(iso: str | None) -> str | None:
    """The ISO date with day and month swapped, when that is another valid date."""
    if not iso or int(iso[8:]) > 12 or iso[5:7] == iso[8:]:
        return None
    return f"{iso[:4]}-{iso[8:]}-{iso[5:7]}"


def truths(people: pd.DataFrame) -> dict[str, list[str | None]]:
    """The quasi-identifiers an attacker may hold a public frequency list of, per person, in normalised
    form (two spellings of one value count as one). Besides the plain values, the forms the pipeline derives
    from them (the code is no secret: the attacker can rank those forms too): the first two surname
    components sorted, the surname's phonetic code, sorted initials, day and month swapped."""
    components = [nz.surname_components(s) for s in people["surname"].astype(object)]
    first_two = [sorted(c[:2]) for c in components]
    surname = [" ".join(c) or None for c in components]
    given = _column(people, lambda g: " ".join(g.lower().split()), "given_name")
    initials = _column(people, nz.initials, "initials")
    born = _column(people, lambda d: d.date().isoformat(), "birth_date")
    year = [b[:4] if b else None for b in born]
    month_day = [b[5:] if b else None for b in born]
    postcode = _column(people, nz.postcode, "postcode")
    street = _column(people, nz.street, "street")
    house = _column(people, nz.house, "house_number", "house_letter", "house_number_suffix")
    return {
        "surname": surname,
        "surname component 1 (sorted)": [c[0] if c else None for c in first_two],
        "surname component 2 (sorted)": [c[1] if len(c) > 1 else None for c in first_two],
        "surname phonetic": [nz.phonetic(c[0]) or None if c else None for c in components],
        "prefix": _column(people, lambda p, s: nz.split_prefix(p, s)[0], "prefix", "surname"),
        "given name": [g.split()[0] if g else None for g in given],
        "given names": given,
        "initials": initials,
        "initials sorted": ["".join(sorted(i)) if i else None for i in initials],
        "first initial": [i[:1] if i else None for i in initials],
        "birth date": born,
        "birth year": year,
        "month-day": month_day,
        "birth date dm-swapped": [_swapped(b) for b in born],
        "postcode": postcode,
        "street": street,
        "house number": house,
        "street+house": _joined(street, house),
        "postcode+house": _joined(postcode, house),
        "surname+initials": _joined(surname, initials),
        "surname+birth date": _joined(surname, born),
        "surname+postcode": _joined(surname, postcode),
        "surname+initials+birth date": _joined(surname, initials, born),
    }


# ------------------------------------------------------------------------------------------------ the run


@dataclass(frozen=True)
class AttackReport:
    records: int
    attacks: list[Attack]  # one per (kind, attacked column)
    attacked: dict[str, list[str]]  # kind -> columns attacked
    stored: dict[str, list[str]]  # kind -> staging table columns
    gaps: dict[str, list[str]]  # kind -> stored columns not attacked

    def worst_per_column(self) -> list[Attack]:
        """Per column (in first-seen order), the attack with the largest share over the kinds."""
        worst: dict[str, Attack] = {}
        for a in self.attacks:
            if a.column not in worst or a.share > worst[a.column].share:
                worst[a.column] = a
        return list(worst.values())


def staging_columns() -> dict[str, list[str]]:
    """Per kind, its staging table's columns as the warehouse creates them (sql/schema on in-memory DuckDB)."""
    from eviction_prevention import warehouse

    with warehouse.connect("duckdb:///:memory:") as conn:
        warehouse.ensure_schema(conn)
        return {kind: warehouse.table_columns(conn, layouts.STAGING_TABLE[kind]) for kind in KINDS}


def run(n: int = 20_000, seed: int = 7, key: bytes = b"frequency-attack-key-not-a-secret") -> AttackReport:
    """Pseudonymise a population per kind with the real ingest function and attack every stored column."""
    from eviction_prevention.pseudonymise.frames import pseudonymise_frame

    people = population(n, seed)
    clear = {name: frequency_ranks(values) for name, values in truths(people).items()}
    attacks, attacked = [], {}
    for kind in KINDS:
        out = pseudonymise_frame(kind_frame(people, kind), kind, key)
        attacked[kind] = attacked_columns(out.columns, kind)
        attacks += [best_attack(kind, c, out[c].tolist(), clear) for c in attacked[kind]]
    stored = staging_columns()
    return AttackReport(n, attacks, attacked, stored, coverage_gaps(stored, attacked))
