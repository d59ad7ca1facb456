"""The dashboard's figures: counts per covenant term, area, partner and month, from the marts.

Pure functions over the mart frames (no warehouse, no HTML), so each figure can be checked by hand.

A rate counts only **decided** cases: met (the event on time) + missed (late, or the case ended after the
term without it) + overdue now (the term has passed without the event; it can only end missed). Cases whose
term still runs are **open**: shown beside the rate, never in it, so 5 met out of 45 cases of which 40 are
still open reads "100% (5 van 5), 40 open", marked provisional, not a green 100%.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

REGION = "Drechtsteden"
MONTHS = 12  # the period the dashboard shows: the 12 months of T0 up to the reference date's month


@dataclass(frozen=True)
class Term:
    """A covenant term and the mart_compliance_monthly columns that count its cases per state."""

    key: str
    title: str  # Dutch, short
    rule: str  # Dutch, one line: what must happen by when
    responsible: str  # corporation | social_team
    met: str
    missed: str
    overdue: str | None
    open: str


TERMS: tuple[Term, ...] = (
    Term(
        "report",
        "Melding",
        "De corporatie meldt de huurder binnen 6 weken (42 dagen) na T0 bij het sociaal team.",
        "corporation",
        "reported_on_time",
        "reported_late",
        "report_overdue_now",
        "report_open_in_time",
    ),
    Term(
        "analysis",
        "Terugkoppeling analyse",
        "Het sociaal team koppelt binnen 2 weken (14 dagen) na de melding een analyse terug aan de corporatie.",
        "social_team",
        "analysed_on_time",
        "analysed_late",
        "analysis_overdue_now",
        "analysis_open_in_time",
    ),
    Term(
        "first_contact",
        "Eerste gesprek",
        "Het sociaal team biedt binnen 4 weken na de melding een eerste gesprek aan; binnen 3 werkdagen als "
        "een huisuitzetting dreigt (vonnis of ontruimingsdatum bekend). Wet gemeentelijke schuldhulpverlening.",
        "social_team",
        "first_contact_on_time",
        "first_contact_late",
        "first_contact_overdue_now",
        "first_contact_open_in_time",
    ),
    Term(
        "rent_paid",
        "Huur betaald in zorgtraject",
        "Tijdens een zorgtraject betaalt de huurder de lopende huur (volgens het sociaal team, anders: de "
        "achterstand groeit niet meer).",
        "social_team",
        "trajectories_rent_paid",
        "trajectories_rent_not_paid",
        None,
        "trajectories_rent_open",
    ),
)
TERM_BY_KEY = {term.key: term for term in TERMS}


@dataclass(frozen=True)
class Tally:
    """Cases of one term by state. decided = met + missed + overdue; open: the term still runs."""

    met: int
    missed: int
    overdue: int
    open: int

    @property
    def decided(self) -> int:
        return self.met + self.missed + self.overdue

    @property
    def rate(self) -> float | None:
        """Percentage met of the decided cases, one decimal; None when nothing is decided."""
        return round(100.0 * self.met / self.decided, 1) if self.decided else None

    @property
    def provisional(self) -> bool:
        """More cases still open than decided: the rate may still move a lot."""
        return self.open > self.decided


def tally(frame: pd.DataFrame, term: Term) -> Tally:
    def total(column: str | None) -> int:
        return int(frame[column].sum()) if column and len(frame) else 0

    return Tally(total(term.met), total(term.missed), total(term.overdue), total(term.open))


def period_months(reference: dt.date, months: int = MONTHS) -> list[dt.date]:
    """The first days of the ``months`` months up to and including the reference date's month, oldest first."""
    first = reference.replace(day=1)
    out = []
    for back in range(months - 1, -1, -1):
        year, month = divmod(first.year * 12 + first.month - 1 - back, 12)
        out.append(dt.date(year, month + 1, 1))
    return out


def in_period(monthly: pd.DataFrame, months: list[dt.date]) -> pd.DataFrame:
    """The rows of mart_compliance_monthly whose month is in the period, the month as a date."""
    month = pd.to_datetime(monthly["month"]).dt.date
    return monthly.assign(month=month)[month.isin(set(months))]


def areas(municipalities: Iterable[str]) -> list[str]:
    """The region first, then every municipality."""
    return [REGION, *sorted(municipalities)]


def of_area(monthly: pd.DataFrame, area: str) -> pd.DataFrame:
    return monthly if area == REGION else monthly[monthly["municipality"] == area]


def term_tallies(monthly: pd.DataFrame) -> dict[str, Tally]:
    return {term.key: tally(monthly, term) for term in TERMS}


def trend(period: pd.DataFrame, term: Term, months: list[dt.date]) -> list[tuple[dt.date, Tally]]:
    """One tally per month of the period (``in_period``'s rows; months without cases: all zero)."""
    return [(m, tally(period[period["month"] == m], term)) for m in months]


def case_counts(monthly: pd.DataFrame) -> dict[str, int]:
    """Cases with a T0, episodes below the threshold, trajectories and evictions in the frame."""
    columns = ("cases", "below_threshold", "trajectories", "evictions")
    return {c: int(monthly[c].sum()) if len(monthly) else 0 for c in columns}


def by_partner(monthly: pd.DataFrame, column: str, terms: Iterable[Term]) -> dict[str, dict[str, Tally]]:
    """Per corporation (``column`` 'corporation') or social team ('team'): the given terms' tallies."""
    frame = monthly.dropna(subset=[column])
    return {
        str(partner): {term.key: tally(rows, term) for term in terms}
        for partner, rows in sorted(frame.groupby(column), key=lambda item: str(item[0]))
    }


@dataclass(frozen=True)
class Delivery:
    """A partner's delivery periods in the dashboard's period by status."""

    on_time: int
    late: int
    missed: int
    open: int
    last_delivered: dt.date | None

    @property
    def tally(self) -> Tally:
        """As a term's cases: on time is met, late or missed is decided, not yet due is open."""
        return Tally(self.on_time, self.late + self.missed, 0, self.open)

    @property
    def rate(self) -> float | None:
        """Percentage on time of the periods already due."""
        return self.tally.rate


def deliveries(delivery: pd.DataFrame, months: list[dt.date]) -> dict[str, Delivery]:
    """Per partner: mart_delivery_compliance's periods that start in the dashboard's period, by status."""
    start = pd.to_datetime(delivery["period_start"]).dt.date
    frame = delivery[start >= months[0]]
    out = {}
    for partner, rows in sorted(frame.groupby("partner"), key=lambda item: str(item[0])):
        status = rows["status"].value_counts()
        delivered = pd.to_datetime(rows["delivered_on"]).dropna()
        out[str(partner)] = Delivery(
            int(status.get("on_time", 0)),
            int(status.get("late", 0)),
            int(status.get("missed", 0)),
            int(status.get("open", 0)),
            delivered.max().date() if len(delivered) else None,
        )
    return out


EVICTION_COUNTS = (
    "eviction_judgments",
    "evictions_executed",
    "judgments_with_children",
    "evictions_with_children",
    "policy_flags_children",
)


def evictions_per_year(evictions: pd.DataFrame) -> pd.DataFrame:
    """Per year (newest first) and municipality: mart_evictions summed over the corporations."""
    if evictions.empty:
        return pd.DataFrame(columns=["year", "municipality", *EVICTION_COUNTS])
    frame = evictions.groupby(["year", "municipality"], as_index=False)[list(EVICTION_COUNTS)].sum()
    frame = frame.astype({c: int for c in (*EVICTION_COUNTS, "year")})
    return frame.sort_values(["year", "municipality"], ascending=[False, True], ignore_index=True)
