"""The covenant's rules (issue 13), each proved by scenarios whose expected mart rows are computed by hand.

Every scenario is a partner file in the partner's own layout, written here by hand (Trivire: ;-separated
Windows-1252 with Dutch dates and decimal commas; Woonbron: UTF-8 with BOM, ISO dates; Tablis: .xlsx;
social teams: ;-separated UTF-8), loaded with ``eviction-prevention ingest`` and published with
``eviction-prevention publish``, on DuckDB and on PostgreSQL. Three worlds:

* CASES (Trivire and Tablis, month-end snapshots 2026-01-31 .. 2026-06-30, social-team export 2026-06-30;
  reference date 2026-06-30): rules 1, 2, 3, 4, 6, 7 and 9.
* TERMS (Woonbron, snapshots 2025-11-30 .. 2026-05-31, export 2026-05-31; reference date 2026-05-31):
  rule 5, rule 8 and the 42/43 and 14/15 day boundaries.
* DELIVERIES (Trivire files with --received-at): rules 10 and 11.

Every date in an expected value below was counted on a calendar, not computed by the code.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import holidays
import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa
from eviction_prevention import cli, warehouse
from eviction_prevention.dutch_time import AMSTERDAM
from eviction_prevention.publish import statutory_calendar

from devtools.evaluation import record_key
from tests.conftest import TEST_KEY, run_intake, schema_url, scratch_schema, unavailable

D = dt.date.fromisoformat
BACKENDS = ["duckdb", "postgres"]

# label -> initials, prefix, surname, birth date, street, house number, postcode, city
PEOPLE: dict[str, tuple[str, str, str, str, str, int, str, str]] = {
    "P01": ("A.", "", "Aalbers", "1961-01-11", "Achterhakkers", 1, "3311 AA", "Dordrecht"),
    "P02": ("B.", "de", "Boer", "1962-02-12", "Bagijnhof", 2, "3311 AB", "Dordrecht"),
    "P03": ("C.", "", "Claassen", "1963-03-13", "Blauwpoortsplaats", 3, "3311 AC", "Dordrecht"),
    "P04": ("D.", "van", "Dam", "1964-04-14", "Boomstraat", 4, "3311 AD", "Dordrecht"),
    "P05": ("E.", "", "Evers", "1965-05-15", "Botgensstraat", 5, "3311 AE", "Dordrecht"),
    "P06": ("F.", "", "Fransen", "1966-06-16", "Dolhuisstraat", 6, "3311 AG", "Dordrecht"),
    "P07": ("G.", "", "Gerritsen", "1967-07-17", "Grote Spuistraat", 7, "3311 AH", "Dordrecht"),
    "P08": ("H.", "", "Hendriks", "1968-08-18", "Groenmarkt", 8, "3311 AJ", "Dordrecht"),
    "P09": ("I.", "", "Izaks", "1969-09-19", "Hofstraat", 9, "3311 AK", "Dordrecht"),
    "P10": ("J.", "", "Jacobs", "1970-10-20", "Hoogstraat", 10, "3311 AL", "Dordrecht"),
    "P11": ("K.", "", "Kramer", "1971-11-21", "Kalkhaven", 11, "3311 AM", "Dordrecht"),
    "P12": ("L.", "", "Lammers", "1972-12-22", "Kolfstraat", 12, "3311 AN", "Dordrecht"),
    "P13": ("M.", "", "Mulder", "1973-01-23", "Korte Engelenburgerkade", 13, "3311 AP", "Dordrecht"),
    "P14": ("N.", "", "Nijhof", "1974-02-24", "Lange Geldersekade", 14, "3311 AR", "Dordrecht"),
    "P15": ("O.", "", "Oosterhout", "1975-03-25", "Lindengracht", 15, "3311 AS", "Dordrecht"),
    "P16": ("P.", "", "Pauwels", "1976-04-26", "Dam", 16, "2951 AA", "Alblasserdam"),
    "P17": ("Q.", "", "Quint", "1977-05-27", "Cortgene", 17, "2951 AB", "Alblasserdam"),
    "P18": ("R.", "", "Roelofs", "1978-06-28", "Damstraat", 18, "2951 AC", "Alblasserdam"),
    "P19": ("S.", "", "Smeets", "1979-07-29", "Nieuwstraat", 19, "3311 AT", "Dordrecht"),
    "P20": ("T.", "", "Timmermans", "1980-08-30", "Riedijk", 20, "3311 AV", "Dordrecht"),
    "P21": ("U.", "", "Uiterwijk", "1981-09-01", "Steegoversloot", 21, "3311 AW", "Dordrecht"),
    "P22": ("A.C.", "", "Adriaanse", "1960-02-01", "Varkenmarkt", 22, "3311 BA", "Dordrecht"),
    "P23": ("B.C.", "", "Brouwer", "1961-03-02", "Vest", 23, "3311 BB", "Dordrecht"),
    "P24": ("C.E.", "", "Cornelissen", "1962-04-03", "Visstraat", 24, "3311 BC", "Dordrecht"),
    "P43": ("D.E.", "", "Dijkstra", "1963-05-04", "Veerplein", 43, "3331 BA", "Zwijndrecht"),
    "P44": ("E.G.", "", "Everts", "1964-06-05", "Develsingel", 44, "3331 BB", "Zwijndrecht"),
    "P31": ("V.", "", "Verbeek", "1982-10-02", "Stationsweg", 31, "3331 AA", "Zwijndrecht"),
    "P32": ("W.", "", "Willems", "1983-11-03", "Burgemeester Jansenlaan", 32, "3331 AB", "Zwijndrecht"),
    "P33": ("X.", "", "Xavier", "1984-12-04", "Kerkhoek", 33, "3331 AC", "Zwijndrecht"),
    "P34": ("Y.", "", "IJzerman", "1985-01-05", "Lindeweg", 34, "3331 AD", "Zwijndrecht"),
    "P35": ("Z.", "", "Zwart", "1986-02-06", "Molenvliet", 35, "3331 AE", "Zwijndrecht"),
    "P36": ("A.B.", "", "Bos", "1987-03-07", "Noordpark", 36, "3331 AG", "Zwijndrecht"),
    "P37": ("C.D.", "", "Dekker", "1988-04-08", "Oranjelaan", 37, "3331 AH", "Zwijndrecht"),
    "P38": ("E.F.", "", "Frenken", "1989-05-09", "Pieter de Hoochlaan", 38, "3331 AJ", "Zwijndrecht"),
    "P39": ("G.H.", "", "Hoekstra", "1990-06-10", "Rotterdamseweg", 39, "3331 AK", "Zwijndrecht"),
    "P40": ("J.K.", "", "Kuipers", "1991-07-11", "Sportlaan", 40, "3331 AL", "Zwijndrecht"),
    "P41": ("L.M.", "", "Meijer", "1992-08-12", "Voorstraat", 41, "3311 AX", "Dordrecht"),
    "P42": ("N.O.", "", "Ouwehand", "1993-09-13", "Wijnstraat", 42, "3311 AZ", "Dordrecht"),
}


@dataclass(frozen=True)
class Listed:
    """One tenancy row in one arrears snapshot."""

    ref: str
    person: str
    snapshot: str
    arrears: float
    t0: str | None = None
    reported: str | None = None
    judgment: str | None = None
    eviction: str | None = None
    children: bool = False
    rent: float = 600.0


def episode(ref: str, person: str, snapshots: list[str], arrears: float | list[float], **fields) -> list[Listed]:
    amounts = arrears if isinstance(arrears, list) else [arrears] * len(snapshots)
    return [Listed(ref, person, s, a, **fields) for s, a in zip(snapshots, amounts, strict=True)]


@dataclass(frozen=True)
class StCase:
    """One case in the social teams' export."""

    case_ref: str
    person: str
    reporter: str | None
    received: str
    analysis: str | None = None
    contact: str | None = None
    trajectory: bool | None = None
    trajectory_start: str | None = None
    rent_paid: bool | None = None


# ------------------------------------------------------------------------------------------ files, by hand


def nl_date(value: str | None) -> str:
    return D(value).strftime("%d-%m-%Y") if value else ""


def nl_amount(value: float) -> str:
    return f"{value:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")


def csv_file(path: Path, header: list[str], lines: list[list], delimiter: str, encoding: str) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows([header, *lines])
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def trivire_file(path: Path, rows: list[Listed]) -> Path:
    """Trivire: ;-separated Windows-1252, Dutch dates, decimal commas, J/N."""
    header = [
        "Contractnummer", "Voorletters", "Tussenvoegsel", "Achternaam", "Geboortedatum", "Straat", "Huisnummer",
        "Postcode", "Plaats", "Maandhuur", "Achterstand", "Datum 1 maand achterstand", "Datum melding sociaal team",
        "Kinderen in huishouden", "Datum vonnis", "Datum ontruiming", "Peildatum",
    ]  # fmt: skip
    lines = []
    for r in rows:
        initials, prefix, surname, birth, street, number, postcode, city = PEOPLE[r.person]
        lines.append(
            [r.ref, initials, prefix, surname, nl_date(birth), street, number, postcode, city, nl_amount(r.rent),
             nl_amount(r.arrears), nl_date(r.t0), nl_date(r.reported), "J" if r.children else "N",
             nl_date(r.judgment), nl_date(r.eviction), nl_date(r.snapshot)]
        )  # fmt: skip
    return csv_file(path, header, lines, ";", "cp1252")


def woonbron_file(path: Path, rows: list[Listed]) -> Path:
    """Woonbron: ,-separated UTF-8 with BOM, ISO dates, decimal points, ja/nee."""
    header = [
        "huurovereenkomst_id", "voorletters", "voorvoegsel", "achternaam", "geboortedatum", "straatnaam", "huisnr",
        "postcode", "woonplaats", "huur_per_maand", "openstaand_bedrag", "maand_achterstand_op", "gemeld_op",
        "gezin_met_kinderen", "vonnis_op", "peildatum",
    ]  # fmt: skip
    lines = [
        [r.ref, *PEOPLE[r.person], f"{r.rent:.2f}", f"{r.arrears:.2f}", r.t0 or "", r.reported or "",
         "ja" if r.children else "nee", r.judgment or "", r.snapshot]
        for r in rows
    ]  # fmt: skip
    return csv_file(path, header, lines, ",", "utf-8-sig")


def tablis_file(path: Path, rows: list[Listed]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Huurachterstanden"
    sheet.append(
        ["Huurovereenkomst", "Voorletters", "Voorvoegsels", "Naam", "Geb. datum", "Adres", "Nr", "Postcode",
         "Woonplaats", "Kale huur + servicekosten", "Saldo achterstand", "Datum T0", "Melding STD",
         "Minderjarige kinderen", "Vonnis", "Peildatum"]
    )  # fmt: skip

    def cell(value: str | None) -> dt.datetime | None:
        return dt.datetime.combine(D(value), dt.time()) if value else None

    for r in rows:
        initials, prefix, surname, birth, street, number, postcode, city = PEOPLE[r.person]
        sheet.append(
            [r.ref, initials, prefix or None, surname, cell(birth), street, number, postcode, city, r.rent, r.arrears,
             cell(r.t0), cell(r.reported), "Ja" if r.children else "Nee", cell(r.judgment), cell(r.snapshot)]
        )  # fmt: skip
    workbook.save(path)
    return path


def social_team_file(path: Path, export: str, cases: list[StCase]) -> Path:
    header = [
        "Team", "Casusnummer", "Voorletters", "Tussenvoegsel", "Achternaam", "Geboortedatum", "Straat", "Huisnummer",
        "Postcode", "Woonplaats", "Melder", "Datum melding ontvangen", "Datum terugkoppeling",
        "Datum eerste gesprek aangeboden", "Zorgtraject", "Start zorgtraject", "Lopende huur betaald", "Exportdatum",
    ]  # fmt: skip
    teams = {"Dordrecht": "Sociaal Wijkteam Dordrecht", "Zwijndrecht": "Sociaal Team Zwijndrecht"}

    def yes_no(value: bool | None) -> str:
        return "" if value is None else "ja" if value else "nee"

    lines = []
    for c in cases:
        initials, prefix, surname, birth, street, number, postcode, city = PEOPLE[c.person]
        lines.append(
            [teams[city], c.case_ref, initials, prefix, surname, nl_date(birth), street, number, postcode, city,
             c.reporter or "", nl_date(c.received), nl_date(c.analysis), nl_date(c.contact), yes_no(c.trajectory),
             nl_date(c.trajectory_start), yes_no(c.rent_paid), nl_date(export)]
        )  # fmt: skip
    return csv_file(path, header, lines, ";", "utf-8")


def snapshots_of(rows: list[Listed]) -> list[str]:
    return sorted({r.snapshot for r in rows})


# ------------------------------------------------------------------------------------------ the worlds


@dataclass
class World:
    url: str
    referrals: dict[str, dict] = field(default_factory=dict)

    def case(self, corporation: str, ref: str, first_seen: str) -> dict:
        return self.referrals[case_id(corporation, ref, first_seen)]

    def query(self, sql: str) -> list[tuple]:
        with warehouse.connect(self.url) as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql)).all()]

    def reload(self) -> None:
        with warehouse.connect(self.url) as conn:
            frame = warehouse.read_frame(conn, "SELECT * FROM mart_referrals")
        self.referrals = {row["case_id"]: row for row in frame.to_dict("records")}


def case_id(corporation: str, ref: str, first_seen: str) -> str:
    """The case id as the covenant defines it: the tenancy's episode starting at its first snapshot."""
    return f"{corporation}:{record_key(TEST_KEY.encode(), 'corporation', ref)}:{first_seen}"


@contextmanager
def warehouse_for(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "duckdb":
        yield f"duckdb:///{tmp / 'warehouse.duckdb'}"
        return
    try:
        schema_cm = scratch_schema("cov")
        schema = schema_cm.__enter__()
    except sa.exc.OperationalError as exc:
        unavailable(f"PostgreSQL not reachable: {exc.__class__.__name__}")
    try:
        yield schema_url(schema)
    finally:
        schema_cm.__exit__(None, None, None)


@contextmanager
def environment(tmp: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EVICTION_PREVENTION_HOME", str(tmp / "var"))
        mp.setenv("EVICTION_PREVENTION_PSEUDONYM_KEY", TEST_KEY)
        mp.delenv("EVICTION_PREVENTION_REFERENCE_DATE", raising=False)
        mp.delenv("EVICTION_PREVENTION_WAREHOUSE_URL", raising=False)
        yield


def ingest(url: str, partner: str, paths: list[Path], received_at: str | None = None) -> None:
    args = ["ingest", partner, *map(str, paths), "--url", url]
    assert cli.main(args + (["--received-at", received_at] if received_at else [])) == 0


def publish(url: str, reference_date: str | None = None) -> None:
    assert cli.main(["publish", "--url", url] + (["--reference-date", reference_date] if reference_date else [])) == 0


# CASES world -------------------------------------------------------------------------------------------------
S = ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30"]
S1, S2, S3, S4, S5, S6 = S

TRIVIRE_ROWS: list[Listed] = [
    # rule 1: T0 is a property of the row. T1 never carries T0 at a corporation that delivers it for others.
    *episode("TRI-01", "P01", [S1, S2, S3], [300.0, 650.0, 900.0]),
    # T2: derived before the corporation delivers any T0; stays derived once it starts (T3 from S3).
    *episode("TRI-02", "P02", [S1, S2], 700.0),
    *episode("TRI-03", "P03", [S3, S4, S5, S6], 700.0, t0="2026-03-10"),
    # in arrears but never a month's rent: below the threshold (open, and closed).
    *episode("TRI-04", "P04", [S4, S5, S6], [200.0, 250.0, 300.0]),
    *episode("TRI-05", "P05", [S2], 100.0),
    # rule 2: a corrected T0 (from S3 on) updates the one case; a gap in S3 ends T7's episode.
    *episode("TRI-06", "P06", [S1], 1200.0, t0="2026-01-15"),
    *episode("TRI-06", "P06", [S2], 1200.0, t0="2026-01-15", reported="2026-02-20"),
    *episode("TRI-06", "P06", [S3, S4, S5, S6], 1200.0, t0="2026-01-05", reported="2026-02-20"),
    *episode("TRI-07", "P07", [S1, S2, S4, S5, S6], 700.0, t0="2026-01-10"),
    # rule 3: the report of the first episode is still carried by the rows of the second.
    *episode("TRI-08", "P08", [S1], 900.0, t0="2026-01-05"),
    *episode("TRI-08", "P08", [S2], 900.0, t0="2026-01-05", reported="2026-02-10"),
    *episode("TRI-08", "P08", [S4, S5, S6], 900.0, t0="2026-04-10", reported="2026-02-10"),
    # a report before T0 (same episode); an analysis dated before its report.
    *episode("TRI-09", "P09", [S1], 300.0),
    *episode("TRI-09", "P09", [S2, S3], 700.0, t0="2026-02-15", reported="2026-02-05"),
    *episode("TRI-10", "P10", [S2], 800.0, t0="2026-02-20"),
    *episode("TRI-10", "P10", [S3, S4, S5, S6], 800.0, t0="2026-02-20", reported="2026-03-10"),
    # rule 4: never reported by the corporation; the social team registered the report.
    *episode("TRI-11", "P11", [S2, S3, S4, S5, S6], 900.0, t0="2026-02-10"),
    *episode("TRI-12", "P12", [S3, S4, S5, S6], 900.0, t0="2026-03-15"),
    # rule 6: closed before the analysis was due (T13) / after its deadlines without them (T14).
    *episode("TRI-13", "P13", [S3, S4], 700.0, t0="2026-03-20"),
    *episode("TRI-14", "P14", [S2], 800.0, t0="2026-02-05"),
    *episode("TRI-14", "P14", [S3, S4], 800.0, t0="2026-02-05", reported="2026-03-10"),
    # rule 9: a judgment carried into a reopened episode.
    *episode("TRI-15", "P15", [S1], 1500.0, t0="2026-01-05"),
    *episode("TRI-15", "P15", [S2], 1500.0, t0="2026-01-05", judgment="2026-02-20"),
    *episode("TRI-15", "P15", [S4, S5, S6], 1500.0, t0="2026-04-05", judgment="2026-02-20"),
    # a judgment date corrected (01-20 -> 01-15) and carried into the reopened episode: still one judgment.
    *episode("TRI-16", "P22", [S1], 1500.0, t0="2026-01-05", judgment="2026-01-20"),
    *episode("TRI-16", "P22", [S2], 1500.0, t0="2026-01-05", judgment="2026-01-15"),
    *episode("TRI-16", "P22", [S4, S5, S6], 1500.0, t0="2026-04-05", judgment="2026-01-15"),
    # rule 6: evicted on 04-20 but still listed for the remaining debt: its deadlines end with the eviction.
    *episode("TRI-17", "P23", [S3], 1500.0, t0="2026-03-01"),
    *episode("TRI-17", "P23", [S4, S5, S6], 1500.0, t0="2026-03-01", judgment="2026-04-01", eviction="2026-04-20"),
    # rule 7: rent paid during a trajectory (started 2026-03-15: snapshots S3..S6).
    *episode("TRI-19", "P19", [S2, S3, S4, S5, S6], 1200.0, t0="2026-02-01", reported="2026-02-20"),
    *episode("TRI-20", "P20", [S2, S3, S4, S5, S6], [1200.0, 1300.0, 1400.0, 1500.0, 1600.0], t0="2026-02-01",
             reported="2026-02-20"),
    *episode("TRI-21", "P21", [S2, S3, S4, S5, S6], 1200.0, t0="2026-02-01", reported="2026-02-20"),
    *episode("TRI-22", "P24", [S2, S3, S4, S5, S6], 1200.0, t0="2026-02-01", reported="2026-02-20"),
]  # fmt: skip
# Alblasserdam: no eviction of families with children (config/municipalities.yaml).
TABLIS_ROWS: list[Listed] = [
    *episode("TAB-16", "P16", [S5, S6], 900.0, t0="2026-05-10", children=True),
    *episode("TAB-17", "P17", [S5, S6], 900.0, t0="2026-05-01", children=True, judgment="2026-05-20"),
    *episode("TAB-18", "P18", [S6], 900.0, t0="2026-06-01", children=False),
]
CASES_EXPORT = [
    StCase("ST-06", "P06", "trivire", "2026-02-20", "2026-03-02", "2026-02-25"),
    StCase("ST-08", "P08", "trivire", "2026-02-10", "2026-02-20", "2026-02-15"),
    StCase("ST-09", "P09", "trivire", "2026-02-05", "2026-02-12", "2026-02-10"),
    StCase("ST-10", "P10", "trivire", "2026-03-10", "2026-03-05", "2026-03-12"),
    StCase("ST-11", "P11", "Trivire", "2026-03-01", "2026-03-12", "2026-03-05"),  # the social team writes the name
    StCase("ST-12", "P12", None, "2026-05-20"),
    StCase("ST-13", "P13", "trivire", "2026-05-25"),
    StCase("ST-14", "P14", "trivire", "2026-03-10"),
    StCase("ST-19", "P19", "trivire", "2026-02-20", "2026-03-01", "2026-02-25", True, "2026-03-15", False),
    StCase("ST-20", "P20", "trivire", "2026-02-20", "2026-03-01", "2026-02-25", True, "2026-03-15", None),
    StCase("ST-21", "P21", "trivire", "2026-02-20", "2026-03-01", "2026-02-25", True, "2026-03-15", True),
    StCase("ST-22", "P24", "trivire", "2026-02-20", "2026-03-01", "2026-02-25", True, None, False),  # no start date
]


@pytest.fixture(scope="module", params=BACKENDS)
def cases_world(request, tmp_path_factory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"cases-{request.param}")
    with environment(tmp), warehouse_for(request.param, tmp) as url:
        trivire = [
            trivire_file(tmp / f"huurachterstand_{s}.csv", [r for r in TRIVIRE_ROWS if r.snapshot == s])
            for s in snapshots_of(TRIVIRE_ROWS)
        ]
        tablis = [
            tablis_file(tmp / f"Huurachterstanden_{s}.xlsx", [r for r in TABLIS_ROWS if r.snapshot == s])
            for s in snapshots_of(TABLIS_ROWS)
        ]
        ingest(url, "trivire", trivire)
        ingest(url, "tablis", tablis)
        ingest(url, "sociale_teams", [social_team_file(tmp / "casussen_2026-06-30.csv", S6, CASES_EXPORT)])
        publish(url)
        world = World(url)
        world.reload()
        yield world


# TERMS world -------------------------------------------------------------------------------------------------
N = ["2025-11-30", "2025-12-31", "2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]
N1, N2, N3, N4, N5, N6, N7 = N


def listed_from(first: str, ref: str, person: str, t0: str, reported: str | None = None, judgment=None, **kw):
    """A tenancy listed from ``first`` to the last snapshot; report and judgment appear once their date has come
    (the judgment from the snapshot ``judgment[1]``)."""
    rows = []
    for s in N[N.index(first) :]:
        shown_judgment = judgment[0] if judgment and D(judgment[1]) <= D(s) else None
        shown_report = reported if reported and D(reported) <= D(s) else None
        rows.append(Listed(ref, person, s, 900.0, t0=t0, reported=shown_report, judgment=shown_judgment, **kw))
    return rows


WOONBRON_ROWS: list[Listed] = [
    *listed_from(N1, "WB-31", "P31", "2025-11-10", "2025-12-22"),  # report on day 42, analysis on day 14
    *listed_from(N1, "WB-32", "P32", "2025-11-10", "2025-12-23"),  # day 43, day 15
    *listed_from(N1, "WB-33", "P33", "2025-11-01", "2025-12-23", ("2025-11-20", N1)),  # Christmas
    *listed_from(N1, "WB-34", "P34", "2025-11-20", "2025-12-29", ("2025-11-25", N1)),  # New Year
    *listed_from(N5, "WB-35", "P35", "2026-03-25", "2026-05-04", ("2026-04-15", N6)),  # 5 May (2026)
    *listed_from(N5, "WB-36", "P36", "2026-03-25", "2026-04-30", ("2026-04-10", N6)),  # 5 May (2026)
    *listed_from(N6, "WB-37", "P37", "2026-04-20", "2026-05-13", ("2026-04-25", N6)),  # Ascension + decree
    *listed_from(N2, "WB-38", "P38", "2025-12-20", "2026-02-02", ("2026-02-25", N4)),  # later judgment
    *listed_from(N3, "WB-39", "P39", "2026-01-20", "2026-02-20", ("2026-02-25", N4)),  # later judgment
    *listed_from(N3, "WB-40", "P40", "2026-01-20", "2026-02-10", ("2026-02-05", N4)),  # dated before, shown after
    *listed_from(N5, "WB-43", "P43", "2026-03-05", "2026-03-30"),  # 4 weeks end on King's Day (Mon 04-27)
    # a judgment first shown in an earlier episode (12-31), carried into the episode of the report (03-02)
    *[r for r in listed_from(N1, "WB-44", "P44", "2025-11-20", None, ("2025-12-15", N2)) if r.snapshot in (N1, N2)],
    *[r for r in listed_from(N5, "WB-44", "P44", "2026-02-20", "2026-03-02", ("2025-12-15", N1))],
]
TERMS_EXPORT = [
    StCase("ST-31", "P31", "woonbron", "2025-12-22", "2026-01-05", "2025-12-29"),
    StCase("ST-32", "P32", "woonbron", "2025-12-23", "2026-01-07", "2026-01-10"),
    StCase("ST-33", "P33", "woonbron", "2025-12-23", "2026-01-02", "2025-12-31"),
    StCase("ST-34", "P34", "woonbron", "2025-12-29", "2026-01-09", "2026-01-05"),
    StCase("ST-35", "P35", "woonbron", "2026-05-04", "2026-05-12", "2026-05-08"),
    StCase("ST-36", "P36", "woonbron", "2026-04-30", "2026-05-12", "2026-05-07"),
    StCase("ST-37", "P37", "woonbron", "2026-05-13", "2026-05-20", "2026-05-20"),
    StCase("ST-38", "P38", "woonbron", "2026-02-02", "2026-02-10", "2026-02-20"),
    StCase("ST-39", "P39", "woonbron", "2026-02-20", "2026-03-02", "2026-03-06"),
    StCase("ST-40", "P40", "woonbron", "2026-02-10", "2026-02-20", "2026-02-16"),
    StCase("ST-43", "P43", "woonbron", "2026-03-30", "2026-04-08", "2026-04-28"),
    StCase("ST-44", "P44", "woonbron", "2026-03-02", "2026-03-10", "2026-03-06"),
]


@pytest.fixture(scope="module", params=BACKENDS)
def terms_world(request, tmp_path_factory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"terms-{request.param}")
    with environment(tmp), warehouse_for(request.param, tmp) as url:
        files = [
            woonbron_file(tmp / f"arrears_{s}.csv", [r for r in WOONBRON_ROWS if r.snapshot == s])
            for s in snapshots_of(WOONBRON_ROWS)
        ]
        ingest(url, "woonbron", files)
        ingest(url, "sociale_teams", [social_team_file(tmp / "casussen_2026-05-31.csv", N7, TERMS_EXPORT)])
        publish(url)
        world = World(url)
        world.reload()
        yield world


# DELIVERIES world --------------------------------------------------------------------------------------------
# Trivire: monthly, due 10 days after the period (config/partners.yaml), tracked from 2026-05.
DELIVERIES = [  # snapshot, --received-at (naive = Dutch local time)
    ("2026-05-31", "2026-06-10T23:30"),  # CEST: 21:30 UTC on the due date: on time
    ("2026-06-30", "2026-07-11T00:30"),  # CEST: 22:30 UTC on the due date, but the 11th in the Netherlands: late
    ("2026-08-31", "2026-09-10T21:45:00Z"),  # 23:45 CEST on the due date: on time (July: never delivered)
    ("2026-09-30", "2026-10-10T23:30:00+02:00"),  # on time
    ("2026-10-31", "2026-11-11T00:30:00+01:00"),  # CET (after the DST change): 23:30 UTC on the due date: late
]
DELIVERY_REFERENCE = "2026-11-30"  # after every receipt: each one is known on the reference date
DELIVERY_ROWS: list[Listed] = [
    *episode("TRI-42", "P42", ["2026-05-31", "2026-06-30"], 900.0, t0="2026-05-10", reported="2026-05-20"),
    *episode("TRI-41", "P41", ["2026-08-31", "2026-09-30", "2026-10-31"], 900.0, t0="2026-08-01"),
]


@pytest.fixture(scope="module", params=BACKENDS)
def deliveries_world(request, tmp_path_factory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"deliveries-{request.param}")
    with environment(tmp), warehouse_for(request.param, tmp) as url:
        for snapshot, received in DELIVERIES:
            rows = [r for r in DELIVERY_ROWS if r.snapshot == snapshot]
            ingest(url, "trivire", [trivire_file(tmp / f"huurachterstand_{snapshot}.csv", rows)], received)
        publish(url, DELIVERY_REFERENCE)
        world = World(url)
        world.reload()
        yield world


def worklist(w: World, case: str) -> list[tuple]:
    return w.query(f"SELECT deadline, days_overdue FROM mart_worklist_overdue WHERE case_id = '{case}'")


def states(row: dict, *columns: str) -> tuple:
    return tuple(as_plain(row[c]) for c in columns)


def as_plain(value):
    if value is None or (not isinstance(value, str | bool) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# ------------------------------------------------------------------------------------------ rule 1


def test_rule1_t0_is_a_property_of_the_row(cases_world: World) -> None:
    w = cases_world
    # TRI-01: T0 never delivered at a corporation that delivers it: derived = first snapshot with arrears
    # >= 600 (2026-02-28); deadline 2026-02-28 + 42 = 2026-04-11; closed 2026-04-30 without a report.
    assert states(w.case("trivire", "TRI-01", S1), "t0_date", "t0_source", "report_deadline", "closed_date",
                  "report_state") == ("2026-02-28", "derived", "2026-04-11", "2026-04-30", "missed")  # fmt: skip
    # TRI-02: derived before the corporation delivered any T0, kept after it started (TRI-03 from 2026-03-31).
    assert states(w.case("trivire", "TRI-02", S1), "t0_date", "t0_source", "closed_date", "report_state") == (
        "2026-01-31", "derived", "2026-03-31", "missed"
    )  # fmt: skip
    assert states(w.case("trivire", "TRI-03", S3), "t0_date", "t0_source", "report_deadline", "report_state") == (
        "2026-03-10", "delivered", "2026-04-21", "open_overdue"
    )  # fmt: skip


def test_rule1_below_threshold_is_counted_not_lost(cases_world: World) -> None:
    w = cases_world
    for ref, first in (("TRI-04", S4), ("TRI-05", S2)):
        row = w.case("trivire", ref, first)
        assert states(row, "t0_date", "t0_source", "report_state", "analysis_state") == (
            None, "below_threshold", "not_applicable", "not_applicable"
        ), ref  # fmt: skip
    assert as_plain(w.case("trivire", "TRI-05", S2)["closed_date"]) == S3
    below = w.query(
        "SELECT CAST(month AS VARCHAR), sum(cases), sum(below_threshold) FROM mart_compliance_monthly "
        "WHERE corporation = 'trivire' AND below_threshold > 0 GROUP BY month ORDER BY month"
    )
    # 2026-02: TRI-05 below; cases with T0 in February: TRI-01 (derived 02-28), TRI-09, TRI-10, TRI-11, TRI-14,
    # TRI-19, TRI-20, TRI-21, TRI-22. 2026-04: TRI-04 below; T0 in April: the second episodes of TRI-08, TRI-15
    # and TRI-16.
    assert [(m, int(c), int(b)) for m, c, b in below] == [("2026-02-01", 9, 1), ("2026-04-01", 3, 1)]
    # every tenancy in arrears is a row of mart_referrals: 25 trivire episodes + 3 tablis
    assert w.query("SELECT corporation, count(*) FROM mart_referrals GROUP BY corporation ORDER BY 1") == [
        ("tablis", 3),
        ("trivire", 25),
    ]


# ------------------------------------------------------------------------------------------ rule 2


def test_rule2_corrected_t0_updates_the_case(cases_world: World) -> None:
    w = cases_world
    cases = [r for r in w.referrals.values() if r["case_id"].startswith(case_id("trivire", "TRI-06", "")[:-1])]
    assert len(cases) == 1  # one episode, one case: no phantom cleared case
    # T0 corrected from 2026-01-15 to 2026-01-05: deadline 2026-02-16; reported 2026-02-20 = day 46: late.
    assert states(cases[0], "case_id", "t0_date", "t0_corrected_from", "t0_source", "report_deadline",
                  "report_state", "days_to_report", "closed_date") == (
        case_id("trivire", "TRI-06", S1), "2026-01-05", "2026-01-15", "delivered", "2026-02-16", "missed", 46, None
    )  # fmt: skip
    # the analysis (2026-03-02, 10 days after the report) and first conversation (02-25) stay on the case
    assert states(cases[0], "analysis_state", "days_to_analysis", "first_contact_state") == ("met", 10, "met")


def test_rule2_gap_in_a_delivered_snapshot_starts_a_new_case(cases_world: World) -> None:
    w = cases_world
    first, second = w.case("trivire", "TRI-07", S1), w.case("trivire", "TRI-07", S4)
    # T0 2026-01-10 in both: deadline 2026-02-21. First closed 2026-03-31 (missing from that snapshot).
    assert states(first, "t0_date", "closed_date", "close_reason", "report_state") == (
        "2026-01-10", "2026-03-31", "cleared", "missed"
    )  # fmt: skip
    assert states(second, "previous_case_id", "t0_date", "report_deadline", "report_state", "closed_date") == (
        first["case_id"], "2026-01-10", "2026-02-21", "open_overdue", None
    )  # fmt: skip
    # 2026-02-21 .. 2026-06-30 = 129 days
    assert worklist(w, second["case_id"]) == [("report", 129)]


# ------------------------------------------------------------------------------------------ rule 3


def test_rule3_a_report_belongs_to_the_episode_it_was_made_in(cases_world: World) -> None:
    w = cases_world
    first, second = w.case("trivire", "TRI-08", S1), w.case("trivire", "TRI-08", S4)
    # first episode: T0 01-05, reported 02-10 (day 36), analysis 02-20 (10 days), closed 03-31
    assert states(first, "reported_date", "report_state", "days_to_report", "analysis_state", "closed_date") == (
        "2026-02-10", "met", 36, "met", "2026-03-31"
    )  # fmt: skip
    assert first["social_team_case_id"] is not None
    # second episode: its rows still carry 2026-02-10, on or before the first case's closing date: not its report
    assert states(second, "reported_date", "report_source", "report_state", "analysis_state",
                  "social_team_case_id") == (None, None, "open_overdue", "not_applicable", None)  # fmt: skip
    # T0 2026-04-10: deadline 05-22, 39 days overdue on 06-30; the social team is not on the worklist again
    assert worklist(w, second["case_id"]) == [("report", 39)]


def test_rule3_report_before_t0_and_analysis_before_report(cases_world: World) -> None:
    w = cases_world
    # reported 2026-02-05, T0 2026-02-15: on time with 0 days
    assert states(w.case("trivire", "TRI-09", S1), "report_state", "days_to_report", "report_source") == (
        "met", 0, "corporation"
    )  # fmt: skip
    # analysis 2026-03-05 before the report of 2026-03-10: a data issue, no negative days
    assert states(w.case("trivire", "TRI-10", S2), "analysis_state", "days_to_analysis", "data_quality") == (
        "met", None, "analysis_before_report"
    )  # fmt: skip
    # February's Dordrecht analyses: TRI-09 7 days, TRI-11 11, TRI-19/20/21/22 9 each (TRI-10 left out): median 9;
    # with TRI-10's -5 days it would still be 9, so check the count of days instead of trusting the median.
    days = w.query(
        "SELECT days_to_analysis FROM mart_referrals WHERE corporation = 'trivire' AND t0_month = DATE '2026-02-01' "
        "AND days_to_analysis IS NOT NULL ORDER BY days_to_analysis"
    )
    assert [int(d[0]) for d in days] == [7, 9, 9, 9, 9, 11]
    median = w.query(
        "SELECT median_days_to_analysis, data_quality_issues FROM mart_compliance_monthly "
        "WHERE corporation = 'trivire' AND month = DATE '2026-02-01'"
    )
    assert [(float(m), int(q)) for m, q in median] == [(9.0, 2)]  # TRI-10 and TRI-19 (rule 7) flagged


# ------------------------------------------------------------------------------------------ rule 4


def test_rule4_the_social_teams_registration_counts(cases_world: World) -> None:
    w = cases_world
    # TRI-11: T0 02-10, deadline 03-24; the social team received the report from Trivire on 03-01 (day 19)
    assert states(w.case("trivire", "TRI-11", S2), "reported_date", "report_source", "report_state",
                  "days_to_report", "analysis_state", "days_to_analysis") == (
        "2026-03-01", "social_team", "met", 19, "met", 11
    )  # fmt: skip
    # TRI-12: T0 03-15, deadline 04-26; a self-registration on 05-20 (day 66): late. Analysis due 06-03 and
    # first conversation due 06-17 are overdue on 06-30 (27 and 13 days): the social team's worklist.
    row = w.case("trivire", "TRI-12", S3)
    assert states(row, "reported_date", "report_source", "report_state", "days_to_report", "analysis_deadline",
                  "analysis_state", "first_contact_deadline", "first_contact_state") == (
        "2026-05-20", "social_team", "missed", 66, "2026-06-03", "open_overdue", "2026-06-17", "open_overdue"
    )  # fmt: skip
    worklist = w.query(
        "SELECT deadline, responsible_kind, responsible_partner, days_overdue FROM mart_worklist_overdue "
        f"WHERE case_id = '{row['case_id']}' ORDER BY deadline"
    )
    assert worklist == [
        ("analysis", "social_team", "Sociaal Wijkteam Dordrecht", 27),
        ("first_contact", "social_team", "Sociaal Wijkteam Dordrecht", 13),
    ]


# ------------------------------------------------------------------------------------------ rule 6


def test_rule6_a_closed_case_closes_its_pending_deadlines(cases_world: World) -> None:
    w = cases_world
    # TRI-13: closed 05-31; reported (social team) 05-25: analysis due 06-08, conversation due 06-22: not required
    assert states(w.case("trivire", "TRI-13", S3), "closed_date", "report_state", "analysis_state",
                  "first_contact_state") == ("2026-05-31", "missed", "not_required", "not_required")  # fmt: skip
    # TRI-14: reported 03-10, analysis due 03-24, conversation due 04-07, closed 05-31 without either: missed
    assert states(w.case("trivire", "TRI-14", S2), "closed_date", "report_state", "analysis_state",
                  "first_contact_state") == ("2026-05-31", "met", "missed", "missed")  # fmt: skip
    # TRI-17: T0 03-01, report due 04-12; evicted 04-20 while still listed: not closed, but no longer overdue
    evicted = w.case("trivire", "TRI-17", S3)
    assert states(evicted, "closed_date", "evicted", "report_state") == (None, True, "missed")
    assert worklist(w, evicted["case_id"]) == []
    closed_open = [
        r["case_id"]
        for r in w.referrals.values()
        if r["closed_date"] is not None
        and any(
            r[c] in ("open_overdue", "open_in_time") for c in ("report_state", "analysis_state", "first_contact_state")
        )
    ]
    assert closed_open == []  # fmt: skip


def test_rule6_compliance_and_worklist_agree_cases(cases_world: World) -> None:
    # report: TRI-03, the second episodes of TRI-07, TRI-08, TRI-15 and TRI-16, TAB-16, TAB-17; analysis and first
    # conversation: TRI-12
    assert_compliance_equals_worklist(cases_world, 9)


def test_rule6_compliance_and_worklist_agree_terms(terms_world: World) -> None:
    assert_compliance_equals_worklist(terms_world, 0)  # every deadline of this world is met or missed


def test_rule6_compliance_and_worklist_agree_deliveries(deliveries_world: World) -> None:
    assert_compliance_equals_worklist(deliveries_world, 1)  # TRI-41's report


def assert_compliance_equals_worklist(w: World, rows: int) -> None:
    """Join the worklist to its cases and count per compliance group: the overdue-now counts are equal."""
    from_worklist = w.query(
        "SELECT r.corporation, r.municipality, r.team, COALESCE(r.t0_month, CAST(date_trunc('month', r.first_seen) "
        "AS DATE)) AS month, o.deadline, count(*) FROM mart_worklist_overdue AS o "
        "JOIN mart_referrals AS r ON r.case_id = o.case_id GROUP BY 1, 2, 3, 4, 5"
    )
    counts = {tuple(map(as_plain, row[:5])): int(row[5]) for row in from_worklist}
    compliance = w.query(
        "SELECT corporation, municipality, team, month, report_overdue_now, analysis_overdue_now, "
        "first_contact_overdue_now FROM mart_compliance_monthly"
    )
    from_compliance = {}
    for row in compliance:
        for deadline, n in zip(("report", "analysis", "first_contact"), row[4:], strict=True):
            if int(n):
                from_compliance[(*map(as_plain, row[:4]), deadline)] = int(n)
    assert from_compliance == counts
    assert sum(counts.values()) == len(w.query("SELECT case_id FROM mart_worklist_overdue")) == rows


# ------------------------------------------------------------------------------------------ rule 7


def test_rule7_rent_paid_uses_the_social_teams_answer(cases_world: World) -> None:
    w = cases_world
    columns = ("rent_paid_state", "rent_paid_source", "rent_paid_trend_state", "rent_paid_sources_disagree")
    # arrears flat during the trajectory, but the social team says the current rent is not paid
    assert states(w.case("trivire", "TRI-19", S2), *columns) == ("missed", "social_team", "met", True)
    assert w.case("trivire", "TRI-19", S2)["data_quality"] == "rent_paid_sources_disagree"
    # no answer from the social team: the arrears grew (1300 -> 1400 after the start of 2026-03-15)
    assert states(w.case("trivire", "TRI-20", S2), *columns) == ("missed", "arrears_trend", "missed", False)
    # both say paid
    assert states(w.case("trivire", "TRI-21", S2), *columns) == ("met", "social_team", "met", False)
    # a trajectory without a start date: no trend to read, the social team's answer still counts
    assert states(w.case("trivire", "TRI-22", S2), *columns) == ("missed", "social_team", None, False)
    monthly = w.query(
        "SELECT sum(trajectories), sum(trajectories_rent_paid), sum(trajectories_rent_not_paid) "
        "FROM mart_compliance_monthly WHERE corporation = 'trivire'"
    )
    assert [tuple(int(v) for v in r) for r in monthly] == [(4, 1, 3)]


# ------------------------------------------------------------------------------------------ rule 9


def test_rule9_evictions_per_event_and_policy_flags_per_case(cases_world: World) -> None:
    w = cases_world
    rows = w.query(
        "SELECT municipality, corporation, year, eviction_judgments, evictions_executed, judgments_with_children, "
        "policy_flags_children FROM mart_evictions ORDER BY municipality, corporation, year"
    )
    assert [tuple(as_plain(v) for v in r) for r in rows] == [
        ("Alblasserdam", "tablis", 2026, 1, 0, 1, 2),  # TAB-17's judgment; TAB-16 and TAB-17 flagged
        # TRI-15: one judgment carried by two cases; TRI-16: one judgment, corrected and carried; TRI-17: judged
        # and evicted
        ("Dordrecht", "trivire", 2026, 3, 1, 0, 0),
    ]
    monthly = w.query("SELECT sum(evictions) FROM mart_compliance_monthly WHERE corporation = 'trivire'")
    assert [int(r[0]) for r in monthly] == [1]
    flags = {
        r["case_id"]: r["policy_flag_children_eviction"] for r in w.referrals.values() if r["corporation"] == "tablis"
    }
    assert sorted(bool(v) for v in flags.values()) == [False, True, True]


# ------------------------------------------------------------------------------------------ rules 5 and 8


def test_report_and_analysis_boundaries(terms_world: World) -> None:
    w = terms_world
    # T0 2025-11-10: day 42 = 2025-12-22, day 43 = 12-23; analysis day 14 = 2026-01-05, day 15 = 01-06
    assert states(w.case("woonbron", "WB-31", N1), "report_deadline", "report_state", "days_to_report",
                  "analysis_deadline", "analysis_state", "days_to_analysis") == (
        "2025-12-22", "met", 42, "2026-01-05", "met", 14
    )  # fmt: skip
    assert states(w.case("woonbron", "WB-32", N1), "report_state", "days_to_report", "analysis_state",
                  "days_to_analysis") == ("missed", 43, "missed", 15)  # fmt: skip


def test_rule5_rule8_three_working_days_across_christmas_and_new_year(terms_world: World) -> None:
    w = terms_world
    # Judgment shown 2025-11-30, before the report: 3 working days. Tue 12-23 -> Wed 24 (1), Christmas and
    # Boxing Day, weekend, Mon 29 (2), Tue 30 (3). The conversation on 12-31 is late.
    assert states(w.case("woonbron", "WB-33", N1), "threatened_at_report", "first_contact_deadline",
                  "first_contact_state") == (True, "2025-12-30", "missed")  # fmt: skip
    # Mon 12-29 -> Tue 30 (1), Wed 31 (2), New Year's Day, Fri 2 January (equated by decree), weekend,
    # Mon 2026-01-05 (3): the conversation on 01-05 is on time (the holidays package would say 01-02).
    assert states(w.case("woonbron", "WB-34", N1), "threatened_at_report", "first_contact_deadline",
                  "first_contact_state") == (True, "2026-01-05", "met")  # fmt: skip


def test_rule8_fifth_of_may_every_year_and_decree_days(terms_world: World) -> None:
    w = terms_world
    # 2026 is no lustrum year, 5 May is still no working day (Atw art. 3.1). Mon 05-04 -> Tue 5 May, Wed 6 (1),
    # Thu 7 (2), Fri 8 (3).
    assert states(w.case("woonbron", "WB-35", N5), "first_contact_deadline", "first_contact_state") == (
        "2026-05-08", "met"
    )  # fmt: skip
    # Thu 04-30 -> Fri 5/1 (1), Mon 5/4 (2), Tue 5 May, Wed 5/6 (3): 05-07 is late.
    assert states(w.case("woonbron", "WB-36", N5), "threatened_at_report", "first_contact_deadline",
                  "first_contact_state") == (True, "2026-05-06", "missed")  # fmt: skip
    # Wed 05-13 -> Ascension Day (Thu 14), Fri 15 equated by decree, weekend, Mon 18 (1), Tue 19 (2), Wed 20 (3)
    assert states(w.case("woonbron", "WB-37", N6), "first_contact_deadline", "first_contact_state") == (
        "2026-05-20", "met"
    )  # fmt: skip
    # The 4 weeks of the Wgs are a statutory term: report Mon 03-30 + 28 days = Mon 04-27, King's Day; the
    # term runs to Tue 04-28 (Atw art. 1), so the conversation that day is on time.
    assert states(w.case("woonbron", "WB-43", N5), "first_contact_deadline", "first_contact_state") == (
        "2026-04-28", "met"
    )  # fmt: skip


def test_rule5_a_later_judgment_starts_its_own_clock(terms_world: World) -> None:
    w = terms_world
    # Judgment first shown 2026-02-28 (Sat), after the report of 02-02: 3 working days after 02-28 is Wed 03-04;
    # the 28-day deadline 03-02 comes first. The conversation of 02-20 stays on time.
    assert states(w.case("woonbron", "WB-38", N2), "threatened_at_report", "threat_known_date",
                  "first_contact_deadline", "first_contact_state") == (
        False, "2026-02-28", "2026-03-02", "met"
    )  # fmt: skip
    # Report 02-20, nothing by the time the judgment shows (02-28): due 03-04 (not 03-20); 03-06 is late.
    assert states(w.case("woonbron", "WB-39", N3), "first_contact_deadline", "first_contact_state") == (
        "2026-03-04", "missed"
    )  # fmt: skip
    # A judgment dated 02-05 but first shown on 02-28 was not known at the report of 02-10: the conversation
    # of 02-16 (4 working days) is on time; due the earlier of 03-10 and 03-04.
    assert states(w.case("woonbron", "WB-40", N3), "threatened_at_report", "first_contact_deadline",
                  "first_contact_state") == (False, "2026-03-04", "met")  # fmt: skip
    # A judgment first shown on 2025-12-31 in an earlier episode and carried into this one: known before the
    # report of Mon 03-02, so 3 working days (Thu 03-05); the conversation of 03-06 is late.
    assert states(w.case("woonbron", "WB-44", N5), "threatened_at_report", "threat_known_date",
                  "first_contact_deadline", "first_contact_state") == (
        True, "2025-12-31", "2026-03-05", "missed"
    )  # fmt: skip


def test_rule8_rule_set_is_the_algemene_termijnenwet() -> None:
    rules = statutory_calendar.load_rules()
    assert rules.name.startswith("Algemene termijnenwet")
    years = range(rules.first_year, rules.last_year + 1)
    dutch = holidays.country_holidays("NL", years=list(years))
    # article 3.1 and 3.2, independently: the holidays package's days that are not Sundays, plus 5 May of every
    # year (the package has it only in lustrum years); then the decree days (article 3.3) as published.
    expected = {d for d in dutch if d.weekday() != 6} | {dt.date(y, 5, 5) for y in years}
    decreed = {
        dt.date(2023, 4, 28), dt.date(2023, 5, 19), dt.date(2024, 5, 10), dt.date(2024, 12, 27),
        dt.date(2025, 5, 30), dt.date(2026, 1, 2), dt.date(2026, 5, 15), dt.date(2027, 5, 7),
        dt.date(2028, 4, 28), dt.date(2028, 5, 26),
    }  # fmt: skip
    assert decreed <= set(rules.days)
    weekdays = {d for d in rules.days if d.year >= 2023 and d.weekday() != 6}  # a Sunday is no working day anyway
    assert weekdays == {d for d in expected | decreed if d.year >= 2023 and d.weekday() != 6}
    calendar = statutory_calendar.working_day_calendar(rules)
    working = dict(zip(calendar["calendar_date"], calendar["is_working_day"], strict=True))
    assert not working[dt.date(2026, 5, 5)] and not working[dt.date(2030, 5, 5)] and not working[dt.date(2026, 1, 2)]
    assert working[dt.date(2026, 5, 4)] and working[dt.date(2027, 4, 26)]  # Monday before: not decreed


# ------------------------------------------------------------------------------------------ rules 10 and 11


def delivery_rows(w: World) -> list[tuple]:
    rows = w.query(
        "SELECT CAST(period_start AS VARCHAR), CAST(delivered_on AS VARCHAR), status, days_late, "
        "CAST(checked_on AS VARCHAR) FROM mart_delivery_compliance WHERE partner = 'trivire' ORDER BY period_start"
    )
    return [tuple(as_plain(v) for v in r) for r in rows]


def test_rule10_deliveries_are_judged_by_dutch_local_time(deliveries_world: World) -> None:
    # due: the 10th of the next month; reference date 2026-11-30
    assert delivery_rows(deliveries_world) == [
        ("2026-05-01", "2026-06-10", "on_time", 0, "2026-11-30"),  # 23:30 CEST on the due date
        ("2026-06-01", "2026-07-11", "late", 1, "2026-11-30"),  # 00:30 CEST the day after (22:30 UTC on the 10th)
        ("2026-07-01", None, "missed", 112, "2026-11-30"),  # due 08-10 .. 11-30
        ("2026-08-01", "2026-09-10", "on_time", 0, "2026-11-30"),  # 21:45 UTC = 23:45 CEST on the due date
        ("2026-09-01", "2026-10-10", "on_time", 0, "2026-11-30"),
        ("2026-10-01", "2026-11-11", "late", 1, "2026-11-30"),  # 00:30 CET after the DST change (23:30 UTC)
        ("2026-11-01", None, "open", 0, "2026-11-30"),  # due 12-10
    ]


def test_rule11_one_reference_date_for_every_state(deliveries_world: World) -> None:
    w = deliveries_world
    # TRI-41: T0 08-01, report due 09-12. As of 2026-11-30: 79 days overdue.
    assert states(w.case("trivire", "TRI-41", "2026-08-31"), "reference_date", "report_state") == (
        "2026-11-30", "open_overdue"
    )  # fmt: skip
    assert w.query("SELECT deadline, days_overdue FROM mart_worklist_overdue") == [("report", 79)]
    try:
        publish(w.url)  # the default: the latest snapshot, 2026-10-31
        w.reload()
        assert states(w.case("trivire", "TRI-41", "2026-08-31"), "reference_date", "report_state") == (
            "2026-10-31", "open_overdue"
        )  # fmt: skip
        assert w.query("SELECT deadline, days_overdue FROM mart_worklist_overdue") == [("report", 49)]
        # the October file arrived on 11-11, after the reference date: as of 10-31 nothing is known of it
        assert delivery_rows(w)[-2:] == [
            ("2026-09-01", "2026-10-10", "on_time", 0, "2026-10-31"),
            ("2026-10-01", None, "open", 0, "2026-10-31"),
        ]
        publish(w.url, "2026-09-05")
        w.reload()
        assert states(w.case("trivire", "TRI-41", "2026-08-31"), "reference_date", "report_state") == (
            "2026-09-05", "open_in_time"
        )  # fmt: skip
        assert w.query("SELECT count(*) FROM mart_worklist_overdue") == [(0,)]
        assert delivery_rows(w) == [
            ("2026-05-01", "2026-06-10", "on_time", 0, "2026-09-05"),
            ("2026-06-01", "2026-07-11", "late", 1, "2026-09-05"),
            ("2026-07-01", None, "missed", 26, "2026-09-05"),  # 08-10 .. 09-05
            ("2026-08-01", None, "open", 0, "2026-09-05"),  # received 09-10, after the reference date
            ("2026-09-01", None, "open", 0, "2026-09-05"),
        ]
        # snapshots after the reference date are not read: the September and October ones are not there
        assert as_plain(w.case("trivire", "TRI-41", "2026-08-31")["last_seen"]) == "2026-08-31"
    finally:
        publish(w.url, DELIVERY_REFERENCE)
        w.reload()


def test_rule10_over_sftp_the_upload_time_counts_not_the_poll(
    tmp_path: Path, partner_sftp, warehouse_url: str, key: bytes
) -> None:
    """The intake polls hourly on weekdays: a file uploaded on Friday 2026-07-10 at 23:30 (its due date) is
    downloaded on Monday, but the server's record of the upload (the file's time) is what counts."""
    rows = [Listed("TRI-42", "P42", "2026-06-30", 900.0, t0="2026-05-10")]
    path = trivire_file(tmp_path / "huurachterstand_2026-06-30.csv", rows)
    uploaded = dt.datetime(2026, 7, 10, 23, 30, tzinfo=AMSTERDAM).timestamp()
    partner_sftp.upload("trivire", path, mtime=uploaded)
    with partner_sftp.client("trivire") as client:
        outcomes = run_intake("trivire", client, warehouse_url, key, on=dt.date(2026, 7, 13))
    assert [o["status"] for o in outcomes] == ["loaded"]
    publish(warehouse_url, "2026-07-31")
    with warehouse.connect(warehouse_url) as conn:
        rows_ = conn.execute(
            sa.text(
                "SELECT CAST(delivered_on AS VARCHAR), status FROM mart_delivery_compliance "
                "WHERE partner = 'trivire' AND period_start = DATE '2026-06-01'"
            )
        ).all()
    assert [tuple(r) for r in rows_] == [("2026-07-10", "on_time")]


def test_ingest_writes_the_receipt_next_to_the_file_and_keeps_personal_data_out(
    tmp_path: Path, duckdb_url: str
) -> None:
    rows = [Listed("TRI-42", "P42", "2026-05-31", 900.0, t0="2026-05-10")]
    path = trivire_file(tmp_path / "huurachterstand_2026-05-31.csv", rows)
    ingest(duckdb_url, "trivire", [path], "2026-06-01T09:00")
    receipts = sorted(tmp_path.glob("huurachterstand_2026-05-31.csv.*.ontvangstbevestiging.txt"))
    assert len(receipts) == 1
    text = receipts[0].read_text(encoding="utf-8")
    assert "Resultaat: GEACCEPTEERD" in text and "Regels verwerkt: 1" in text
    assert "Ouwehand" not in text and "TRI-42" not in text
    ingest(duckdb_url, "trivire", [path])  # the same bytes again: recognised, not loaded twice
    with warehouse.connect(duckdb_url) as conn:
        ledger = conn.execute(sa.text("SELECT status, CAST(received_on AS VARCHAR) FROM meta_file_ledger")).all()
    assert [tuple(r) for r in ledger] == [("loaded", "2026-06-01")]


def test_ingest_never_shows_a_mailed_files_own_name(
    tmp_path: Path, duckdb_url: str, capsys: pytest.CaptureFixture
) -> None:
    rows = [Listed("TRI-42", "P42", "2026-05-31", 900.0, t0="2026-05-10")]
    path = trivire_file(tmp_path / "achterstand N.O. Ouwehand mei.csv", rows)  # as a partner mailed it
    ingest(duckdb_url, "trivire", [path], "2026-06-01T09:00")
    printed = capsys.readouterr().out
    assert "Ouwehand" not in printed and "trivire_" in printed
    receipts = [p.name for p in tmp_path.glob("*.ontvangstbevestiging.txt")]
    assert len(receipts) == 1 and receipts[0].startswith("trivire_") and "Ouwehand" not in receipts[0]
    assert "Ontvangen: 01-06-2026 09:00 (Nederlandse tijd)" in (tmp_path / receipts[0]).read_text(encoding="utf-8")
    with warehouse.connect(duckdb_url) as conn:
        names = conn.execute(sa.text("SELECT file_name FROM meta_file_ledger")).scalars().all()
    assert len(names) == 1 and names[0].startswith("trivire_") and "Ouwehand" not in names[0]
