"""Read a partner's bytes into a table of texts, by the layout's format: CSV or .xlsx."""

from __future__ import annotations

import pandas as pd

from eviction_prevention.parse.csv_reader import read_csv
from eviction_prevention.parse.issues import FileRejected, Issue, reject
from eviction_prevention.parse.xlsx_reader import read_xlsx
from eviction_prevention.partners import Layout, ReadLimits


def read_table(data: bytes, layout: Layout, limits: ReadLimits | None = None) -> pd.DataFrame:
    """Read the raw bytes into a frame of strings (CSV) or Python objects (xlsx), header as given, within
    ``limits`` (default: ``ReadLimits()``) of unpacked size and cells."""
    limits = limits or ReadLimits()
    if layout.format == "xlsx":
        table = read_xlsx(data, layout, limits)
    elif layout.format == "csv":
        table = read_csv(data, layout)
    else:
        raise FileRejected([Issue("format", f"onbekend bestandsformaat '{layout.format}'")])
    cells = (len(table) + 1) * max(len(table.columns), 1)
    if cells > limits.cells:
        raise reject("too_many_cells", f"het bestand heeft {cells} cellen: meer dan de toegestane {limits.cells}")
    return table
