"""Text the pipeline writes where a spreadsheet may open it (receipts, CSV outputs) never starts a formula.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return before one) is run as a formula
by Excel and LibreOffice when the file is opened (CSV or formula injection: ``=cmd|' /C calc'!A0``). Partner files
can carry such text, and some of it is quoted back (a record id, a file name). ``neutralised`` prefixes such a
value with an apostrophe, as OWASP recommends: the spreadsheet shows the text and runs nothing. Numbers keep
their sign (``-12.50`` is not text a spreadsheet runs).
"""

from __future__ import annotations

import re

import pandas as pd

_FORMULA_START = re.compile(r"^[\s]*[=+\-@\t\r]")
_NUMBER = re.compile(r"^[+-]?\d+([.,]\d+)?$")


def neutralised(text: str) -> str:
    """``text``, prefixed with ``'`` when a spreadsheet would run it as a formula."""
    if _FORMULA_START.match(text) and not _NUMBER.match(text.strip()):
        return "'" + text
    return text


def neutralised_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell ``neutralised`` (other columns as they are)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or isinstance(out[column].dtype, pd.StringDtype):
            out[column] = out[column].map(lambda v: neutralised(v) if isinstance(v, str) else v)
    return out
