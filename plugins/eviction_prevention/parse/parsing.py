"""Turn a partner file into canonical, typed records using the partner's layout mapping.

Problems are reported as :class:`Issue` objects with Dutch messages a partner's clerk understands.
A message never quotes the value of an identifier column (names, birth dates, addresses, BSN):
only its row number and column header.

A month brings close to two million rows, so the work is done in bulk where that provably gives the
result of the per-value rules (:func:`parse_date`, :func:`parse_decimal`, ...), and by those rules
everywhere else:

* CSV: pyarrow's reader, which refuses a record of another width than the first; such a file (or any
  file it refuses) is read again by :mod:`csv`, which names the ragged rows.
* .xlsx: calamine, its cell values read as openpyxl gave them (the rules and messages were written
  against those); openpyxl still reads a workbook with cells calamine reads differently (error cells
  such as #N/A, texts of only whitespace: see _scan_xlsx).
* Converting: the texts of the common shapes (``Jansen``, ``1.234,56``, ``31-10-2026``) a column at
  a time; every other value once per distinct value, through the per-value rules.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import re
import string
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from eviction_prevention.parse import layouts
from eviction_prevention.partners import Layout, ReadLimits

try:  # pandas' string backend; without it every CSV file takes the csv-module path
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv
except ImportError:  # pragma: no cover - pyarrow is installed wherever the tests run
    pa = pc = pa_csv = None


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


_DUTCH_DATE_HINT = {"%d-%m-%Y": "dd-mm-jjjj", "%Y-%m-%d": "jjjj-mm-dd"}
_DELIMITER_NAMES = {";": "puntkomma (;)", ",": "komma (,)", "\t": "tab", "|": "verticale streep (|)"}
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Compound File: encrypted .xlsx or old .xls
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
# A text cell a spreadsheet would run as a formula (CSV/formula injection); "+31 6 ..." is a phone number.
_FORMULA_RE = re.compile(r"^\s*(?:[=@\t\r]|[+-]\s*[A-Za-z(])")
_VISIBLE_ASCII = "[!-~]"  # a character str.strip() keeps; the patterns below are the same in re and pyarrow's RE2


def read_table(data: bytes, layout: Layout, limits: ReadLimits | None = None) -> pd.DataFrame:
    """Read the raw bytes into a frame of strings (CSV) or Python objects (xlsx), header as given, within
    ``limits`` (default: ``ReadLimits()``) of unpacked size and cells."""
    limits = limits or ReadLimits()
    if layout.format == "xlsx":
        table = _read_xlsx(data, layout, limits)
    elif layout.format == "csv":
        table = _read_csv(data, layout)
    else:
        raise FileRejected([Issue("format", f"onbekend bestandsformaat '{layout.format}'")])
    cells = (len(table) + 1) * max(len(table.columns), 1)
    if cells > limits.cells:
        raise _reject("too_many_cells", f"het bestand heeft {cells} cellen: meer dan de toegestane {limits.cells}")
    return table


def cell_too_long() -> FileRejected:
    """A cell longer than the csv module's field limit (also what an unclosed quote gives)."""
    longest = f"{csv.field_size_limit():,}".replace(",", ".")
    return _reject(
        "cell_too_long", f"een cel is langer dan {longest} tekens (of een aanhalingsteken wordt niet afgesloten)"
    )


def _reject(code: str, message: str) -> FileRejected:
    return FileRejected([Issue(code, message)])


def _check_not_binary(data: bytes) -> None:
    if data.startswith(ZIP_MAGIC) or data.startswith(OLE_MAGIC):
        raise _reject("not_csv", "het bestand is een Excel- of zip-bestand, maar er is een CSV-bestand afgesproken")
    if b"\x00" in data:
        raise _reject("binary", "het bestand bevat binaire gegevens en is geen tekstbestand (CSV)")


def _check_delimiter(header_line: list[str], layout: Layout) -> None:
    """A one-column header that contains another delimiter means the file uses the wrong separator."""
    if len(header_line) != 1:
        return
    for other, name in _DELIMITER_NAMES.items():
        if other != layout.delimiter and other in header_line[0]:
            expected = _DELIMITER_NAMES.get(layout.delimiter, f"'{layout.delimiter}'")
            raise _reject(
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
    raise _reject(
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


def _read_csv(data: bytes, layout: Layout) -> pd.DataFrame:
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
    cells = cells[~_blank_rows(cells, _blank_texts)]
    if cells.empty:
        return None  # only blank lines: the csv-module path says the file is empty
    header = cells.iloc[0].tolist()
    _check_delimiter(header, layout)
    return _table(cells.iloc[1:], [h.strip() for h in header], [])


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
    return _table(pd.DataFrame(body, columns=range(width), dtype=object), header, issues)


def _table(body: pd.DataFrame, header: list[str], issues: list[Issue], nul: bool = False) -> pd.DataFrame:
    """The data rows under the partner's headers (duplicates kept: :func:`convert` reports them)."""
    body = body.reset_index(drop=True)
    issues = issues + (_nul_issues(body) if nul else [])
    body.columns = header
    body.attrs["issues"] = issues
    return body


def _nul_issues(body: pd.DataFrame) -> list[Issue]:
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


def _blank_rows(cells: pd.DataFrame, blank: Callable[[pd.Series], np.ndarray]) -> np.ndarray:
    """Which rows have only blank cells; a column is only looked at for the rows still in question."""
    rows = np.arange(len(cells))
    for position in range(cells.shape[1]):
        if not len(rows):
            break
        rows = rows[blank(cells.iloc[rows, position])]
    mask = np.zeros(len(cells), dtype=bool)
    mask[rows] = True
    return mask


def _blank_texts(texts: pd.Series) -> np.ndarray:
    """Texts that ``str.strip()`` empties; only those without a visible ASCII character are stripped."""
    blank = ~texts.str.contains(_VISIBLE_ASCII).to_numpy(dtype=bool)
    unsure = np.flatnonzero(blank)
    blank[unsure] = [not text.strip() for text in texts.iloc[unsure]]
    return blank


def _blank_cells(cells: pd.Series) -> np.ndarray:
    """Empty spreadsheet cells (a cell holding spaces is not empty)."""
    return (cells.isna() | (cells == "")).to_numpy(dtype=bool)


def _check_not_encrypted_or_xls(data: bytes) -> None:
    if data.startswith(OLE_MAGIC):
        if _ENCRYPTED_PACKAGE in data:
            raise _reject(
                "xlsx_encrypted", "het Excel-bestand is met een wachtwoord beveiligd; lever het zonder wachtwoord aan"
            )
        raise _reject("xls_format", "het bestand is een oud Excel-bestand (.xls); lever een .xlsx-bestand aan")


# What calamine reads differently from openpyxl: an error cell (#N/A, #DIV/0!), which calamine reads as empty, and
# a text starting with whitespace without xml:space="preserve" (openpyxl writes a text of only spaces or a tab so),
# which calamine strips. A text that merely looks like one of these only costs the slower reader.
_NOT_FOR_CALAMINE = (re.compile(rb"""t=["']e["']"""), re.compile(rb"<t>[\t\n\r ]"))
# The used range a worksheet declares (the readers allocate it): <dimension ref="A1:Z100"/>.
_DIMENSION = re.compile(rb"""<dimension\s+ref=["']([A-Za-z]{0,3})(\d*):?([A-Za-z]{0,3})(\d*)["']""")
_CHUNK = 1 << 20


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


def _declared_cells(head: bytes) -> tuple[int, int] | None:
    """(rows, columns) of the used range a worksheet part declares at its start, if it does."""
    found = _DIMENSION.search(head)
    if found is None:
        return None
    first_col, first_row, last_col, last_row = found.groups()
    return int(last_row or first_row or 1), _column_number(last_col or first_col)


@dataclass(frozen=True)
class _Scan:
    needs_openpyxl: bool  # a cell calamine reads differently (``_NOT_FOR_CALAMINE``)
    nul: bool  # a NUL character, written as _x0000_


def _scan_xlsx(data: bytes, limits: ReadLimits) -> _Scan:
    """Check an .xlsx before a reader unpacks it, in one streamed pass over every member, and say what it
    holds (``_Scan``). Refused: DTDs (entity bombs), members that inflate beyond
    ``limits.unpacked_mb`` in total (counted while inflating, whatever the zip declares), members whose
    checksum or length does not match (zipfile checks both at the end of each member), a worksheet whose
    declared used range has more than ``limits.cells`` cells."""
    allowed = limits.unpacked_mb * 1024 * 1024
    needs_openpyxl = nul = False
    unpacked = 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if sum(m.file_size for m in members) > allowed:
                raise _too_big(limits)
            for member in members:
                xml = member.filename.endswith((".xml", ".rels", ".vml"))
                with _member(archive, member) as fh:
                    tail = b""
                    first = True
                    while chunk := fh.read(_CHUNK):
                        unpacked += len(chunk)
                        if unpacked > allowed:
                            raise _too_big(limits)
                        if not xml:
                            continue
                        if first:
                            _check_xml_head(chunk, member.filename, limits)
                            first = False
                        window = tail + chunk
                        if member.filename.endswith(".xml"):
                            needs_openpyxl = needs_openpyxl or any(p.search(window) for p in _NOT_FOR_CALAMINE)
                            nul = nul or b"_x0000_" in window
                        tail = window[-8:]
    except zipfile.BadZipFile as exc:  # the archive itself; a member's damage is ``_member``'s
        raise _reject("xlsx", "het Excel-bestand kan niet worden geopend (beschadigd of geen .xlsx)") from exc
    return _Scan(needs_openpyxl, nul)


@contextlib.contextmanager
def _member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> Iterator[IO[bytes]]:
    """One member, opened for reading; a checksum or length that does not match (zipfile checks both when the
    member's end is read) is damage, not a file that cannot be opened."""
    try:
        with archive.open(member) as fh:
            yield fh
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise damaged_xlsx() from exc


def _too_big(limits: ReadLimits) -> FileRejected:
    return _reject("xlsx_too_big", f"het Excel-bestand is uitgepakt te groot (meer dan {limits.unpacked_mb} MB)")


def damaged_xlsx() -> FileRejected:
    """An .xlsx member whose checksum or length does not match, or that does not inflate."""
    return _reject(
        "xlsx_damaged", "het Excel-bestand is beschadigd: een onderdeel klopt niet met zijn controlegetal of lengte"
    )


def _check_xml_head(head: bytes, name: str, limits: ReadLimits) -> None:
    if b"<!DOCTYPE" in head[:4096] or b"<!ENTITY" in head[:4096]:
        raise _reject("xlsx_dtd", "het Excel-bestand bevat niet-toegestane XML-definities (DOCTYPE/ENTITY)")
    if name.startswith("xl/worksheets/"):
        declared = _declared_cells(head)
        if declared is not None and declared[0] * declared[1] > limits.cells:
            rows, columns = declared
            raise _reject(
                "xlsx_range",
                f"het Excel-bestand beslaat {rows} rijen en {columns} kolommen: meer dan de toegestane "
                f"{limits.cells} cellen (verwijder lege opmaak of cellen ver buiten de gegevens)",
            )


_Sheets = tuple[list[str], dict[str, list[list]]]  # all sheet names; the cell rows of each worksheet


def _calamine_sheets(data: bytes) -> _Sheets:
    from python_calamine import CalamineWorkbook, SheetTypeEnum

    try:
        with CalamineWorkbook.from_filelike(io.BytesIO(data)) as workbook:
            worksheets = [m.name for m in workbook.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
            rows = {name: workbook.get_sheet_by_name(name).to_python(skip_empty_area=False) for name in worksheets}
            return workbook.sheet_names, rows
    except Exception as exc:
        raise FileRejected(
            [Issue("xlsx", "het Excel-bestand kan niet worden geopend (beschadigd of beveiligd)")]
        ) from exc


def _openpyxl_sheets(data: bytes) -> _Sheets:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise FileRejected(
            [Issue("xlsx", "het Excel-bestand kan niet worden geopend (beschadigd of beveiligd)")]
        ) from exc
    try:
        rows = {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in workbook.worksheets}
        return workbook.sheetnames, rows
    finally:
        workbook.close()


def _has_data(rows: list[list]) -> bool:
    return any(any(c not in (None, "") for c in r) for r in rows)


def _read_xlsx(data: bytes, layout: Layout, limits: ReadLimits) -> pd.DataFrame:
    _check_not_encrypted_or_xls(data)
    scan = _scan_xlsx(data, limits)
    names, sheets = _openpyxl_sheets(data) if scan.needs_openpyxl else _calamine_sheets(data)
    if layout.sheet and layout.sheet not in names:
        raise FileRejected([Issue("sheet", f"tabblad '{layout.sheet}' ontbreekt")])
    with_data = [name for name, rows in sheets.items() if _has_data(rows)]
    if len(with_data) > 1:
        positions = " en ".join(str(n) for n, name in enumerate(sheets, start=1) if name in with_data)
        raise _reject(  # sheet names are text from the file: only their positions are named
            "sheets",
            f"het Excel-bestand heeft {len(with_data)} tabbladen met gegevens (tabblad {positions}); "
            "lever één tabblad aan",
        )
    rows = sheets[layout.sheet] if layout.sheet else next(iter(sheets.values()))
    return _xlsx_table(rows, nul=scan.nul)


def _xlsx_table(rows: list[list], nul: bool = False) -> pd.DataFrame:
    """The first non-blank row is the header; the rows under it are cut or padded to its width."""
    width = max(map(len, rows), default=0)  # openpyxl's rows can be ragged, calamine's are not
    cells = pd.DataFrame([r + [None] * (width - len(r)) if len(r) < width else r for r in rows], dtype=object)
    kept = np.flatnonzero(~_blank_rows(cells, _blank_cells))
    if not len(kept):
        raise FileRejected([Issue("empty", "het bestand is leeg")])
    cells = cells.iloc[kept, : len(rows[kept[0]])]
    header = ["" if h is None else str(_as_openpyxl(h)).strip() for h in cells.iloc[0]]
    return _table(cells.iloc[1:], header, [], nul=nul)


_PLAIN_WHOLE_NUMBERS = 1e16  # Excel and openpyxl write smaller whole numbers as plain digits


def _as_openpyxl(value: object) -> object:
    """A cell value as openpyxl gave it, which the rules and their messages were written against: calamine reads a
    whole number as a float (Excel writes it without a decimal point: an int to openpyxl) and a date cell as a date
    (a datetime to openpyxl). Other values, and all CSV texts, are the same either way."""
    if isinstance(value, float) and value.is_integer() and abs(value) < _PLAIN_WHOLE_NUMBERS:
        return int(value)
    if type(value) is dt.date:
        return dt.datetime(value.year, value.month, value.day)
    return value


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() == ""


def parse_date(value: object, fmt: str) -> dt.date | None:
    """A date from a text in the partner's format, or from an Excel date cell. Raises ValueError."""
    if _is_blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.datetime.strptime(str(value).strip(), fmt).date()


def _grouped(thousands: str) -> str:
    """The pattern of a whole number written with thousands separators: 1.234 or 12.345.678, never 123.45."""
    return rf"-?[0-9]{{1,3}}(?:{re.escape(thousands)}[0-9]{{3}})+"


def parse_decimal(value: object, decimal: str, thousands: str) -> float | None:
    """A number like ``1.234,56`` (decimal comma) or ``1234.56``. Raises ValueError."""
    if _is_blank(value):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().replace("\u20ac", "").replace(" ", "")
    if thousands and thousands in text:
        whole = text.split(decimal, 1)[0] if decimal != thousands else text
        if not re.fullmatch(_grouped(thousands), whole):  # "123.45" in a decimal-comma file is not 12.345
            raise ValueError(text)
        text = text.replace(thousands, "")
    if decimal != ".":
        if "." in text:
            raise ValueError(text)
        text = text.replace(decimal, ".")
    if not re.fullmatch(r"-?\d+(\.\d+)?", text):
        raise ValueError(text)
    return float(text)


def parse_int(value: object) -> int | None:
    if _is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    if not re.fullmatch(r"\d+", text):
        raise ValueError(text)
    return int(text)


def parse_bool(value: object, layout: Layout) -> bool | None:
    if _is_blank(value):
        return None
    text = str(value).strip().casefold()
    if text in {v.casefold() for v in layout.true_values}:
        return True
    if text in {v.casefold() for v in layout.false_values}:
        return False
    raise ValueError(text)


def parse_str(value: object) -> str | None:
    if _is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


# Words a partner writes in a yes/no, number or date column that say nothing about a person: quoted back as they are.
_ANSWER_WORDS = frozenset(
    ("ja", "nee", "j", "n", "y", "yes", "no", "true", "false", "waar", "onwaar", "wel", "niet", "geen", "x", "-", "?",
     "misschien", "onbekend", "nvt", "n.v.t.", "nb", "n.b.", "leeg", "null", "none", "nan",
     "#n/a", "#value!", "#ref!", "#div/0!", "#name?", "#num!", "#null!")  # and Excel's error values
)  # fmt: skip


_DATE_LIKE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_PHONE_LIKE = re.compile(r"^\s*(\+|0)[\d\s-]{8,}$")


def _shown(raw: object, kind: str) -> str:
    """How a rejected cell of an attribute column of type ``kind`` is quoted: as it is when it cannot name a
    person, else only its length. In a file whose columns are shifted, a date, number or yes/no column can hold a
    surname, an e-mail address, a phone number or a birth date. Quoted: at most 20 characters of digits and
    separators (not a phone number, and a date only in a date column), or a yes/no-like word."""
    text = str(raw)
    plain = len(text) <= 20 and not re.search(r"[^\W\d_]", text)
    personal = bool(_PHONE_LIKE.match(text)) or (kind != "date" and bool(_DATE_LIKE.search(text)))
    if (plain and not personal) or (len(text) <= 20 and text.strip().lower() in _ANSWER_WORDS):
        return f" '{text}'"
    return f" (een tekst van {len(text)} tekens)"


def _type_error_message(col: layouts.Column, header: str, row: int, raw: object, layout: Layout) -> str:
    shown = _shown(raw, col.type) if col.role == "attribute" else ""
    if col.type == "date":
        if col.role == "attribute" and _looks_like_impossible_date(raw, layout.date_format):
            return f"regel {row}: datum{shown} in kolom '{header}' bestaat niet"
        hint = _DUTCH_DATE_HINT.get(layout.date_format, layout.date_format)
        return f"regel {row}: kolom '{header}' bevat geen geldige datum{shown} (verwacht {hint})"
    if col.type in ("float", "int"):
        return f"regel {row}: kolom '{header}' bevat geen geldig getal{shown}"
    if col.type == "bool":
        options = "/".join([*layout.true_values[:1], *layout.false_values[:1]])
        return f"regel {row}: kolom '{header}' bevat geen geldige ja/nee-waarde{shown} (verwacht {options})"
    return f"regel {row}: kolom '{header}' bevat een ongeldige waarde"


def _looks_like_impossible_date(raw: object, fmt: str) -> bool:
    """The value has the agreed date shape (e.g. dd-mm-jjjj) but is no calendar date, like 31-02-2026."""
    shape = re.escape(fmt).replace("%d", r"\d{2}").replace("%m", r"\d{2}").replace("%Y", r"\d{4}")
    return bool(re.fullmatch(shape, str(raw).strip()))


def convert(frame: pd.DataFrame, layout: Layout, kind: str) -> ParseResult:
    """Rename partner headers to canonical names and type every value; collect issues."""
    issues: list[Issue] = list(frame.attrs.get("issues", []))
    present = set(frame.columns)
    header_issues = _unknown_header_issues(list(frame.columns), layout)
    header_row = any(i.code == "header_row" for i in header_issues)
    if not header_row:  # else every agreed column is missing, and the "headers" are data
        for col in layouts.columns(kind):
            header = layout.columns.get(col.name)
            if col.required and (header is None or header not in present):
                issues.append(Issue("missing_column", f"kolom '{header or col.name}' ontbreekt", column=col.name))
    issues += header_issues
    if not header_row and len(set(frame.columns)) != len(frame.columns):
        issues.append(Issue("duplicate_column", "een kolomnaam komt meer dan eens voor"))
    if any(i.severity == "critical" for i in issues):
        return ParseResult(pd.DataFrame(), issues)

    out: dict[str, pd.api.extensions.ExtensionArray] = {}
    n_rows = len(frame)
    for col in layouts.columns(kind):
        header = layout.columns.get(col.name)
        if header is None or header not in present:
            cells = pd.Series([None] * n_rows, dtype=object)
        else:
            cells = frame[header].reset_index(drop=True)
        out[col.name] = _convert_column(cells, col, header, layout, issues)
    result = pd.DataFrame(out)
    result["source_row"] = range(2, n_rows + 2)
    return ParseResult(result, issues)


def _unknown_header_issues(headers: list[str], layout: Layout) -> list[Issue]:
    """Data minimisation: only the agreed columns may be delivered. A header that is not agreed is named by its
    position only: it is text from the file, and in a file without its header row (or with another template's)
    it is the first data row, a person's name or e-mail address."""
    agreed = set(layout.columns.values())
    unknown = [n for n, h in enumerate(headers, start=1) if h not in agreed]
    if not unknown:
        return []
    if len(agreed & set(headers)) < len(agreed) / 2:
        expected = ", ".join(f"'{h}'" for h in list(layout.columns.values())[:4])
        return [
            Issue(
                "header_row",
                "de eerste regel heeft niet de afgesproken kolomnamen: de kopregel ontbreekt of komt uit een ander "
                f"sjabloon (verwacht onder meer {expected})",
            )
        ]
    return [
        Issue("unknown_column", f"kolom {n} is niet afgesproken; lever alleen de afgesproken kolommen aan")
        for n in unknown
    ]


_FORMULA = object()  # markers: the value is a formula / not of the column's type
_BAD_TYPE = object()
_PANDAS_TYPES = {"str": "string", "int": "Int64", "float": "Float64", "bool": "boolean", "date": "datetime64[s]"}


def _convert_one(raw: object, col: layouts.Column, layout: Layout) -> object:
    """The typed value of one cell, or a marker saying why it has none."""
    if col.type == "str" and isinstance(raw, str) and _FORMULA_RE.match(raw):
        return _FORMULA
    try:
        return _convert_value(raw, col, layout)
    except (ValueError, TypeError):
        return _BAD_TYPE


def _convert_column(
    cells: pd.Series, col: layouts.Column, header: str | None, layout: Layout, issues: list[Issue]
) -> pd.api.extensions.ExtensionArray:
    """The typed column; a cell without a value is reported in row order, as the partner reads the file.

    Dates and yes/no values repeat a lot: those columns are converted one distinct value at a time.
    """
    if col.type not in ("date", "bool"):
        values, failures = _convert_cells(cells, col, layout)
        failed_rows = [(row, *failures[row]) for row in sorted(failures)]
    else:
        codes, distinct = _factorize(cells)
        distinct_values, failures = _convert_cells(distinct, col, layout)
        values = pd.concat([pd.Series(distinct_values), _missing(1, col)], ignore_index=True).array
        values = values.take(np.where(codes < 0, len(distinct), codes))
        rows = np.flatnonzero(np.isin(codes, list(failures))) if failures else []
        failed_rows = [(row, *failures[codes[row]]) for row in rows]
    for row, raw, marker in failed_rows:
        line = int(row) + 2
        if marker is _FORMULA:
            issues.append(_formula_issue(header, line, col.name))
        else:
            message = _type_error_message(col, header, line, raw, layout)
            issues.append(Issue("type", message, row=line, column=col.name, severity="row"))
    return values


_Failures = dict[int, tuple[object, object]]  # position -> (the value as the rules read it, marker)


def _convert_cells(
    cells: pd.Series, col: layouts.Column, layout: Layout
) -> tuple[pd.api.extensions.ExtensionArray, _Failures]:
    """The typed value of each cell and the cells that have none: in bulk where that is proven to give what the
    rules give (see _convert_in_bulk), else by the rules, once per distinct value."""
    values, proven = _convert_in_bulk(cells, col, layout)
    by_rule = np.flatnonzero(~proven)
    if not len(by_rule):
        return values, {}
    codes, distinct = _factorize(cells.iloc[by_rule])
    raws = [_as_openpyxl(v) for v in distinct]
    converted = [_convert_one(raw, col, layout) for raw in raws]
    failed = {
        code: (raws[code], value) for code, value in enumerate(converted) if value is _FORMULA or value is _BAD_TYPE
    }
    typed = _typed([None if code in failed else value for code, value in enumerate(converted)] + [None], col)
    values[by_rule] = typed.take(np.where(codes < 0, len(distinct), codes))
    failing = np.flatnonzero(np.isin(codes, list(failed))) if failed else []
    return values, {int(by_rule[i]): failed[codes[i]] for i in failing}


def _typed(values: list, col: layouts.Column) -> pd.api.extensions.ExtensionArray:
    return pd.Series(values, dtype=object).astype(_PANDAS_TYPES[col.type]).array


def _missing(n: int, col: layouts.Column) -> pd.Series:
    return pd.Series(index=range(n), dtype=_PANDAS_TYPES[col.type])


def _factorize(cells: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Codes (-1 for a missing cell) and distinct values of a column, with True, 1 and 1.0 kept apart.

    pandas compares cells with ==, under which True == 1 == 1.0; a spreadsheet column can hold more than
    one of them and they convert differently (``str(True)`` is ``'True'``), so a cell equal to 0 or 1 is
    grouped by its type as well.
    """
    if cells.dtype != object:
        codes, uniques = pd.factorize(cells.array)
        return codes, pd.Series(uniques)
    values = cells.to_numpy()
    codes, uniques = pd.factorize(values)
    distinct = list(uniques)
    for code in [c for c, v in enumerate(distinct) if type(v) in (bool, int, float) and v in (0, 1)]:
        added: dict[type, int] = {type(distinct[code]): code}
        for row in np.flatnonzero(codes == code):
            kind = type(values[row])
            if kind not in added:
                added[kind] = len(distinct)
                distinct.append(values[row])
            codes[row] = added[kind]
    return codes, pd.Series(distinct, dtype=object)


def _formula_issue(header: str | None, line: int, column: str) -> Issue:
    return Issue(
        "formula",
        f"regel {line}: kolom '{header}' begint met een formule (=, +, -, @); formules zijn niet toegestaan",
        row=line,
        column=column,
    )


def _convert_value(raw: object, col: layouts.Column, layout: Layout) -> object:
    if col.type == "date":
        return parse_date(raw, layout.date_format)
    if col.type == "float":
        return parse_decimal(raw, layout.decimal, layout.thousands)
    if col.type == "int":
        return parse_int(raw)
    if col.type == "bool":
        return parse_bool(raw, layout)
    return parse_str(raw)


# Bulk conversion of texts. Each step returns the typed values (missing where it proves nothing) and which texts
# it proves: a proven text is one for which the rules would give that same value.
_Bulk = tuple[pd.api.extensions.ExtensionArray, np.ndarray]


def _convert_in_bulk(cells: pd.Series, col: layouts.Column, layout: Layout) -> _Bulk:
    """Typed values and which cells they are proven for: texts (see _convert_texts) and the spreadsheet
    numbers and dates of a column of that type; the rest is left to the rules."""
    if cells.dtype != object:
        return _convert_texts(cells, col, layout)
    values, proven = _missing(len(cells), col).array, np.zeros(len(cells), dtype=bool)
    objects = cells.to_numpy()
    kinds = np.fromiter(map(type, objects), dtype=object, count=len(objects))
    for kind, step in _CELL_STEPS.items():
        at = np.flatnonzero(kinds == kind)
        if len(at):
            kind_values, kind_proven = step(objects[at], col, layout)
            values[at[kind_proven]] = kind_values[kind_proven]
            proven[at] = kind_proven
    return values, proven


def _text_cells(texts: np.ndarray, col: layouts.Column, layout: Layout) -> _Bulk:
    return _convert_texts(pd.Series(texts.tolist(), dtype="str"), col, layout)


def _number_cells(numbers: np.ndarray, col: layouts.Column, layout: Layout) -> _Bulk:
    """Excel numbers in a number column. The rules read them as openpyxl gave them (see _as_openpyxl):
    parse_decimal gives the float (0.0 for -0.0, which openpyxl read as the int 0); parse_int gives the
    whole numbers from 0 that openpyxl read as an int."""
    numbers = numbers.astype(np.float64)
    if col.type == "float":
        return pd.array(numbers + 0.0, dtype=_PANDAS_TYPES["float"]), np.ones(len(numbers), dtype=bool)
    if col.type == "int":
        proven = (numbers == np.floor(numbers)) & (numbers >= 0) & (numbers < _PLAIN_WHOLE_NUMBERS)
        whole = np.where(proven, numbers, 0).astype(np.int64)
        return pd.array(whole, dtype=_PANDAS_TYPES["int"]), proven
    return _missing(len(numbers), col).array, np.zeros(len(numbers), dtype=bool)


def _date_cells(dates: np.ndarray, col: layouts.Column, layout: Layout) -> _Bulk:
    """Excel date cells in a date column: parse_date keeps the day."""
    if col.type != "date":
        return _missing(len(dates), col).array, np.zeros(len(dates), dtype=bool)
    days = np.array(dates.tolist(), dtype="datetime64[us]").astype("datetime64[D]")
    return pd.array(days.astype("datetime64[s]")), np.ones(len(dates), dtype=bool)


_CELL_STEPS: dict[type, Callable[[np.ndarray, layouts.Column, Layout], _Bulk]] = {
    str: _text_cells,
    float: _number_cells,
    dt.date: _date_cells,
    dt.datetime: _date_cells,
}


def _convert_texts(texts: pd.Series, col: layouts.Column, layout: Layout) -> _Bulk:
    """An empty text is blank (no value, in any column); the others as far as a step of _BULK proves them."""
    empty = (texts == "").to_numpy(dtype=bool)
    if col.type not in _BULK:
        return _missing(len(texts), col).array, empty
    values, proven = _BULK[col.type](texts, layout)
    return values, proven | empty


# No blank or formula: starts with an ASCII letter or digit, ends with a visible ASCII character.
_PLAIN_TEXT = rf"[0-9A-Za-z](?s:.*{_VISIBLE_ASCII})?"
_PLAIN_FIRST_BYTE = np.isin(np.arange(256), [ord(c) for c in string.ascii_letters + string.digits])
_PLAIN_LAST_BYTE = (np.arange(256) >= ord("!")) & (np.arange(256) <= ord("~"))


def _plain_texts(texts: pd.Series) -> np.ndarray:
    """Which texts are _PLAIN_TEXT. For pyarrow strings that is read off their first and last UTF-8 byte (every
    byte of a non-ASCII character is 0x80 or more, so never plain): a fraction of the pattern's cost."""
    if pa is None or not isinstance(texts.array, pd.arrays.ArrowStringArray):
        return texts.str.fullmatch(_PLAIN_TEXT).to_numpy(dtype=bool)
    plain = [np.zeros(0, dtype=bool)]
    for chunk in pa.chunked_array(pa.array(texts.array)).chunks:
        _, offsets, data = chunk.buffers()
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        ends = np.frombuffer(offsets, dtype=width)[chunk.offset : chunk.offset + len(chunk) + 1]
        filled = np.diff(ends) > 0
        if not filled.any():
            plain.append(filled)
            continue
        data = np.frombuffer(data, dtype=np.uint8)
        first = _PLAIN_FIRST_BYTE[data[np.where(filled, ends[:-1], 0)]]
        last = _PLAIN_LAST_BYTE[data[np.where(filled, ends[1:] - 1, 0)]]
        plain.append(filled & first & last & ~chunk.is_null().to_numpy(zero_copy_only=False))
    return np.concatenate(plain)


def _bulk_str(texts: pd.Series, layout: Layout) -> _Bulk:
    plain = _plain_texts(texts)  # parse_str gives these as they are
    return texts.where(plain).astype(_PANDAS_TYPES["str"]).array, plain


def _bulk_float(texts: pd.Series, layout: Layout) -> _Bulk:
    """parse_decimal's steps; a text that then is ASCII digits with an optional sign and point had no space,
    euro sign or Unicode digit, which parse_decimal would treat differently."""
    numbers = texts
    proven = np.ones(len(texts), dtype=bool)
    if layout.thousands:  # parse_decimal's grouping check: the whole part grouped by three, never 123.45
        grouped = numbers.str.contains(layout.thousands, regex=False).to_numpy(dtype=bool)
        whole = numbers if layout.decimal == layout.thousands else numbers.str.split(layout.decimal, n=1).str[0]
        proven &= ~grouped | whole.str.fullmatch(_grouped(layout.thousands)).to_numpy(dtype=bool)
        numbers = numbers.str.replace(layout.thousands, "", regex=False)
    if layout.decimal != ".":
        proven &= ~numbers.str.contains(".", regex=False).to_numpy(dtype=bool)
        numbers = numbers.str.replace(layout.decimal, ".", regex=False)
    proven &= numbers.str.fullmatch(r"-?[0-9]+(\.[0-9]+)?").to_numpy(dtype=bool)
    return numbers.where(proven).astype(_PANDAS_TYPES["float"]).array, proven


def _bulk_int(texts: pd.Series, layout: Layout) -> _Bulk:
    proven = texts.str.fullmatch("[0-9]{1,18}").to_numpy(dtype=bool)
    return texts.where(proven).astype(_PANDAS_TYPES["int"]).array, proven


_DATE_FIELD_WIDTHS = {"d": 2, "m": 2, "Y": 4}


def _date_fields(fmt: str) -> tuple[str, dict[str, int]] | None:
    """For a format of %d, %m and %Y (once each) between literal characters: the pattern of its texts in ASCII
    digits and where each field starts. None for other formats (those go through strptime only)."""
    pattern, starts, position = "", {}, 0
    for token in re.findall("%.?|.", fmt, flags=re.DOTALL):
        if token.startswith("%"):
            name = token[1:]
            if name not in _DATE_FIELD_WIDTHS or name in starts:
                return None
            starts[name] = position
            pattern += f"[0-9]{{{_DATE_FIELD_WIDTHS[name]}}}"
            position += _DATE_FIELD_WIDTHS[name]
        elif token.isspace():  # strptime lets a space stand for any run of whitespace
            return None
        else:
            pattern += re.escape(token)
            position += 1
    return (pattern, starts) if len(starts) == len(_DATE_FIELD_WIDTHS) else None


def _bulk_date(texts: pd.Series, layout: Layout) -> _Bulk:
    """Texts in the agreed shape whose numbers make a calendar date (strptime refuses the others)."""
    dates = np.full(len(texts), np.datetime64("NaT"), dtype="datetime64[s]")
    proven = np.zeros(len(texts), dtype=bool)
    fields = _date_fields(layout.date_format)
    if fields is None:
        return pd.array(dates), proven
    pattern, starts = fields
    shaped = np.flatnonzero(texts.str.fullmatch(pattern).to_numpy(dtype=bool))
    year, month, day = (
        texts.iloc[shaped].str.slice(starts[f], starts[f] + _DATE_FIELD_WIDTHS[f]).astype("Int64").to_numpy(np.int64)
        for f in ("Y", "m", "d")
    )
    months = (year - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (month - 1)
    first_day = months.astype("datetime64[D]")
    month_length = ((months + 1).astype("datetime64[D]") - first_day).astype(np.int64)
    valid = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_length)
    dates[shaped[valid]] = first_day[valid] + (day[valid] - 1)
    proven[shaped[valid]] = True
    return pd.array(dates), proven


_BULK: dict[str, Callable[[pd.Series, Layout], _Bulk]] = {
    "str": _bulk_str,
    "float": _bulk_float,
    "int": _bulk_int,
    "date": _bulk_date,
}


def parse_bytes(data: bytes, layout: Layout, kind: str, limits: ReadLimits | None = None) -> ParseResult:
    try:
        raw = read_table(data, layout, limits)
    except FileRejected as exc:
        return ParseResult(pd.DataFrame(), exc.issues)
    return convert(raw, layout, kind)


def parse_file(path: Path, layout: Layout, kind: str) -> ParseResult:
    return parse_bytes(Path(path).read_bytes(), layout, kind)
