"""Turn a partner file into canonical, typed records using the partner's layout mapping.

Problems are reported as :class:`Issue` objects with Dutch messages a partner's clerk understands.
A message never quotes the value of an identifier column (names, birth dates, addresses, BSN):
only its row number and column header.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from eviction_prevention import schema
from eviction_prevention.partners import Layout


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
MAX_XLSX_UNPACKED_BYTES = 200 * 1024 * 1024
# A text cell a spreadsheet would run as a formula (CSV/formula injection); "+31 6 ..." is a phone number.
_FORMULA_RE = re.compile(r"^\s*(?:[=@\t\r]|[+-]\s*[A-Za-z(])")


def read_table(data: bytes, layout: Layout) -> pd.DataFrame:
    """Read the raw bytes into a frame of strings (CSV) or Python objects (xlsx), header as given."""
    if layout.format == "xlsx":
        return _read_xlsx(data, layout)
    if layout.format == "csv":
        return _read_csv(data, layout)
    raise FileRejected([Issue("format", f"onbekend bestandsformaat '{layout.format}'")])


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


def _read_csv(data: bytes, layout: Layout) -> pd.DataFrame:
    if not data.strip():
        raise FileRejected([Issue("empty", "het bestand is leeg")])
    _check_not_binary(data)
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
    text = text.removeprefix("\ufeff")
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
    frame = pd.DataFrame(body, columns=header, dtype=object)
    frame.attrs["issues"] = issues
    return frame


def _check_xlsx_container(data: bytes) -> None:
    """Refuse what openpyxl should never parse: encrypted/old files, XML with DTDs (entity bombs), zip bombs."""
    if data.startswith(OLE_MAGIC):
        if _ENCRYPTED_PACKAGE in data:
            raise _reject(
                "xlsx_encrypted", "het Excel-bestand is met een wachtwoord beveiligd; lever het zonder wachtwoord aan"
            )
        raise _reject("xls_format", "het bestand is een oud Excel-bestand (.xls); lever een .xlsx-bestand aan")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if sum(m.file_size for m in members) > MAX_XLSX_UNPACKED_BYTES:
                raise _reject("xlsx_too_big", "het Excel-bestand is uitgepakt te groot (meer dan 200 MB)")
            for member in members:
                if member.filename.endswith((".xml", ".rels", ".vml")):
                    with archive.open(member) as fh:
                        head = fh.read(4096)
                    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                        raise _reject(
                            "xlsx_dtd", "het Excel-bestand bevat niet-toegestane XML-definities (DOCTYPE/ENTITY)"
                        )
    except zipfile.BadZipFile as exc:
        raise _reject("xlsx", "het Excel-bestand kan niet worden geopend (beschadigd of geen .xlsx)") from exc


def _data_sheets(workbook: object) -> list[str]:
    return [
        ws.title
        for ws in workbook.worksheets
        if any(any(c not in (None, "") for c in r) for r in ws.iter_rows(values_only=True))
    ]


def _read_xlsx(data: bytes, layout: Layout) -> pd.DataFrame:
    import openpyxl

    _check_xlsx_container(data)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise FileRejected(
            [Issue("xlsx", "het Excel-bestand kan niet worden geopend (beschadigd of beveiligd)")]
        ) from exc
    if layout.sheet and layout.sheet not in workbook.sheetnames:
        workbook.close()
        raise FileRejected([Issue("sheet", f"tabblad '{layout.sheet}' ontbreekt")])
    sheets = _data_sheets(workbook)
    if len(sheets) > 1:
        workbook.close()
        names = ", ".join(f"'{s}'" for s in sheets)
        raise _reject(
            "sheets", f"het Excel-bestand heeft {len(sheets)} tabbladen met gegevens ({names}); lever één tabblad aan"
        )
    sheet = workbook[layout.sheet] if layout.sheet else workbook.worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    workbook.close()
    rows = [r for r in rows if any(c not in (None, "") for c in r)]
    if not rows:
        raise FileRejected([Issue("empty", "het bestand is leeg")])
    header = ["" if h is None else str(h).strip() for h in rows[0]]
    body = [(r + [None] * len(header))[: len(header)] for r in rows[1:]]
    frame = pd.DataFrame(body, columns=header, dtype=object)
    frame.attrs["issues"] = []
    return frame


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


def parse_decimal(value: object, decimal: str, thousands: str) -> float | None:
    """A number like ``1.234,56`` (decimal comma) or ``1234.56``. Raises ValueError."""
    if _is_blank(value):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().replace("\u20ac", "").replace(" ", "")
    if thousands:
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


def _type_error_message(col: schema.Column, header: str, row: int, raw: object, layout: Layout) -> str:
    shown = f" '{raw}'" if col.role == "attribute" else ""
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
    by_header = {v: k for k, v in layout.columns.items()}
    present = set(frame.columns)
    for col in schema.columns(kind):
        header = layout.columns.get(col.name)
        if col.required and (header is None or header not in present):
            issues.append(Issue("missing_column", f"kolom '{header or col.name}' ontbreekt", column=col.name))
    unknown = [h for h in frame.columns if h not in by_header]
    for header in unknown:  # data minimisation: only the agreed columns may be delivered
        issues.append(
            Issue("unknown_column", f"kolom '{header}' is niet afgesproken; lever alleen de afgesproken kolommen aan")
        )
    if len(set(frame.columns)) != len(frame.columns):
        issues.append(Issue("duplicate_column", "een kolomnaam komt meer dan eens voor"))
    if any(i.severity == "critical" for i in issues):
        return ParseResult(pd.DataFrame(), issues)

    out: dict[str, list] = {}
    n_rows = len(frame)
    for col in schema.columns(kind):
        header = layout.columns.get(col.name)
        if header is None or header not in present:
            out[col.name] = [None] * n_rows
            continue
        out[col.name] = _convert_column(frame[header].tolist(), col, header, layout, issues)
    result = pd.DataFrame(out)
    result["source_row"] = range(2, n_rows + 2)
    return ParseResult(_typed(result, kind), issues)


_FORMULA = object()  # cache markers: the value is a formula / not of the column's type
_BAD_TYPE = object()


def _convert_one(raw: object, col: schema.Column, layout: Layout) -> object:
    """The typed value of one cell, or a marker saying why it has none."""
    if col.type == "str" and isinstance(raw, str) and _FORMULA_RE.match(raw):
        return _FORMULA
    try:
        return _convert_value(raw, col, layout)
    except (ValueError, TypeError):
        return _BAD_TYPE


def _convert_column(raws: list, col: schema.Column, header: str, layout: Layout, issues: list[Issue]) -> list:
    """Convert a column, each distinct cell value once (dates, amounts and places repeat a lot)."""
    cache: dict[tuple[type, object], object] = {}  # keyed by type too: 1, 1.0 and True are equal keys
    values = []
    for i, raw in enumerate(raws):
        try:
            value = cache[type(raw), raw]
        except KeyError:
            value = cache[type(raw), raw] = _convert_one(raw, col, layout)
        except TypeError:  # an unhashable cell
            value = _convert_one(raw, col, layout)
        if value is _FORMULA:
            issues.append(_formula_issue(header, i + 2, col.name))
            value = None
        elif value is _BAD_TYPE:
            line = i + 2
            message = _type_error_message(col, header, line, raw, layout)
            issues.append(Issue("type", message, row=line, column=col.name, severity="row"))
            value = None
        values.append(value)
    return values


def _formula_issue(header: str, line: int, column: str) -> Issue:
    return Issue(
        "formula",
        f"regel {line}: kolom '{header}' begint met een formule (=, +, -, @); formules zijn niet toegestaan",
        row=line,
        column=column,
    )


def _convert_value(raw: object, col: schema.Column, layout: Layout) -> object:
    if col.type == "date":
        return parse_date(raw, layout.date_format)
    if col.type == "float":
        return parse_decimal(raw, layout.decimal, layout.thousands)
    if col.type == "int":
        return parse_int(raw)
    if col.type == "bool":
        return parse_bool(raw, layout)
    return parse_str(raw)


_PANDAS_TYPES = {"str": "string", "int": "Int64", "float": "Float64", "bool": "boolean", "date": "datetime64[s]"}


def _typed(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    for col in schema.columns(kind):
        frame[col.name] = frame[col.name].astype(_PANDAS_TYPES[col.type])
    return frame


def parse_bytes(data: bytes, layout: Layout, kind: str) -> ParseResult:
    try:
        raw = read_table(data, layout)
    except FileRejected as exc:
        return ParseResult(pd.DataFrame(), exc.issues)
    return convert(raw, layout, kind)


def parse_file(path: Path, layout: Layout, kind: str) -> ParseResult:
    return parse_bytes(Path(path).read_bytes(), layout, kind)
