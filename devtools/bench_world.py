"""Fast synthetic partner files at benchmark scale (up to millions of arrears rows), for ``bench``.

``synthetic.generate`` builds a detailed world one person at a time (about 4,000 arrears rows per
second of generation); this module draws the same kind of files with numpy, one column at a time, so
a million arrears rows take well under a minute. It is less detailed (no deadline ground truth), but
every file passes the partner's layout and the GX suites, and the people recur across sources with
the usual noise (typos, missing birth dates, swapped day and month, a changed house number), so
linkage has real work to do. ``persons.csv`` per source records who is who, for linkage quality.

Rendering goes through the partner's ``Layout`` like ``synthetic`` does: delimiter, encoding, date
format, decimal comma, yes/no values; ``.xlsx`` partners get real Excel dates and numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from eviction_prevention.parse import layouts
from eviction_prevention.partners import Layout, Partner

from devtools import synthetic_names as data
from devtools.synthetic import SNAPSHOT_DATES, file_name, format_number, mapped_columns

EPOCH = dt.date(1900, 1, 1)
EXPORT_DATE = SNAPSHOT_DATES[-1]
# Per arrears row, as in ``synthetic.generate`` at scale 1 (about 4,200 arrears rows, 1,190 social-team
# cases and 2,250 SDD records).
SOCIAL_TEAM_PER_ARREARS_ROW = 0.28
SDD_PER_ARREARS_ROW = 0.53
REPORTED_SHARE = 0.6  # tenancies reported to the social team
ST_FROM_TENANTS = 0.7  # social-team cases that are a reported tenant
SDD_FROM_TENANTS = 0.35
SDD_FROM_ST = 0.15
NOISE = {"surname_typo": 0.08, "initials": 0.05, "no_birth_date": 0.03, "dm_swap": 0.02, "house": 0.03}
_SYLLABLES = (
    "ber", "berg", "bos", "brink", "dam", "dijk", "donk", "hof", "horst", "houw", "kamp", "kes", "kon",
    "land", "lin", "man", "meer", "mol", "sen", "sma", "stra", "ter", "veld", "ven", "vliet", "wal", "wij",
)  # fmt: skip
_ONSETS = ("Ba", "Bo", "Bre", "Da", "De", "Gro", "Ha", "He", "Ja", "Ka", "Kle", "Lo", "Ma", "Mo", "Pe", "Ro",
           "Sa", "Sche", "Ste", "Te", "Vo", "Wa", "Wi", "Zo")  # fmt: skip


@dataclass
class People:
    """Column arrays of persons (clear text; only ever written into the partner files)."""

    given: np.ndarray
    prefix: np.ndarray
    surname: np.ndarray
    birth: np.ndarray  # days since EPOCH
    street: np.ndarray
    number: np.ndarray
    letter: np.ndarray
    postcode: np.ndarray
    city: np.ndarray
    bsn: np.ndarray
    phone: np.ndarray
    email: np.ndarray

    def take(self, index: np.ndarray) -> People:
        return People(**{k: v[index] for k, v in vars(self).items()})


def _days(day: dt.date) -> int:
    return (day - EPOCH).days


def _surnames(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Half from the common list, half composed (onset + one or two syllables): many distinct names."""
    common = np.array(data.SURNAMES, dtype=object)[rng.integers(0, len(data.SURNAMES), n)]
    prefix, surname = common[:, 0].copy(), common[:, 1].copy()
    composed = rng.random(n) < 0.5
    k = int(composed.sum())
    onset = np.array(_ONSETS, dtype=object)[rng.integers(0, len(_ONSETS), k)]
    syl = np.array(_SYLLABLES, dtype=object)
    two = rng.random(k) < 0.6
    tail = syl[rng.integers(0, len(syl), k)] + np.where(two, syl[rng.integers(0, len(syl), k)], "")
    surname[composed] = onset + tail
    prefix[composed] = np.where(rng.random(k) < 0.2, "van", "")
    return prefix, surname


def _bsns(rng: np.random.Generator, n: int) -> np.ndarray:
    """Distinct 9-digit numbers that pass the 11-test."""
    out: list[np.ndarray] = []
    seen = 0
    while seen < n:
        base = rng.integers(10_000_000, 99_999_999, int((n - seen) * 1.3) + 16)
        digits = (base[:, None] // 10 ** np.arange(7, -1, -1)) % 10
        check = (digits * np.arange(9, 1, -1)).sum(axis=1) % 11
        ok = check <= 9
        out.append(base[ok] * 10 + check[ok])
        seen += int(ok.sum())
    values = np.unique(np.concatenate(out))
    rng.shuffle(values)
    if len(values) < n:
        return np.concatenate([values, _bsns(rng, n - len(values))])
    return np.array([f"{v:09d}" for v in values[:n]], dtype=object)


def _addresses(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    cities = np.array(sorted(data.POSTCODE_RANGES), dtype=object)
    weights = np.array([data.MUNICIPALITY_WEIGHTS[c] for c in cities])
    city_idx = rng.choice(len(cities), n, p=weights / weights.sum())
    low = np.array([data.POSTCODE_RANGES[c][0] for c in cities])[city_idx]
    high = np.array([data.POSTCODE_RANGES[c][1] for c in cities])[city_idx]
    digits = low + (rng.random(n) * (high - low + 1)).astype(np.int64)
    letters = np.array(list(data.POSTCODE_LETTERS), dtype=object)
    postcode = (
        digits.astype(str).astype(object) + " " + letters[rng.integers(0, 18, n)] + letters[rng.integers(0, 18, n)]
    )
    streets = np.array(data.STREET_BASES, dtype=object)
    letter = np.where(rng.random(n) < 0.1, np.array(data.HOUSE_LETTERS, dtype=object)[rng.integers(0, 4, n)], "")
    return {
        "street": streets[rng.integers(0, len(streets), n)],
        "number": rng.integers(1, 400, n),
        "letter": letter.astype(object),
        "postcode": postcode,
        "city": cities[city_idx],
    }


def people(rng: np.random.Generator, n: int) -> People:
    given_names = np.array(data.MALE_GIVEN + data.FEMALE_GIVEN, dtype=object)
    given = given_names[rng.integers(0, len(given_names), n)]
    second = np.where(rng.random(n) < 0.4, " " + given_names[rng.integers(0, len(given_names), n)], "")
    prefix, surname = _surnames(rng, n)
    birth = rng.integers(_days(dt.date(1940, 1, 1)), _days(dt.date(2005, 12, 31)), n)
    phone = np.array([f"06-{v}" for v in rng.integers(10_000_000, 99_999_999, n)], dtype=object)
    email = np.array([f"p{i}@{data.EMAIL_DOMAINS[i % 3]}" for i in rng.integers(0, 10**9, n)], dtype=object)
    return People(given=given + second, prefix=prefix, surname=surname, birth=birth, bsn=_bsns(rng, n),
                  phone=phone, email=email, **_addresses(rng, n))  # fmt: skip


def initials(given: np.ndarray) -> np.ndarray:
    return np.array([".".join(w[0] for w in g.split()) + "." for g in given], dtype=object)


def _typo(word: str, pos: int) -> str:
    if len(word) < 4:
        return word + "e"
    i = 1 + pos % (len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def noisy(rng: np.random.Generator, p: People) -> People:
    """A copy as another partner registered it: typos, dropped initials, missing or swapped dates, ..."""
    out = p.take(np.arange(len(p.given)))
    n = len(out.given)
    hit = {k: rng.random(n) < v for k, v in NOISE.items()}
    pos = rng.integers(0, 1000, n)
    for i in np.flatnonzero(hit["surname_typo"]):
        out.surname[i] = _typo(out.surname[i], int(pos[i]))
    out.given = np.where(hit["initials"], [g.split()[0] for g in out.given], out.given)
    out.birth = np.where(hit["no_birth_date"], -1, out.birth)
    out.number = np.where(hit["house"], out.number + 1, out.number)
    swap = hit["dm_swap"] & (out.birth >= 0)
    for i in np.flatnonzero(swap):
        d = EPOCH + dt.timedelta(days=int(out.birth[i]))
        if d.day <= 12 and d.day != d.month:
            out.birth[i] = _days(d.replace(day=d.month, month=d.day))
    return out


# ----------------------------------------------------------------------------------------- rendering


class Renderer:
    """Canonical column arrays -> the partner's cells (text for CSV, typed values for xlsx)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.xlsx = layout.format == "xlsx"
        self._dates: dict[int, object] = {}

    def date(self, days: np.ndarray) -> list[object]:
        out = []
        for d in days.tolist():
            v = self._dates.get(d)
            if v is None:
                if d < 0:
                    v = None if self.xlsx else ""
                else:
                    day = EPOCH + dt.timedelta(days=d)
                    v = (
                        dt.datetime(day.year, day.month, day.day)
                        if self.xlsx
                        else day.strftime(self.layout.date_format)
                    )
                self._dates[d] = v
            out.append(v)
        return out

    def number(self, values: np.ndarray) -> list[object]:
        if self.xlsx:
            return [round(float(v), 2) for v in values.tolist()]
        return [format_number(v, self.layout) for v in values.tolist()]

    def boolean(self, values: np.ndarray) -> list[object]:
        yes, no = self.layout.true_values[0], self.layout.false_values[0]
        return [yes if v else no for v in values.tolist()]

    def cells(self, column: layouts.Column, values: np.ndarray) -> list[object]:
        if column.type == "date":
            return self.date(values)
        if column.type == "float":
            return self.number(values)
        if column.type == "bool":
            return self.boolean(values)
        if column.type == "int":
            return [int(v) for v in values.tolist()] if self.xlsx else [str(v) for v in values.tolist()]
        return [None if self.xlsx and v == "" else v for v in values.tolist()]


def write_file(out_dir: Path, partner: Partner, day: dt.date, columns: dict[str, np.ndarray]) -> Path:
    """Write one partner file from canonical column arrays (dates as day numbers, -1 = empty)."""
    folder = out_dir / "partners" / partner.code
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name(partner, day)
    cols = mapped_columns(partner)
    renderer = Renderer(partner.layout)
    header = [partner.layout.columns[c.name] for c in cols]
    body = zip(*(renderer.cells(c, columns[c.name]) for c in cols), strict=True)
    if renderer.xlsx:
        _write_xlsx(path, partner.layout, header, body)
    else:
        layout = partner.layout
        terminator = "\r\n" if layout.encoding.lower() in ("cp1252", "windows-1252") else "\n"
        with open(path, "w", encoding=layout.encoding, newline="") as fh:
            writer = csv.writer(fh, delimiter=layout.delimiter, lineterminator=terminator)
            writer.writerow(header)
            writer.writerows(body)
    return path


def _write_xlsx(path: Path, layout: Layout, header: list[str], body: object) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(layout.sheet or "Sheet1")
    ws.append(header)
    for row in body:
        ws.append(row)
    wb.save(path)


# ----------------------------------------------------------------------------------------- the sources


@dataclass
class Tenancies:
    """One row per tenancy with its episode: which corporation, first and last snapshot listed."""

    person: np.ndarray
    corporation: np.ndarray
    first: np.ndarray
    last: np.ndarray

    @property
    def rows(self) -> int:
        return int((self.last - self.first + 1).sum())


def tenancies(rng: np.random.Generator, arrears_rows: int, n_corporations: int) -> Tenancies:
    """Episodes over the six snapshots whose listed rows add up to exactly ``arrears_rows``."""
    n_snap = len(SNAPSHOT_DATES)
    guess = int(arrears_rows / 1.5) + 10  # mean episode is 2.25 snapshots
    first = rng.integers(0, n_snap, guess)
    length = 1 + (rng.random(guess) * (n_snap - first)).astype(np.int64)
    total = np.cumsum(length)
    n = int(np.searchsorted(total, arrears_rows)) + 1
    first, length = first[:n], length[:n].copy()
    length[-1] -= int(total[n - 1] - arrears_rows)
    return Tenancies(np.arange(n), np.arange(n) % n_corporations, first, first + length - 1)


def _unit(index: np.ndarray, salt: int) -> np.ndarray:
    """A uniform number in [0, 1) per index and salt (splitmix64): a tenancy's facts stay the same across snapshots."""
    with np.errstate(over="ignore"):  # multiplication modulo 2**64 is the point
        z = (index.astype(np.uint64) + np.uint64(salt) * np.uint64(0x9E3779B97F4A7C15)) * np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(31)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(29)
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _between(index: np.ndarray, salt: int, low: int, high: int) -> np.ndarray:
    return low + (_unit(index, salt) * (high - low)).astype(np.int64)


def _episode_days(t: Tenancies, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrears start, T0 and report day (-1: never reported) of the tenancies ``sel``."""
    first_snap = np.array([_days(d) for d in SNAPSHOT_DATES])[t.first[sel]]
    start = first_snap - _between(sel, 1, 35, 120)
    t0 = start + 31
    reported = np.where(_unit(sel, 2) < REPORTED_SHARE, t0 + _between(sel, 3, 5, 60), -1)
    return start, t0, reported


def person_columns(who: People) -> dict[str, np.ndarray]:
    """The person fields every source delivers (canonical names)."""
    return {
        "initials": initials(who.given),
        "prefix": who.prefix,
        "surname": who.surname,
        "birth_date": who.birth,
        "street": who.street,
        "house_number": who.number,
        "house_letter": who.letter,
        "house_number_suffix": np.full(len(who.given), "", dtype=object),
        "postcode": who.postcode,
        "city": who.city,
    }


def arrears_columns(rng: np.random.Generator, t: Tenancies, p: People, corp: int, snap: int) -> dict[str, np.ndarray]:
    """The rows of one corporation's snapshot: the tenancies listed then, facts visible by then."""
    sel = np.flatnonzero((t.corporation == corp) & (t.first <= snap) & (t.last >= snap))
    who = p.take(t.person[sel])
    as_of = _days(SNAPSHOT_DATES[snap])
    start, t0, reported = _episode_days(t, sel)
    contact = t0 + _between(sel, 4, 1, 20)
    rent = 400 + (_unit(sel, 5) * 800).round(2)
    n = len(sel)
    return {
        "tenancy_ref": np.array([f"HO{corp}-{i:08d}" for i in sel], dtype=object),
        **person_columns(who),
        "birth_date": np.where(rng.random(n) < 0.03, -1, who.birth),
        "phone": who.phone,
        "email": who.email,
        "monthly_rent": rent,
        "arrears_amount": (rent * (1 + (as_of - start) / 31)).round(2),
        "arrears_start_date": start,
        "t0_date": np.where(t0 <= as_of, t0, -1),
        "contact_date": np.where(contact <= as_of, contact, -1),
        "reminder_date": np.where(t0 + 10 <= as_of, t0 + 10, -1),
        "reported_date": np.where(reported <= as_of, reported, -1),
        "objection": _unit(sel, 6) < 0.05,
        "children": _unit(sel, 7) < 0.3,
        "judgment_date": np.full(n, -1),
        "eviction_date": np.full(n, -1),
        "snapshot_date": np.full(n, as_of),
    }


def social_team_columns(rng: np.random.Generator, who: People, reporter: np.ndarray, received: np.ndarray) -> dict:
    n = len(who.given)
    export = _days(EXPORT_DATE)
    teams = {m: e["social_team"] for m, e in _municipalities().items()}
    analysis = received + rng.integers(2, 25, n)
    outcomes = np.array(layouts.OUTCOMES, dtype=object)
    return {
        "team": np.array([teams[c] for c in who.city], dtype=object),
        "case_ref": np.array([f"ST{i:08d}" for i in range(n)], dtype=object),
        "given_name": who.given,
        **person_columns(who),
        "bsn": np.where(rng.random(n) < 0.8, who.bsn, ""),
        "reporter": reporter,
        "report_received_date": received,
        "analysis_sent_date": np.where(analysis <= export, analysis, -1),
        "first_contact_date": np.where(received + 3 <= export, received + 3, -1),
        "trajectory": rng.random(n) < 0.5,
        "trajectory_start_date": np.where(analysis + 5 <= export, analysis + 5, -1),
        "current_rent_paid": rng.random(n) < 0.7,
        "referral_sdd": rng.random(n) < 0.3,
        "referral_veilig_thuis": rng.random(n) < 0.02,
        "closed_date": np.full(n, -1),
        "outcome": np.where(rng.random(n) < 0.4, outcomes[rng.integers(0, len(outcomes), n)], ""),
        "export_date": np.full(n, export),
    }


def sdd_columns(rng: np.random.Generator, who: People) -> dict:
    n = len(who.given)
    export = _days(EXPORT_DATE)
    start = export - rng.integers(10, 1500, n)
    end = np.where(rng.random(n) < 0.3, start + rng.integers(30, 400, n), -1)
    end = np.where(end > export, -1, end)
    services = np.array(layouts.SDD_SERVICES, dtype=object)
    return {
        "record_ref": np.array([f"SDD{i:09d}" for i in range(n)], dtype=object),
        "bsn": who.bsn,
        **person_columns(who),
        "service": services[rng.integers(0, len(services), n)],
        "start_date": start,
        "end_date": end,
        "status": np.where(end >= 0, "ended", "active").astype(object),
        "export_date": np.full(n, export),
    }


def _municipalities() -> dict[str, dict]:
    from eviction_prevention import settings

    return settings.municipalities()


def _write_truth(path: Path, refs: np.ndarray, persons: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["record_ref", "person"])
        writer.writerows(zip(refs.tolist(), persons.tolist(), strict=True))


def _social_team_people(rng: np.random.Generator, t: Tenancies, n_cases: int, n_people: int) -> tuple:
    """(person index, reporter corporation index or -1, received day) of every social-team case."""
    _, _, report_day = _episode_days(t, t.person)
    last_listed = np.array([_days(d) for d in SNAPSHOT_DATES])[t.last]
    reported = np.flatnonzero((report_day >= 0) & (report_day <= last_listed))
    from_tenants = min(int(n_cases * ST_FROM_TENANTS), len(reported))
    chosen = np.sort(rng.choice(reported, from_tenants, replace=False))
    others = rng.integers(len(t.person), n_people, n_cases - from_tenants)
    persons = np.concatenate([t.person[chosen], others])
    reporter = np.concatenate([t.corporation[chosen], np.full(len(others), -1)])
    received = np.concatenate(
        [
            np.minimum(report_day[chosen] + rng.integers(0, 5, from_tenants), _days(EXPORT_DATE)),
            _days(EXPORT_DATE) - rng.integers(1, 200, len(others)),
        ]
    )
    return persons, reporter, received


def generate(out_dir: Path, arrears_rows: int, partners: list[Partner], seed: int = 7) -> dict[str, int]:
    """Write every partner's files for ``arrears_rows`` arrears rows; returns rows per source kind."""
    rng = np.random.default_rng(seed)
    corporations = [p for p in partners if p.kind == "corporation"]
    social_team = next(p for p in partners if p.kind == "social_team")
    sdd = next(p for p in partners if p.kind == "sdd")
    t = tenancies(rng, arrears_rows, len(corporations))
    n_st = round(SOCIAL_TEAM_PER_ARREARS_ROW * arrears_rows)
    n_sdd = round(SDD_PER_ARREARS_ROW * arrears_rows)
    pop = people(rng, len(t.person) + n_st + n_sdd)
    for c, partner in enumerate(corporations):
        for s, day in enumerate(SNAPSHOT_DATES):
            write_file(out_dir, partner, day, arrears_columns(rng, t, pop, c, s))
    truth = out_dir / "truth"
    refs = np.array([f"{corporations[c].code}:HO{c}-{i:08d}" for i, c in zip(t.person, t.corporation, strict=True)])
    _write_truth(truth / "corporation.csv", refs, t.person)

    st_person, st_reporter, st_received = _social_team_people(rng, t, n_st, len(pop.given))
    codes = np.array([p.code for p in corporations] + [""], dtype=object)
    st = social_team_columns(rng, noisy(rng, pop.take(st_person)), codes[st_reporter], st_received)
    write_file(out_dir, social_team, EXPORT_DATE, st)
    _write_truth(truth / "social_team.csv", st["case_ref"], st_person)

    k_t, k_st = int(n_sdd * SDD_FROM_TENANTS), int(n_sdd * SDD_FROM_ST)
    sdd_person = np.concatenate(
        [
            rng.choice(t.person, k_t),
            rng.choice(st_person, k_st),
            rng.integers(len(t.person), len(pop.given), n_sdd - k_t - k_st),
        ]
    )
    records = sdd_columns(rng, noisy(rng, pop.take(sdd_person)))
    write_file(out_dir, sdd, EXPORT_DATE, records)
    _write_truth(truth / "sdd.csv", records["record_ref"], sdd_person)
    return {"corporation": arrears_rows, "social_team": n_st, "sdd": n_sdd, "tenancies": len(t.person)}
