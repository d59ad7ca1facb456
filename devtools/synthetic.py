"""Synthetic Drechtsteden world: partner files in each partner's own layout, plus ground truth.

``generate(out_dir, scale, seed, noise)`` writes

* ``partners/<code>/<file>``: six monthly arrears snapshots per corporation, one social-team export and
  one SDD export, each rendered through the partner's ``Layout`` from ``config/partners.yaml``;
* ``ground_truth/persons.csv``, ``cases.csv`` and ``compliance_monthly.csv`` (UTF-8, ISO dates) that say
  who is who and what the pipeline's referral and compliance marts must contain.

Everything is driven by one ``random.Random(seed)``; there is no wall clock, so the same arguments give
byte-identical files. All people are invented: names are random combinations from ``synthetic_names``.
"""

from __future__ import annotations

import csv
import io
import random
import unicodedata
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from eviction_prevention import settings
from eviction_prevention.parse import layouts
from eviction_prevention.partners import Layout, Partner, load_partners
from eviction_prevention.pseudonymise.normalize import bsn_valid
from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

from devtools import synthetic_names as data

SNAPSHOT_DATES: tuple[date, ...] = (
    date(2026, 5, 31),
    date(2026, 6, 30),
    date(2026, 7, 31),
    date(2026, 8, 31),
    date(2026, 9, 30),
    date(2026, 10, 31),
)
REFERENCE_DATE: date = SNAPSHOT_DATES[-1]
EXPORT_DATE: date = REFERENCE_DATE
REPORT_DAYS = 42
ANALYSIS_DAYS = 14
XLSX_TIMESTAMP = datetime(2026, 1, 1)

PERSONS_PER_SCALE = 6000
EPISODES_PER_SCALE = 1250
SDD_OTHER_PER_SCALE = 1800
TENANT_SHARE = 0.7
COUPLE_SHARE = 0.4

NOISE_FACTORS: dict[str, float] = {"low": 0.5, "default": 1.0, "high": 2.0}
MAX_ERRORS: dict[str, int] = {"low": 2, "default": 2, "high": 3}
NOISE_PROBABILITIES: dict[str, float] = {
    "surname_typo": 0.08,
    "initials": 0.05,
    "partner_surname": 0.04,
    "missing_birth_date": 0.05,
    "moved": 0.06,
    "prefix": 0.04,
    "diacritics": 0.10,
    "day_month_swap": 0.02,
}
CORPORATION_MISSING_BIRTH_DATE = 0.03

TENANCY_REF_FORMATS: dict[str, Callable[[random.Random, int], str]] = {
    "trivire": lambda rng, n: f"TRV-{n:07d}",
    "woonbron": lambda rng, n: f"WB{rng.randint(1995, 2025)}{n:06d}",
    "tablis": lambda rng, n: f"TW/{n:05d}",
}

PREFIX_VARIANTS: dict[str, tuple[str, ...]] = {
    "van der": ("vd", "v.d.", "van", ""),
    "van den": ("vd", "v.d.", "van", ""),
    "van de": ("vd", "v.d.", ""),
    "van": ("v.", ""),
    "de": ("",),
    "den": ("",),
    "el": ("",),
    "in 't": ("int", "in t", ""),
    "ter": ("",),
}

SDD_SERVICE_WEIGHTS: tuple[float, ...] = (0.45, 0.30, 0.15, 0.10)  # order of layouts.SDD_SERVICES


# --------------------------------------------------------------------------------------------- world


@dataclass
class Address:
    street: str
    house_number: int
    house_letter: str
    house_number_suffix: str
    postcode: str
    city: str


@dataclass
class Person:
    person_id: str
    given_names: str
    initials: str
    prefix: str
    surname: str
    birth_date: date | None
    bsn: str
    phone: str
    email: str
    household: Household
    partner: Person | None = None


@dataclass
class Household:
    hid: int
    address: Address
    children: bool
    members: list[Person] = field(default_factory=list)
    corporation: str | None = None
    tenancy_ref: str | None = None
    monthly_rent: float = 0.0

    @property
    def municipality(self) -> str:
        return self.address.city

    @property
    def tenant(self) -> Person:
        return self.members[0]


@dataclass
class Episode:
    """One arrears episode of a tenancy (a case once ``t0`` is reached)."""

    household: Household
    start: date
    base_fraction: float
    growth: float = 0.8
    t0: date | None = None
    end: date | None = None  # first date on which the tenancy is no longer listed
    contact: date | None = None
    reminder: date | None = None
    reported: date | None = None
    objection: bool = False
    judgment: date | None = None
    eviction: date | None = None
    st_case: SocialTeamCase | None = None

    @property
    def corporation(self) -> str:
        assert self.household.corporation is not None
        return self.household.corporation

    def listed(self, snapshot: date) -> bool:
        return self.start <= snapshot and (self.end is None or snapshot < self.end)

    def listed_snapshots(self) -> list[date]:
        return [s for s in SNAPSHOT_DATES if self.listed(s)]

    def amount_at(self, day: date) -> float:
        rent = self.household.monthly_rent
        if self.t0 is None or day < self.t0:
            horizon = max(1, ((self.t0 or self.start + timedelta(days=45)) - self.start).days)
            progress = min(1.0, (day - self.start).days / horizon)
            fraction = min(0.97, self.base_fraction + (0.97 - self.base_fraction) * progress)
            return round(rent * fraction, 2)
        months = (day - self.t0).days / 30.44
        return round(rent * (1.0 + self.growth * months), 2)


@dataclass
class SocialTeamCase:
    person: Person
    team: str
    reporter: str
    received: date
    analysis: date | None = None
    first_contact: date | None = None
    trajectory: bool | None = None
    trajectory_start: date | None = None
    current_rent_paid: bool | None = None
    referral_sdd: bool | None = None
    referral_veilig_thuis: bool | None = None
    closed: date | None = None
    outcome: str | None = None
    has_bsn: bool = True
    case_ref: str = ""


@dataclass
class SddRecord:
    person: Person
    service: str
    start: date
    end: date | None
    status: str
    record_ref: str = ""


@dataclass
class World:
    persons: list[Person]
    households: list[Household]
    episodes: list[Episode]
    st_cases: list[SocialTeamCase]
    sdd_records: list[SddRecord]
    addresses: AddressBook


# --------------------------------------------------------------------------------------------- helpers


def _days(n: int) -> timedelta:
    return timedelta(days=n)


def _random_date(rng: random.Random, first: date, last: date) -> date:
    return first + _days(rng.randint(0, (last - first).days))


def _strip_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def initials_of(given_names: str) -> str:
    """``"Johannes Pieter"`` -> ``"J.P."``."""
    return "".join(f"{name[0].upper()}." for name in given_names.split())


def bsn_is_valid(bsn: str) -> bool:
    """The BSN 11-test on exactly nine digits (the rule itself lives in normalize.bsn_valid)."""
    return len(bsn) == 9 and bsn.isdigit() and bsn_valid(bsn)


def _new_bsn(rng: random.Random, used: set[str]) -> str:
    while True:
        digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(7)]
        check = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if check == 10:
            continue
        bsn = "".join(map(str, digits)) + str(check)
        if bsn not in used:
            used.add(bsn)
            return bsn


def _policy(municipality: str) -> dict:
    entry = settings.municipalities().get(municipality) or {}
    return entry.get("policy") or {}


def _team(municipality: str) -> str:
    return settings.social_team_for(municipality) or f"Sociaal Team {municipality}"


# --------------------------------------------------------------------------------------------- population


class AddressBook:
    """Hands out unique addresses per municipality."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[tuple] = set()
        self.streets: dict[str, list[tuple[str, str]]] = {}
        for city, (low, high) in sorted(data.POSTCODE_RANGES.items()):
            names = rng.sample(data.STREET_BASES, 24)
            self.streets[city] = [(name, self._postcode(low, high)) for name in names]

    def fork(self, rng: random.Random) -> AddressBook:
        """Same streets and occupied addresses, own random stream (for 'moved' noise)."""
        other = AddressBook.__new__(AddressBook)
        other.rng, other.used, other.streets = rng, self.used, self.streets
        return other

    def _postcode(self, low: int, high: int) -> str:
        letters = "".join(self.rng.choice(data.POSTCODE_LETTERS) for _ in range(2))
        return f"{self.rng.randint(low, high)} {letters}"

    def new(self, city: str) -> Address:
        rng = self.rng
        while True:
            street, postcode = rng.choice(self.streets[city])
            number = rng.randint(1, 250)
            letter = rng.choice(data.HOUSE_LETTERS) if rng.random() < 0.10 else ""
            suffix = rng.choice(data.HOUSE_NUMBER_SUFFIXES) if rng.random() < 0.08 else ""
            key = (postcode, number, letter, suffix)
            if key not in self.used:
                self.used.add(key)
                return Address(street, number, letter, suffix, postcode, city)


def _phone(rng: random.Random, city: str) -> str:
    roll = rng.random()
    if roll < 0.75:
        return f"06-{rng.randint(10_000_000, 99_999_999)}"
    if roll < 0.90:
        area = data.AREA_CODES.get(city, "078")
        width = 10 - len(area)
        return f"{area}-{rng.randint(10 ** (width - 1) * 2, 10**width - 1)}"
    return ""


def _email(rng: random.Random, given: str, prefix: str, surname: str) -> str:
    if rng.random() >= 0.6:
        return ""
    first = _strip_diacritics(given.split()[0]).lower()
    last = _strip_diacritics(f"{prefix}{surname}").lower().replace(" ", "").replace("'", "")
    style = rng.randint(0, 2)
    local = (f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(1, 99)}")[style]
    return f"{local}@{rng.choice(data.EMAIL_DOMAINS)}"


def _new_person(
    rng: random.Random,
    pid: int,
    household: Household,
    used_bsn: set[str],
    female: bool,
    around: date | None = None,
) -> Person:
    pool = data.FEMALE_GIVEN if female else data.MALE_GIVEN
    count = rng.choices((1, 2, 3), weights=(35, 45, 20))[0]
    given = " ".join(rng.sample(pool, count))
    prefix, surname = rng.choice(data.SURNAMES)
    if around is None:
        birth = _random_date(rng, date(1940, 1, 1), date(2005, 12, 31))
    else:
        birth = around + _days(rng.randint(-8 * 365, 8 * 365))
        birth = min(max(birth, date(1940, 1, 1)), date(2005, 12, 31))
    return Person(
        person_id=f"P{pid:06d}",
        given_names=given,
        initials=initials_of(given),
        prefix=prefix,
        surname=surname,
        birth_date=birth,
        bsn=_new_bsn(rng, used_bsn),
        phone=_phone(rng, household.address.city),
        email=_email(rng, given, prefix, surname),
        household=household,
    )


def build_population(rng: random.Random, n_persons: int, book: AddressBook) -> tuple[list[Household], list[Person]]:
    cities = sorted(data.MUNICIPALITY_WEIGHTS)
    weights = [data.MUNICIPALITY_WEIGHTS[c] for c in cities]
    used_bsn: set[str] = set()
    households: list[Household] = []
    persons: list[Person] = []
    while len(persons) < n_persons:
        city = rng.choices(cities, weights=weights)[0]
        hh = Household(hid=len(households) + 1, address=book.new(city), children=rng.random() < 0.30)
        female = rng.random() < 0.55
        first = _new_person(rng, len(persons) + 1, hh, used_bsn, female)
        hh.members.append(first)
        persons.append(first)
        if rng.random() < COUPLE_SHARE and len(persons) < n_persons:
            other = _new_person(rng, len(persons) + 1, hh, used_bsn, not female, first.birth_date)
            first.partner, other.partner = other, first
            hh.members.append(other)
            persons.append(other)
        households.append(hh)
    return households, persons


def assign_tenancies(rng: random.Random, households: list[Household], corporations: list[Partner]) -> None:
    counters: Counter[str] = Counter()
    for hh in households:
        serving = [p.code for p in corporations if hh.municipality in p.municipalities]
        if not serving or rng.random() >= TENANT_SHARE:
            continue
        code = rng.choice(serving)
        counters[code] += 1
        number = rng.randint(1, 9) * 10_000 + counters[code] * 7 + rng.randint(0, 6)
        fmt = TENANCY_REF_FORMATS.get(code, lambda r, n, c=code: f"{c[:3].upper()}-{n:07d}")
        hh.corporation = code
        hh.tenancy_ref = fmt(rng, number)
        hh.monthly_rent = round(rng.uniform(450, 950), 2)


# --------------------------------------------------------------------------------------------- episodes


def _first_snapshot_on_or_after(day: date) -> date | None:
    return next((s for s in SNAPSHOT_DATES if s >= day), None)


def _report_date(rng: random.Random, t0: date) -> tuple[date | None, bool]:
    roll = rng.random()
    if roll < 0.60:
        return t0 + _days(REPORT_DAYS if rng.random() < 0.08 else rng.randint(1, REPORT_DAYS - 1)), False
    if roll < 0.80:
        return t0 + _days(rng.randint(REPORT_DAYS + 1, 90)), False
    return None, rng.random() < 0.3


def _escalate(rng: random.Random, ep: Episode) -> None:
    assert ep.t0 is not None
    late = ep.reported is None or (ep.reported - ep.t0).days > REPORT_DAYS
    if ep.end is not None or not (late or rng.random() < 0.1) or rng.random() >= 0.35:
        return
    ep.judgment = ep.t0 + _days(rng.randint(60, 120))
    protected = _policy(ep.household.municipality).get("no_eviction_families_with_children")
    if (protected and ep.household.children) or rng.random() >= 0.6:
        return
    ep.eviction = ep.judgment + _days(rng.randint(21, 60))
    executed_in = _first_snapshot_on_or_after(ep.eviction)
    if executed_in is not None:  # listed once more with the eviction date, then gone
        ep.end = executed_in + _days(1)


def make_episode(rng: random.Random, hh: Household, start: date) -> Episode:
    ep = Episode(household=hh, start=start, base_fraction=rng.uniform(0.15, 0.8))
    if rng.random() < 0.12:  # cleared before a full month of arrears built up
        ep.end = start + _days(rng.randint(10, 45))
        return ep
    t0 = start + _days(rng.randint(20, 50))
    ep.t0 = t0
    ep.contact = t0 + _days(rng.randint(1, 20)) if rng.random() < 0.85 else None
    ep.reminder = t0 + _days(rng.randint(3, 25)) if rng.random() < 0.9 else None
    ep.reported, ep.objection = _report_date(rng, t0)
    roll = rng.random()
    if roll < 0.12:
        ep.end = t0 + _days(rng.randint(5, 40))
    elif roll < 0.55:
        ep.end = t0 + _days(rng.randint(41, 200))
    if ep.reported is not None and ep.end is not None and ep.end <= ep.reported:
        ep.reported = None  # resolved before it was reported
    ep.growth = rng.uniform(0.5, 1.0)
    _escalate(rng, ep)
    if ep.reported is not None and not any(s >= ep.reported for s in ep.listed_snapshots()):
        ep.reported = None  # never delivered in a snapshot: as if not (yet) reported
    return ep


def build_episodes(rng: random.Random, households: list[Household], n_episodes: int) -> list[Episode]:
    tenants = [hh for hh in households if hh.tenancy_ref]
    chosen = rng.sample(tenants, min(n_episodes, len(tenants)))
    episodes: list[Episode] = []
    for hh in chosen:
        ep = make_episode(rng, hh, _random_date(rng, date(2026, 1, 10), date(2026, 10, 25)))
        episodes.append(ep)
        again = ep.end is not None and ep.eviction is None and ep.end < date(2026, 9, 15)
        if again and rng.random() < 0.15:
            start = ep.end + _days(rng.randint(15, 60))
            closing = _first_snapshot_on_or_after(ep.end)  # the snapshot that shows the tenancy gone
            if closing is not None and start <= closing:  # otherwise no delivered snapshot shows the gap
                start = closing + _days(1)
            episodes.append(make_episode(rng, hh, start))
    return episodes


# --------------------------------------------------------------------------------------------- social team


def _fill_analysis(rng: random.Random, case: SocialTeamCase) -> None:
    roll = rng.random()
    if roll < 0.70:
        offset = ANALYSIS_DAYS if rng.random() < 0.08 else rng.randint(0, ANALYSIS_DAYS - 1)
    elif roll < 0.88:
        offset = rng.randint(ANALYSIS_DAYS + 1, 40)
    else:
        return
    analysis = case.received + _days(offset)
    if analysis > EXPORT_DATE:
        return
    case.analysis = analysis
    case.trajectory = rng.random() < 0.45
    case.referral_sdd = rng.random() < (0.4 if case.trajectory else 0.1)
    case.referral_veilig_thuis = rng.random() < 0.05
    if case.trajectory:
        start = analysis + _days(rng.randint(0, 21))
        case.trajectory_start = start if start <= EXPORT_DATE else None
        case.current_rent_paid = rng.random() < 0.75


def _close(case: SocialTeamCase, closed: date, outcome: str) -> None:
    if closed <= EXPORT_DATE:
        case.closed, case.outcome = closed, outcome


def _fill_closure(rng: random.Random, case: SocialTeamCase, ep: Episode | None) -> None:
    if ep is not None and ep.eviction is not None and ep.eviction <= EXPORT_DATE:
        _close(case, ep.eviction + _days(rng.randint(0, 10)), "evicted")
    elif ep is not None and ep.end is not None and ep.end <= EXPORT_DATE:
        outcome = rng.choices(layouts.OUTCOMES[:4], weights=(40, 30, 20, 10))[0]
        _close(case, max(ep.end, case.received) + _days(rng.randint(0, 30)), outcome)
    elif ep is not None and ep.judgment is not None:
        return
    elif case.analysis is not None and not case.trajectory and rng.random() < 0.5:
        outcome = rng.choice(("declined", "unreachable", "other_help", "resolved"))
        _close(case, case.analysis + _days(rng.randint(7, 40)), outcome)
    elif ep is None and case.analysis is not None and rng.random() < 0.4:
        outcome = rng.choices(layouts.OUTCOMES[:8], weights=(25, 20, 20, 15, 8, 6, 4, 2))[0]
        _close(case, case.analysis + _days(rng.randint(20, 200)), outcome)


def _fill_first_contact(rng: random.Random, case: SocialTeamCase) -> None:
    """The social team offers a first conversation: usually within 4 weeks, sometimes later or not yet."""
    if rng.random() < 0.1:
        return
    offered = case.received + _days(rng.choice([rng.randint(0, 28)] * 4 + [rng.randint(29, 50)]))
    case.first_contact = offered if offered <= EXPORT_DATE else None


def _new_case(rng: random.Random, person: Person, reporter: str, received: date) -> SocialTeamCase:
    team = _team(person.household.municipality)
    case = SocialTeamCase(person, team, reporter, received, has_bsn=rng.random() < 0.70)
    _fill_analysis(rng, case)
    _fill_first_contact(rng, case)
    return case


def build_social_team_cases(rng: random.Random, persons: list[Person], episodes: list[Episode]) -> list[SocialTeamCase]:
    cases: list[SocialTeamCase] = []
    for ep in episodes:
        if ep.reported is None or ep.reported > EXPORT_DATE:
            continue
        case = _new_case(rng, ep.household.tenant, ep.corporation, ep.reported)
        _fill_closure(rng, case, ep)
        ep.st_case = case
        cases.append(case)
    tenants = {id(ep.household.tenant) for ep in episodes}
    others = [p for p in persons if id(p) not in tenants]
    in_arrears = [ep.household.tenant for ep in episodes]
    for _ in range(len(cases)):
        if rng.random() < 0.1 and in_arrears:  # earlier, unrelated contact of someone now in arrears
            person = rng.choice(in_arrears)
            received = _random_date(rng, date(2025, 1, 1), date(2025, 11, 30))
        else:
            person = rng.choice(others)
            received = _random_date(rng, date(2025, 6, 1), EXPORT_DATE)
        case = _new_case(rng, person, rng.choice(data.OTHER_REPORTERS), received)
        _fill_closure(rng, case, None)
        cases.append(case)
    cases.sort(key=lambda c: (c.received, c.team, c.person.person_id))
    per_year: Counter[int] = Counter()
    for case in cases:
        per_year[case.received.year] += 1
        case.case_ref = f"ST{case.received.year}-{per_year[case.received.year]:05d}"
    return cases


# --------------------------------------------------------------------------------------------- SDD


def _new_sdd(rng: random.Random, person: Person, start: date) -> SddRecord:
    service = rng.choices(layouts.SDD_SERVICES, weights=SDD_SERVICE_WEIGHTS)[0]
    end: date | None = None
    if (EXPORT_DATE - start).days > 90 and rng.random() < 0.4:
        end = min(start + _days(rng.randint(60, 700)), EXPORT_DATE)
    return SddRecord(person, service, start, end, "ended" if end else "active")


def build_sdd_records(
    rng: random.Random, persons: list[Person], episodes: list[Episode], n_other: int
) -> list[SddRecord]:
    records: list[SddRecord] = []
    seen: set[str] = set()
    for ep in episodes:
        tenant = ep.household.tenant
        if tenant.person_id in seen or rng.random() >= 0.30:
            continue
        seen.add(tenant.person_id)
        anchor = ep.t0 or ep.start
        for _ in range(2 if rng.random() < 0.2 else 1):
            start = min(anchor + _days(rng.randint(-700, 120)), EXPORT_DATE - _days(rng.randint(0, 30)))
            records.append(_new_sdd(rng, tenant, start))
    tenants = {ep.household.tenant.person_id for ep in episodes}
    others = [p for p in persons if p.person_id not in tenants]
    for _ in range(n_other):
        person = rng.choice(others)
        records.append(_new_sdd(rng, person, _random_date(rng, date(2018, 1, 1), EXPORT_DATE)))
    records.sort(key=lambda r: (r.start, r.person.person_id, r.service))
    for number, record in enumerate(records, start=1):
        record.record_ref = f"SDD-{number:06d}"
    return records


# --------------------------------------------------------------------------------------------- noise


@dataclass
class PersonCopy:
    """How one source holds a person: the fields a partner file carries."""

    given_name: str
    initials: str
    prefix: str
    surname: str
    birth_date: date | None
    street: str
    house_number: int
    house_letter: str
    house_number_suffix: str
    postcode: str
    city: str

    @classmethod
    def of(cls, person: Person) -> PersonCopy:
        a = person.household.address
        return cls(
            person.given_names,
            person.initials,
            person.prefix,
            person.surname,
            person.birth_date,
            a.street,
            a.house_number,
            a.house_letter,
            a.house_number_suffix,
            a.postcode,
            a.city,
        )

    def fields(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _typo(rng: random.Random, word: str) -> str:
    letters = "abcdefghijklmnoprstuvwz"
    for _ in range(10):
        pos = rng.randint(1, max(1, len(word) - 1))
        op = rng.choice(("substitute", "transpose", "delete", "insert"))
        if op == "substitute" and pos < len(word):
            out = word[:pos] + rng.choice(letters) + word[pos + 1 :]
        elif op == "transpose" and pos < len(word) - 1:
            out = word[:pos] + word[pos + 1] + word[pos] + word[pos + 2 :]
        elif op == "delete" and len(word) > 3 and pos < len(word):
            out = word[:pos] + word[pos + 1 :]
        else:
            out = word[:pos] + rng.choice(letters) + word[pos:]
        if out != word:
            return out
    return word + "e"


def _noise_surname_typo(rng: random.Random, c: PersonCopy, p: Person) -> bool:
    c.surname = _typo(rng, c.surname)
    return True


def _noise_initials(rng: random.Random, c: PersonCopy, p: Person) -> bool:
    parts = [x for x in c.initials.split(".") if x]
    if len(parts) >= 2:
        parts = [parts[1], parts[0], *parts[2:]] if rng.random() < 0.5 else parts[:-1]
    else:
        parts = [*parts, rng.choice("AJMHPCW")]
    c.initials = "".join(f"{x}." for x in parts)
    return True


def _noise_partner_surname(rng: random.Random, c: PersonCopy, p: Person) -> bool:
    partner = p.partner
    if partner is None:
        return False
    if rng.random() < 0.5:
        c.prefix, c.surname = partner.prefix, partner.surname
    else:
        own = f"{c.prefix} {c.surname}".strip()
        c.prefix, c.surname = partner.prefix, f"{partner.surname}-{own}"
    return True


def _noise_missing_birth_date(rng: random.Random, c: PersonCopy, p: Person) -> bool:
    if c.birth_date is None:
        return False
    c.birth_date = None
    return True


def _noise_moved(rng: random.Random, c: PersonCopy, p: Person, book: AddressBook) -> bool:
    a = book.new(c.city)
    c.street, c.house_number, c.house_letter = a.street, a.house_number, a.house_letter
    c.house_number_suffix, c.postcode = a.house_number_suffix, a.postcode
    return True


def _noise_prefix(rng: random.Random, c: PersonCopy, p: Person) -> bool:
    if not c.prefix:
        return False
    variant = rng.choice(PREFIX_VARIANTS.get(c.prefix, ("",)))
    if variant == "" and rng.random() < 0.3:
        c.surname = f"{c.prefix} {c.surname}"  # prefix glued onto the surname field
    c.prefix = variant
    return True


def _noise_diacritics(rng: random.Random, c: PersonCopy, p: Person) -> bool:
    before = (c.given_name, c.initials, c.surname, c.street)
    c.given_name, c.initials = _strip_diacritics(c.given_name), _strip_diacritics(c.initials)
    c.surname, c.street = _strip_diacritics(c.surname), _strip_diacritics(c.street)
    return before != (c.given_name, c.initials, c.surname, c.street)


def _noise_day_month_swap(rng: random.Random, c: PersonCopy, p: Person) -> bool:
    b = c.birth_date
    if b is None or b.day > 12 or b.day == b.month:
        return False
    c.birth_date = date(b.year, b.day, b.month)
    return True


class Noiser:
    """Applies the per-record error model to social-team and SDD copies of a person."""

    def __init__(self, rng: random.Random, level: str, book: AddressBook) -> None:
        if level not in NOISE_FACTORS:
            raise ValueError(f"noise must be one of {sorted(NOISE_FACTORS)}, not {level!r}")
        self.rng = rng
        self.factor = NOISE_FACTORS[level]
        self.max_errors = MAX_ERRORS[level]
        self.book = book
        self.applied: Counter[str] = Counter()
        self.functions: dict[str, Callable[[random.Random, PersonCopy, Person], bool]] = {
            "surname_typo": _noise_surname_typo,
            "initials": _noise_initials,
            "partner_surname": _noise_partner_surname,
            "missing_birth_date": _noise_missing_birth_date,
            "moved": lambda r, c, p: _noise_moved(r, c, p, self.book),
            "prefix": _noise_prefix,
            "diacritics": _noise_diacritics,
            "day_month_swap": _noise_day_month_swap,
        }

    def copy(self, person: Person) -> PersonCopy:
        c = PersonCopy.of(person)
        kinds = list(NOISE_PROBABILITIES)
        self.rng.shuffle(kinds)
        errors = 0
        for kind in kinds:
            if errors >= self.max_errors:
                break
            hit = self.rng.random() < NOISE_PROBABILITIES[kind] * self.factor
            if hit and self.functions[kind](self.rng, c, person):
                errors += 1
                self.applied[kind] += 1
        return c


# --------------------------------------------------------------------------------------------- records


def _visible(day: date | None, snapshot: date) -> date | None:
    return day if day is not None and day <= snapshot else None


def arrears_row(ep: Episode, snapshot: date, tenant: PersonCopy) -> dict[str, Any]:
    hh = ep.household
    person = hh.tenant
    t0 = _visible(ep.t0, snapshot)
    return {
        "tenancy_ref": hh.tenancy_ref,
        **tenant.fields(),
        "phone": person.phone,
        "email": person.email,
        "monthly_rent": hh.monthly_rent,
        "arrears_amount": ep.amount_at(snapshot),
        "arrears_start_date": ep.start,
        "t0_date": t0,
        "contact_date": _visible(ep.contact, snapshot),
        "reminder_date": _visible(ep.reminder, snapshot),
        "reported_date": _visible(ep.reported, snapshot),
        "objection": ep.objection if t0 is not None else None,
        "children": hh.children,
        "judgment_date": _visible(ep.judgment, snapshot),
        "eviction_date": _visible(ep.eviction, snapshot),
        "snapshot_date": snapshot,
    }


def corporation_snapshots(
    rng: random.Random, episodes: list[Episode], code: str
) -> list[tuple[date, list[dict[str, Any]]]]:
    copies: dict[str, PersonCopy] = {}
    for ep in sorted(episodes, key=lambda e: (e.household.tenancy_ref or "", e.start)):
        ref = ep.household.tenancy_ref or ""
        if ep.corporation == code and ref not in copies:
            copy = PersonCopy.of(ep.household.tenant)
            if rng.random() < CORPORATION_MISSING_BIRTH_DATE:
                copy.birth_date = None
            copies[ref] = copy
    out = []
    for snapshot in SNAPSHOT_DATES:
        rows = [
            arrears_row(ep, snapshot, copies[ep.household.tenancy_ref or ""])
            for ep in episodes
            if ep.corporation == code and ep.listed(snapshot)
        ]
        rows.sort(key=lambda r: r["tenancy_ref"])
        out.append((snapshot, rows))
    return out


def social_team_row(case: SocialTeamCase, copy: PersonCopy) -> dict[str, Any]:
    return {
        "team": case.team,
        "case_ref": case.case_ref,
        **copy.fields(),
        "bsn": case.person.bsn if case.has_bsn else None,
        "reporter": case.reporter or None,
        "report_received_date": case.received,
        "analysis_sent_date": case.analysis,
        "first_contact_date": case.first_contact,
        "trajectory": case.trajectory,
        "trajectory_start_date": case.trajectory_start,
        "current_rent_paid": case.current_rent_paid,
        "referral_sdd": case.referral_sdd,
        "referral_veilig_thuis": case.referral_veilig_thuis,
        "closed_date": case.closed,
        "outcome": case.outcome,
        "export_date": EXPORT_DATE,
    }


def sdd_row(record: SddRecord, copy: PersonCopy) -> dict[str, Any]:
    fields = copy.fields()
    del fields["given_name"]
    return {
        "record_ref": record.record_ref,
        "bsn": record.person.bsn,
        **fields,
        "service": record.service,
        "start_date": record.start,
        "end_date": record.end,
        "status": record.status,
        "export_date": EXPORT_DATE,
    }


# --------------------------------------------------------------------------------------------- rendering


def mapped_columns(partner: Partner) -> list[layouts.Column]:
    """Canonical columns the partner's layout maps, in canonical order."""
    return [c for c in layouts.columns(partner.kind) if c.name in partner.layout.columns]


def format_number(value: float, layout: Layout) -> str:
    text = f"{value:,.2f}" if layout.thousands else f"{value:.2f}"
    return text.replace(",", "\0").replace(".", layout.decimal).replace("\0", layout.thousands)


def render_text(value: Any, column: layouts.Column, layout: Layout) -> str:
    if value is None or value == "":
        return ""
    if column.type == "date":
        return value.strftime(layout.date_format)
    if column.type == "float":
        return format_number(float(value), layout)
    if column.type == "int":
        return str(int(value))
    if column.type == "bool":
        return layout.true_values[0] if value else layout.false_values[0]
    return str(value)


def render_cell(value: Any, column: layouts.Column, layout: Layout) -> Any:
    if value is None or value == "":
        return None
    if column.type == "bool":
        return layout.true_values[0] if value else layout.false_values[0]
    if column.type == "float":
        return round(float(value), 2)
    return value


def file_name(partner: Partner, day: date) -> str:
    return partner.file_pattern.replace("*", day.isoformat())


def write_csv(path: Path, partner: Partner, rows: Iterable[dict[str, Any]]) -> int:
    layout = partner.layout
    cols = mapped_columns(partner)
    terminator = "\r\n" if layout.encoding.lower() in ("cp1252", "windows-1252") else "\n"
    count = 0
    with open(path, "w", encoding=layout.encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=layout.delimiter, lineterminator=terminator)
        writer.writerow([layout.columns[c.name] for c in cols])
        for row in rows:
            writer.writerow([render_text(row.get(c.name), c, layout) for c in cols])
            count += 1
    return count


def _deterministic_zip(raw: bytes) -> bytes:
    """Re-pack a zip with fixed member timestamps (openpyxl stamps the current time)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(raw)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=XLSX_TIMESTAMP.timetuple()[:6])
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            dst.writestr(member, src.read(info.filename))
    return out.getvalue()


def write_xlsx(path: Path, partner: Partner, rows: Iterable[dict[str, Any]]) -> int:
    layout = partner.layout
    cols = mapped_columns(partner)
    wb = Workbook()
    ws = wb.active
    ws.title = layout.sheet or "Sheet1"
    ws.append([layout.columns[c.name] for c in cols])
    date_idx = [i for i, c in enumerate(cols, start=1) if c.type == "date"]
    count = 0
    for row in rows:
        ws.append([render_cell(row.get(c.name), c, layout) for c in cols])
        count += 1
        for i in date_idx:
            cell = ws.cell(row=count + 1, column=i)
            if cell.value is not None:
                cell.number_format = "dd-mm-yyyy"
    wb.properties.created = wb.properties.modified = XLSX_TIMESTAMP
    wb.properties.creator = "devtools.synthetic"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    path.write_bytes(_deterministic_zip(buffer.getvalue()))
    return count


def write_partner_file(out_dir: Path, partner: Partner, day: date, rows: list[dict[str, Any]]) -> str:
    folder = out_dir / "partners" / partner.code
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name(partner, day)
    writer = write_xlsx if partner.layout.format == "xlsx" else write_csv
    writer(path, partner, rows)
    return path.relative_to(out_dir).as_posix()


# --------------------------------------------------------------------------------------------- ground truth


@dataclass
class CaseTruth:
    """One arrears episode as the pipeline must see it, computed here from the delivered rows alone."""

    corporation: str
    tenancy_ref: str
    first_seen: date
    t0_delivered: date | None = None
    t0_derived: date | None = None
    closed_date: date | None = None
    reported_date: date | None = None
    judgment_date: date | None = None
    eviction_date: date | None = None
    previous_closed: date | None = None

    @property
    def t0_date(self) -> date | None:
        return self.t0_delivered or self.t0_derived

    def ended_on(self, reference: date = REFERENCE_DATE) -> date | None:
        """When the case ended for its deadlines: closed, or evicted (by ``reference``) while still listed."""
        evicted = self.eviction_date if self.eviction_date and self.eviction_date <= reference else None
        return self.closed_date or evicted

    def in_window(self, day: date) -> bool:
        """A report date belongs to this episode: after the previous episode closed, not after this one."""
        after_previous = self.previous_closed is None or day > self.previous_closed
        return after_previous and (self.closed_date is None or day <= self.closed_date)


def observe_cases(code: str, snapshots: list[tuple[date, list[dict[str, Any]]]]) -> list[CaseTruth]:
    """The case rules applied to one corporation's delivered snapshots, in date order (what the pipeline
    sees): an episode runs over consecutive snapshots listing the tenancy with arrears; T0 is the latest
    delivered one, else the first snapshot with arrears >= the monthly rent, else none (below threshold);
    the episode closes on the first snapshot without it; a report date belongs to the episode whose
    window (previous episode's closing date, own closing date] holds it, the latest snapshot carrying one
    winning."""
    cases: list[CaseTruth] = []
    open_cases: dict[str, CaseTruth] = {}
    last_closed: dict[str, date] = {}
    reports: dict[str, list[tuple[date, date]]] = defaultdict(list)  # tenancy -> (snapshot, report date)
    for snapshot, rows in sorted(snapshots, key=lambda item: item[0]):
        in_arrears = {row["tenancy_ref"]: row for row in rows if row["arrears_amount"] > 0}
        for ref in [r for r in open_cases if r not in in_arrears]:
            open_cases.pop(ref).closed_date = last_closed[ref] = snapshot
        for ref, row in in_arrears.items():
            truth = open_cases.get(ref)
            if truth is None:
                truth = CaseTruth(code, ref, first_seen=snapshot, previous_closed=last_closed.get(ref))
                open_cases[ref] = truth
                cases.append(truth)
            if row["t0_date"] is not None:
                truth.t0_delivered = row["t0_date"]
            if truth.t0_derived is None and row["arrears_amount"] >= row["monthly_rent"]:
                truth.t0_derived = snapshot
            truth.judgment_date = row["judgment_date"] or truth.judgment_date
            truth.eviction_date = row["eviction_date"] or truth.eviction_date
            if row["reported_date"] is not None:
                reports[ref].append((snapshot, row["reported_date"]))
    for truth in cases:
        carried = [item for item in reports[truth.tenancy_ref] if truth.in_window(item[1])]
        truth.reported_date = max(carried)[1] if carried else None
    return cases


def deadline_state(due: date | None, event: date | None, ended: date | None, reference: date) -> str:
    """The state of one deadline: met / missed by its event; for a case without it, not_required or missed
    once the case has ended, else open_overdue or open_in_time; not_applicable without a start."""
    if due is None:
        return "not_applicable"
    if event is not None:
        return "met" if event <= due else "missed"
    if ended is not None:
        return "not_required" if ended <= due else "missed"
    return "open_overdue" if reference > due else "open_in_time"


def report_state(truth: CaseTruth, reference: date = REFERENCE_DATE) -> str:
    due = truth.t0_date + _days(REPORT_DAYS) if truth.t0_date else None
    return deadline_state(due, truth.reported_date, truth.ended_on(reference), reference)


def analysis_state(
    reported: date | None, analysis: date | None, ended: date | None = None, reference: date = REFERENCE_DATE
) -> str:
    due = reported + _days(ANALYSIS_DAYS) if reported else None
    return deadline_state(due, analysis, ended, reference)


CASE_COLUMNS: tuple[str, ...] = (
    "corporation",
    "tenancy_ref",
    "person_id",
    "municipality",
    "team",
    "t0_date",
    "t0_source",
    "first_seen",
    "closed_date",
    "reported_date",
    "report_deadline",
    "report_state",
    "social_team_case_ref",
    "analysis_sent_date",
    "analysis_deadline",
    "analysis_state",
    "sdd_record_refs",
    "judgment_date",
    "eviction_date",
    "evicted",
)

COMPLIANCE_COLUMNS: tuple[str, ...] = (
    "corporation",
    "team",
    "month",
    "cases",
    "below_threshold",
    "reported_on_time",
    "reported_late",
    "report_overdue_now",
    "analysed_on_time",
    "analysed_late",
    "analysis_overdue_now",
)


def _first_listed(ep: Episode) -> date | None:
    listed = ep.listed_snapshots()
    return listed[0] if listed else None


def case_rows(truths: list[CaseTruth], episodes: list[Episode], sdd_records: list[SddRecord]) -> list[dict[str, Any]]:
    by_key = {(ep.corporation, ep.household.tenancy_ref, _first_listed(ep)): ep for ep in episodes}
    sdd_by_person: dict[str, list[str]] = defaultdict(list)
    for record in sdd_records:
        sdd_by_person[record.person.person_id].append(record.record_ref)
    rows = []
    for t in sorted(truths, key=lambda t: (t.corporation, t.tenancy_ref, t.first_seen)):
        ep = by_key[(t.corporation, t.tenancy_ref, t.first_seen)]
        case = ep.st_case if t.reported_date is not None else None
        if t.reported_date is not None and (case is None or case.received != t.reported_date):
            raise AssertionError("reported case without matching social-team case")
        analysis = case.analysis if case else None
        person = ep.household.tenant
        municipality = ep.household.municipality
        rows.append(
            {
                "corporation": t.corporation,
                "tenancy_ref": t.tenancy_ref,
                "person_id": person.person_id,
                "municipality": municipality,
                "team": _team(municipality),
                "t0_date": t.t0_date,
                "t0_source": "delivered" if t.t0_delivered else "derived" if t.t0_derived else "below_threshold",
                "first_seen": t.first_seen,
                "closed_date": t.closed_date,
                "reported_date": t.reported_date,
                "report_deadline": t.t0_date + _days(REPORT_DAYS) if t.t0_date else None,
                "report_state": report_state(t),
                "social_team_case_ref": case.case_ref if case else None,
                "analysis_sent_date": analysis,
                "analysis_deadline": t.reported_date + _days(ANALYSIS_DAYS) if t.reported_date else None,
                "analysis_state": analysis_state(t.reported_date, analysis, t.ended_on()),
                "sdd_record_refs": ";".join(sorted(sdd_by_person.get(person.person_id, []))),
                "judgment_date": t.judgment_date,
                "eviction_date": t.eviction_date,
                "evicted": t.eviction_date is not None and t.eviction_date <= REFERENCE_DATE,
            }
        )
    return rows


def compliance_rows(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Counts per corporation, team and month of T0 (of the first snapshot for an episode without T0)."""
    groups: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for c in cases:
        month = (c["t0_date"] or c["first_seen"]).replace(day=1).isoformat()
        counter = groups[(c["corporation"], c["team"], month)]
        counter["cases"] += c["t0_date"] is not None
        counter["below_threshold"] += c["t0_date"] is None
        counter["reported_on_time"] += c["report_state"] == "met"
        counter["reported_late"] += c["report_state"] == "missed"
        counter["report_overdue_now"] += c["report_state"] == "open_overdue"
        counter["analysed_on_time"] += c["analysis_state"] == "met"
        counter["analysed_late"] += c["analysis_state"] == "missed"
        counter["analysis_overdue_now"] += c["analysis_state"] == "open_overdue"
    rows = []
    for (corporation, team, month), counter in sorted(groups.items()):
        row: dict[str, Any] = {"corporation": corporation, "team": team, "month": month}
        row.update({name: counter[name] for name in COMPLIANCE_COLUMNS[3:]})
        rows.append(row)
    return rows


def _truth_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_truth_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_truth_text(row.get(c)) for c in columns])


# --------------------------------------------------------------------------------------------- entry point


def build_world(rng: random.Random, scale: float, corporations: list[Partner]) -> World:
    book = AddressBook(rng)
    households, persons = build_population(rng, max(20, round(PERSONS_PER_SCALE * scale)), book)
    assign_tenancies(rng, households, corporations)
    episodes = build_episodes(rng, households, max(5, round(EPISODES_PER_SCALE * scale)))
    st_cases = build_social_team_cases(rng, persons, episodes)
    sdd = build_sdd_records(rng, persons, episodes, round(SDD_OTHER_PER_SCALE * scale))
    return World(persons, households, episodes, st_cases, sdd, book)


def generate(out_dir: Path, scale: float = 1.0, seed: int = 2026, noise: str = "default") -> dict:
    """Write the synthetic partner files and ground truth under ``out_dir``; return a summary."""
    if noise not in NOISE_FACTORS:
        raise ValueError(f"noise must be one of {sorted(NOISE_FACTORS)}, not {noise!r}")
    if scale <= 0:
        raise ValueError("scale must be positive")
    out_dir = Path(out_dir)
    rng = random.Random(seed)
    partners = load_partners()
    corporations = [p for p in partners if p.kind == "corporation"]
    world = build_world(rng, scale, corporations)
    noiser = Noiser(random.Random(seed + 1), noise, world.addresses.fork(random.Random(seed + 2)))
    files: dict[str, int] = {}
    persons_truth: list[dict[str, Any]] = []
    truths: list[CaseTruth] = []

    for partner in corporations:
        snapshots = corporation_snapshots(rng, world.episodes, partner.code)
        for snapshot, rows in snapshots:
            files[write_partner_file(out_dir, partner, snapshot, rows)] = len(rows)
        truths.extend(observe_cases(partner.code, snapshots))
        refs = {ep.household.tenancy_ref: ep.household.tenant for ep in world.episodes}
        listed = sorted({r["tenancy_ref"] for _, rows in snapshots for r in rows})
        persons_truth += [{"source": partner.code, "record_ref": r, "person_id": refs[r].person_id} for r in listed]

    for partner in partners:
        if partner.kind == "social_team":
            rows = [social_team_row(c, noiser.copy(c.person)) for c in world.st_cases]
            refs_persons = [(c.case_ref, c.person) for c in world.st_cases]
        elif partner.kind == "sdd":
            rows = [sdd_row(r, noiser.copy(r.person)) for r in world.sdd_records]
            refs_persons = [(r.record_ref, r.person) for r in world.sdd_records]
        else:
            continue
        files[write_partner_file(out_dir, partner, EXPORT_DATE, rows)] = len(rows)
        persons_truth += [{"source": partner.code, "record_ref": r, "person_id": p.person_id} for r, p in refs_persons]

    cases = case_rows(truths, world.episodes, world.sdd_records)
    truth_dir = out_dir / "ground_truth"
    write_truth_csv(truth_dir / "persons.csv", ("source", "record_ref", "person_id"), persons_truth)
    write_truth_csv(truth_dir / "cases.csv", CASE_COLUMNS, cases)
    write_truth_csv(truth_dir / "compliance_monthly.csv", COMPLIANCE_COLUMNS, compliance_rows(cases))
    return summarise(world, files, cases, noiser, scale, seed, noise)


def summarise(
    world: World,
    files: dict[str, int],
    cases: list[dict[str, Any]],
    noiser: Noiser,
    scale: float,
    seed: int,
    noise: str,
) -> dict:
    return {
        "scale": scale,
        "seed": seed,
        "noise": noise,
        "reference_date": REFERENCE_DATE.isoformat(),
        "persons": len(world.persons),
        "households": len(world.households),
        "episodes": len(world.episodes),
        "cases": sum(1 for c in cases if c["t0_date"] is not None),
        "below_threshold": sum(1 for c in cases if c["t0_date"] is None),
        "social_team_cases": len(world.st_cases),
        "sdd_records": len(world.sdd_records),
        "files": dict(sorted(files.items())),
        "report_state": dict(sorted(Counter(c["report_state"] for c in cases).items())),
        "analysis_state": dict(sorted(Counter(c["analysis_state"] for c in cases).items())),
        "evicted": sum(1 for c in cases if c["evicted"]),
        "noise_applied": dict(sorted(noiser.applied.items())),
    }


__all__ = ["REFERENCE_DATE", "SNAPSHOT_DATES", "bsn_is_valid", "generate", "initials_of"]
