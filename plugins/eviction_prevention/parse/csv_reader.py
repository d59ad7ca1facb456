"""CSV: decode (the layout's encoding, a UTF-8 file in a Windows-1252 layout named as such), check the
delimiter, read with pyarrow; a file it refuses (ragged rows) is read again by :mod:`csv`, which names them.
"""

from __future__ import annotations

import codecs
import csv
import io
import re

import numpy as np
import pandas as pd

from eviction_prevention.partners import Layout

try:  # pandas' string backend; without it every CSV file takes the csv-module path
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv
except ImportError:  # pragma: no cover - pyarrow is installed wherever the tests run
    pa = pc = pa_csv = None
from eviction_prevention.parse.issues import OLE_MAGIC, FileRejected, Issue, cell_too_long, reject
from eviction_prevention.parse.table import blank_rows, blank_texts, texts_table

ZIP_MAGIC = b"PK\x03\x04"

_DELIMITER_NAMES = {";": "puntkomma (;)", ",": "komma (,)", "\t": "tab", "|": "verticale streep (|)"}


def _check_not_binary(data: bytes) -> None:
    if data.startswith(ZIP_MAGIC) or data.startswith(OLE_MAGIC):
        raise reject("not_csv", "het bestand is een Excel- of zip-bestand, maar er is een CSV-bestand afgesproken")
    if b"\x00" in data:
        raise reject("binary", "het bestand bevat binaire gegevens en is geen tekstbestand (CSV)")


def _check_delimiter(header_line: list[str], layout: Layout) -> None:
    """A one-column header that contains another delimiter means the file uses the wrong separator."""
    if len(header_line) != 1:
        return
    for other, name in _DELIMITER_NAMES.items():
        if other != layout.delimiter and other in header_line[0]:
            expected = _DELIMITER_NAMES.get(layout.delimiter, f"'{layout.delimiter}'")
            raise reject(
                "delimiter",
                f"verkeerd scheidingsteken: de kolommen zijn gescheiden door {name} in plaats van {expected}",
            )


def _width_message(line: int, found: int, width: int, last: bool) -> str:
    hint = " (de laatste regel lijkt afgebroken)" if last and found < width else ""
    return f"regel {line}: {found} kolommen in plaats van {width}{hint}"


def _check_not_utf8_instead(data: bytes, layout: Layout) -> None:
    """A UTF-8 file sent to a partner whose agreed encoding is a single-byte one (Windows-1252) would decode
    without an error, every é read as Ã©. Text in such an encoding with letters beyond ASCII is almost never
    valid UTF-8; a file that is, is refused."""
    if codecs.lookup(layout.encoding).name in ("utf-8", "utf-8-sig") or data.isascii():
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return
    raise reject(
        "encoding_utf8",
        f"het bestand is in UTF-8 opgeslagen, maar de afgesproken tekencodering is {layout.encoding}: letters als "
        "é en ë zouden verkeerd worden gelezen",
    )


def _decode_csv(data: bytes, layout: Layout) -> str:
    if not data or data.isspace():  # as not data.strip(), without copying the file
        raise FileRejected([Issue("empty", "het bestand is leeg")])
    _check_not_binary(data)
    _check_not_utf8_instead(data, layout)
    try:
        text = data.decode(layout.encoding)
    except UnicodeDecodeError as exc:
        raise FileRejected(
            [
                Issue(
                    "encoding",
                    f"het bestand is niet in de afgesproken tekencodering ({layout.encoding}) "
                    f"opgeslagen (fout op byte {exc.start})",
                )
            ]
        ) from exc
    return text.removeprefix("\ufeff")


def read_csv(data: bytes, layout: Layout) -> pd.DataFrame:
    text = _decode_csv(data, layout)
    frame = _read_regular_csv(text, layout)
    return _read_any_csv(text, layout) if frame is None else frame


def _read_regular_csv(text: str, layout: Layout) -> pd.DataFrame | None:
    """The file read by pyarrow, or None when pyarrow refuses it (a record of another width than the first
    line's, e.g. a ragged row or a line of only spaces: the csv-module path then says what is wrong) or is
    not installed.

    For a file it reads, pyarrow splits records and cells as :mod:`csv` does (quotes, doubled quotes, line
    breaks in quoted cells, \\r, \\n and \\r\\n); it skips empty lines, which are blank rows to the csv path too.
    """
    if pa is None:
        return None
    first_line = re.match(r"[^\r\n]*", text).group()
    names = [str(i) for i in range(first_line.count(layout.delimiter) + 1)]  # checked against every record
    try:
        table = pa_csv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pa_csv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pa_csv.ParseOptions(delimiter=layout.delimiter, newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None
    if any((pc.max(pc.binary_length(column)).as_py() or 0) > csv.field_size_limit() for column in table.columns):
        raise cell_too_long()  # as the csv module would say
    cells = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow", na_value=np.nan)}.get)
    cells = cells[~blank_rows(cells, blank_texts)]
    if cells.empty:
        return None  # only blank lines: the csv-module path says the file is empty
    header = cells.iloc[0].tolist()
    _check_delimiter(header, layout)
    return texts_table(cells.iloc[1:], [h.strip() for h in header], [])


def _read_any_csv(text: str, layout: Layout) -> pd.DataFrame:
    """Any CSV file, by :mod:`csv`: a row of another width than the header is reported and left empty."""
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=layout.delimiter))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise FileRejected([Issue("empty", "het bestand is leeg")])
    _check_delimiter(rows[0], layout)
    header = [h.strip() for h in rows[0]]
    width = len(header)
    last = len(rows)
    issues = [
        Issue("row_width", _width_message(n, len(r), width, n == last), row=n, severity="row")
        for n, r in enumerate(rows[1:], start=2)
        if len(r) != width
    ]
    body = [r if len(r) == width else [""] * width for r in rows[1:]]
    return texts_table(pd.DataFrame(body, columns=range(width), dtype=object), header, issues)
