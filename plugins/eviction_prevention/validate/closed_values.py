"""Free-text attribute columns are stored only as values of a closed list (data minimisation).

A column that is neither a person field (pseudonymised) nor checked against a set of values by its expectation
suite could carry anything a partner's clerk typed: a social team's "Melder" or "Woonplaats" field has held a
person's name. So the social teams' team, city and reporter, and the SDD's city, keep only values of a closed
list, matched whatever the case or spacing and stored in the list's spelling:

- city: the municipalities of config/municipalities.yaml;
- team: their social teams;
- reporter: the corporations of the partner registry (stored as their code, the linkage's reporter), and the
  other reporters listed for the partner under ``closed_values: {reporter: [...]}`` in config/partners.yaml.

Any other value is not stored: a city is left empty, a reporter is stored as ``anders`` (which says "not one of
the corporations"), and the receipt says how many values of which column were not stored, never the values; a
team off the list is the row's error, since a case needs its team. The corporations' city and
the outcome, service and status columns are checked against their sets by the suites (a file with another
value is rejected), so they need no list here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from eviction_prevention import settings
from eviction_prevention.parse.issues import Issue
from eviction_prevention.partners import Partner, load_partners

OTHER_REPORTER = "anders"
CLOSED_COLUMNS = {"social_team": ("team", "city", "reporter"), "sdd": ("city",)}
REFUSED_OFF_LIST = ("team",)  # a case needs its team: a value off the list is the row's error


def _key(value: str) -> str:
    return " ".join(value.split()).casefold()


def _corporation_spellings() -> dict[str, str]:
    """A corporation of the registry by code or by name, case and spacing folded -> its code."""
    corporations = [p for p in load_partners() if p.kind == "corporation"]
    return {_key(p.code): p.code for p in corporations} | {_key(p.name): p.code for p in corporations}


def corporation_codes(reporters: pd.Series) -> pd.Series:
    """Each reporter as the code of the corporation it names ('Trivire', 'trivire', 'TRIVIRE '), else None."""
    found = _lookup(reporters, _corporation_spellings())
    return pd.Series([None if pd.isna(v) else found[v] for v in reporters], index=reporters.index, dtype=object)


def closed_lists(partner: Partner) -> dict[str, dict[str, str]]:
    """Per closed column of the partner's kind: the accepted spellings (case and spacing folded) -> the value
    stored."""
    municipalities = settings.municipalities()
    reporters = _corporation_spellings()
    listed = partner.extra.get("closed_values") or {}
    reporters |= {_key(v): v for v in listed.get("reporter", [])}
    lists = {
        "city": {_key(name): name for name in municipalities},
        "team": {_key(m["social_team"]): m["social_team"] for m in municipalities.values()},
        "reporter": reporters,
    }
    return {column: lists[column] for column in CLOSED_COLUMNS.get(partner.kind, ())}


def _lookup(values: pd.Series, allowed: dict[str, str]) -> dict[str, str | None]:
    """Each distinct value -> the value stored (None when it is off the list): one fold per distinct value."""
    return {v: allowed.get(_key(v)) for v in values.dropna().unique().tolist()}


def _off_list(frame: pd.DataFrame, partner: Partner) -> Iterator[tuple[str, pd.Series, pd.Series]]:
    """Per closed column in ``frame``: (column, its values mapped onto the list (NA when off it), which given
    values are off the list)."""
    for column, allowed in closed_lists(partner).items():
        if column not in frame.columns:
            continue
        values = frame[column].astype("string")
        given = (values.notna() & (values.str.strip() != "")).fillna(False)
        mapped = values.map(_lookup(values, allowed)).astype("string")
        yield column, mapped, given & mapped.isna()


def closed_value_issues(frame: pd.DataFrame, partner: Partner) -> list[Issue]:
    """What the receipt says about values off the lists (counted, not quoted): a warning per column for a city or
    reporter (not stored, or stored as ``anders``), a row error per row for a team (every case needs its own)."""
    issues = []
    for column, _mapped, off in _off_list(frame, partner):
        header = partner.layout.columns.get(column, column)
        if column in REFUSED_OFF_LIST:
            issues += [
                Issue("closed_values", f"regel {row}: kolom '{header}' bevat een waarde die niet op de afgesproken "
                      "lijst staat", row=int(row), column=column, severity="row")
                for row in frame.loc[off.to_numpy(), "source_row"].tolist()
            ]  # fmt: skip
        elif off.any():
            kept = f"opgeslagen als '{OTHER_REPORTER}'" if column == "reporter" else "niet opgeslagen"
            issues.append(
                Issue(
                    "closed_values",
                    f"kolom '{header}': {int(off.sum())} waarde(n) staan niet op de afgesproken lijst en zijn {kept}",
                    column=column,
                    severity="warning",
                )
            )
    return issues


def with_closed_values(staged: pd.DataFrame, partner: Partner) -> pd.DataFrame:
    """The staging rows with each closed column stored as its list's value (``anders`` for a reporter off the
    list, else empty). Applied after pseudonymisation: the linkage compares the city as delivered (typos too)."""
    out = staged.copy()
    for column, mapped, off in _off_list(staged, partner):
        out[column] = mapped.where(~off, OTHER_REPORTER if column == "reporter" else None)
    return out
