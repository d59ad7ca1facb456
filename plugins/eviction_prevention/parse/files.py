"""Parse a whole file: read its bytes into a table, then convert the table to the canonical layout."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from eviction_prevention.parse.convert import convert
from eviction_prevention.parse.issues import FileRejected, ParseResult
from eviction_prevention.parse.reader import read_table
from eviction_prevention.partners import Layout, ReadLimits


def parse_bytes(data: bytes, layout: Layout, kind: str, limits: ReadLimits | None = None) -> ParseResult:
    try:
        raw = read_table(data, layout, limits)
    except FileRejected as exc:
        return ParseResult(pd.DataFrame(), exc.issues)
    return convert(raw, layout, kind)


def parse_file(path: Path, layout: Layout, kind: str) -> ParseResult:
    return parse_bytes(Path(path).read_bytes(), layout, kind)
