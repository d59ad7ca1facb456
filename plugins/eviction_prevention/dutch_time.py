"""Time as the pipeline keeps it: now as naive UTC (``utcnow``, ``today``), Dutch local time (Europe/Amsterdam,
DST included) for delivery deadlines, and dates written in Dutch.

The warehouse stores moments as naive UTC timestamps; a delivery deadline is a Dutch calendar date, so a
moment is judged by its local date: 23:30 on the due date is on time, 00:30 the next day is late.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
DATE_FORMAT = "%d-%m-%Y"  # how a date is written for a partner: 31-12-2026


def utcnow() -> dt.datetime:
    """Now, as the warehouse stores moments: naive UTC."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def today() -> dt.date:
    """Today's date in UTC."""
    return dt.datetime.now(dt.UTC).date()


def dutch_date(day: dt.date) -> str:
    """A date as a partner reads it: ``31-12-2026``."""
    return day.strftime(DATE_FORMAT)


def local_date(utc: dt.datetime) -> dt.date:
    """The Dutch calendar date of a moment given as naive UTC (or timezone-aware)."""
    aware = utc if utc.tzinfo is not None else utc.replace(tzinfo=dt.UTC)
    return aware.astimezone(AMSTERDAM).date()


def parse_moment(text: str) -> dt.datetime:
    """An ISO-8601 moment as naive UTC. Without an offset it is Dutch local time (what an operator means)."""
    moment = dt.datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=AMSTERDAM)
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


MONTH_NAMES = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)
MONTH_ABBREVIATIONS = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


def long_date(day: dt.date) -> str:
    """A date as Dutch prose: ``2 november 2026``."""
    return f"{day.day} {MONTH_NAMES[day.month - 1]} {day.year}"


def short_month(day: dt.date) -> str:
    """A month as a chart label: ``nov '26``."""
    return f"{MONTH_ABBREVIATIONS[day.month - 1]} '{day.year % 100:02d}"


def month_year(day: dt.date) -> str:
    """A month in prose: ``november 2026``."""
    return f"{MONTH_NAMES[day.month - 1]} {day.year}"
