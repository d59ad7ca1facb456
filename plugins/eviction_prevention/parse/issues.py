"""What parsing reports: an ``Issue`` per finding (Dutch message, line, column; never a personal value),
the ``ParseResult``, ``FileRejected`` for a file that cannot be read at all, and the markers the readers share.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Issue:
    """One finding about a file. ``row`` is the 1-based line number in the partner's file (header = 1)."""

    code: str
    message: str  # Dutch, for the partner; never contains personal data
    row: int | None = None
    column: str | None = None  # the canonical column
    severity: str = "critical"  # "critical" rejects the file, "row" rejects the row, "warning" flags it


@dataclass
class ParseResult:
    frame: pd.DataFrame  # canonical typed columns + "source_row" (line number in the file)
    issues: list[Issue] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return any(i.severity == "critical" for i in self.issues)

    @property
    def rejected_rows(self) -> set[int]:
        return {i.row for i in self.issues if i.severity == "row" and i.row is not None}


class FileRejected(ValueError):
    """The file as a whole cannot be read; ``issues`` says why."""

    def __init__(self, issues: list[Issue]):
        super().__init__("; ".join(i.message for i in issues))
        self.issues = issues


OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Compound File: encrypted .xlsx or old .xls
# A text cell a spreadsheet would run as a formula (CSV/formula injection); "+31 6 ..." is a phone number.
VISIBLE_ASCII = "[!-~]"  # a character str.strip() keeps; the same pattern in re and in pyarrow's RE2


def reject(code: str, message: str) -> FileRejected:
    return FileRejected([Issue(code, message)])


def cell_too_long() -> FileRejected:
    """A cell longer than the csv module's field limit (also what an unclosed quote gives)."""
    longest = f"{csv.field_size_limit():,}".replace(",", ".")
    return reject(
        "cell_too_long", f"een cel is langer dan {longest} tekens (of een aanhalingsteken wordt niet afgesloten)"
    )
