"""Working days for statutory terms: the Algemene termijnenwet (Atw), article 3.

The rule set is data: ``config/algemene_termijnenwet.yaml`` lists every day of article 3.1 (public holidays,
5 May every year) and 3.2 (Good Friday), and the days each known decree of article 3.3 equates with them,
with its source. Saturdays and Sundays are never working days. The publish step loads the result into
``ref_calendar``, where "n working days after d" is the working day numbered ``working_day_no(d) + n``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from eviction_prevention import settings

log = logging.getLogger(__name__)

RULES_FILE = "algemene_termijnenwet.yaml"


@dataclass(frozen=True)
class RuleSet:
    name: str
    first_year: int
    last_year: int
    days: dict[dt.date, str]  # non-working day -> its name and legal basis
    decree_years: frozenset[int]  # years whose article 3.3 decree is in the rule set


def load_rules(path: Path | None = None) -> RuleSet:
    data = settings.read_yaml(path or settings.CONFIG_DIR / RULES_FILE)
    days = {entry["date"]: f"{entry['name']} (art. {entry['article']})" for entry in data["days"]}
    for decree in data["decrees"]:
        for entry in decree["days"]:
            days[entry["date"]] = f"{entry['name']} (art. 3.3: {decree['source']})"
    return RuleSet(
        name=data["rule_set"],
        first_year=int(data["years"]["first"]),
        last_year=int(data["years"]["last"]),
        days=days,
        decree_years=frozenset(year for decree in data["decrees"] for year in decree["years"]),
    )


def is_working_day(day: dt.date, rules: RuleSet) -> bool:
    return day.weekday() < 5 and day not in rules.days


def working_day_calendar(rules: RuleSet | None = None) -> pd.DataFrame:
    """Every date of the rule set's years with whether it is a working day and its running number."""
    rules = rules or load_rules()
    days = pd.date_range(f"{rules.first_year}-01-01", f"{rules.last_year}-12-31", freq="D").date
    working = [is_working_day(d, rules) for d in days]
    return pd.DataFrame(
        {
            "calendar_date": days,
            "is_working_day": working,
            "working_day_no": pd.Series(working).cumsum().astype("int64"),
            "holiday_name": [rules.days.get(d) for d in days],
        }
    )


def warn_if_uncovered(reference: dt.date | None, rules: RuleSet | None = None) -> bool:
    """Log a warning when the reference date's year has no article 3.3 decree in the rule set (its decree
    days would be counted as working days). Returns whether the year is covered."""
    rules = rules or load_rules()
    if reference is None or reference.year in rules.decree_years:
        return True
    log.warning(
        "%s: no decree (art. 3.3) listed for %d; add its days to config/%s when it is published",
        rules.name,
        reference.year,
        RULES_FILE,
    )
    return False
