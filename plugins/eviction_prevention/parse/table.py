"""The table of texts both readers produce: the header, the body without blank rows, and the NUL issues."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from eviction_prevention.parse.issues import VISIBLE_ASCII, Issue


def texts_table(body: pd.DataFrame, header: list[str], issues: list[Issue], nul: bool = False) -> pd.DataFrame:
    """The data rows under the partner's headers (duplicates kept: :func:`convert` reports them)."""
    body = body.reset_index(drop=True)
    issues = issues + (nul_issues(body) if nul else [])
    body.columns = header
    body.attrs["issues"] = issues
    return body


def nul_issues(body: pd.DataFrame) -> list[Issue]:
    """A row error per row with a NUL character in a text cell (Excel writes it as ``_x0000_``): no database
    text type holds it, and no partner means it. The cell is emptied, so the rest of the row can be read."""
    found = set()
    for position in range(body.shape[1]):
        cells = body.iloc[:, position]
        rows = np.flatnonzero([isinstance(v, str) and "\x00" in v for v in cells.tolist()])
        body.iloc[rows, position] = ""
        found.update(rows.tolist())
    return [
        Issue("nul_character", f"regel {row + 2}: een cel bevat een NUL-teken (_x0000_)", row=row + 2, severity="row")
        for row in sorted(found)
    ]


def blank_rows(cells: pd.DataFrame, blank: Callable[[pd.Series], np.ndarray]) -> np.ndarray:
    """Which rows have only blank cells; a column is only looked at for the rows still in question."""
    rows = np.arange(len(cells))
    for position in range(cells.shape[1]):
        if not len(rows):
            break
        rows = rows[blank(cells.iloc[rows, position])]
    mask = np.zeros(len(cells), dtype=bool)
    mask[rows] = True
    return mask


def blank_texts(texts: pd.Series) -> np.ndarray:
    """Texts that ``str.strip()`` empties; only those without a visible ASCII character are stripped."""
    blank = ~texts.str.contains(VISIBLE_ASCII).to_numpy(dtype=bool)
    unsure = np.flatnonzero(blank)
    blank[unsure] = [not text.strip() for text in texts.iloc[unsure]]
    return blank


def blank_cells(cells: pd.Series) -> np.ndarray:
    """Empty spreadsheet cells (a cell holding spaces is not empty)."""
    return (cells.isna() | (cells == "")).to_numpy(dtype=bool)
