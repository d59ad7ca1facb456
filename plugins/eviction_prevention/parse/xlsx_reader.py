""".xlsx: refuse encrypted or old .xls files and zip bombs (declared cells, unpacked size), read with calamine,
and with openpyxl the workbooks calamine reads differently (error cells, texts of only whitespace).
"""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import numpy as np
import pandas as pd

from eviction_prevention.parse.issues import OLE_MAGIC, FileRejected, Issue, reject
from eviction_prevention.parse.table import blank_cells, blank_rows, texts_table
from eviction_prevention.parse.values import as_openpyxl
from eviction_prevention.partners import Layout, ReadLimits

_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")


def _check_not_encrypted_or_xls(data: bytes) -> None:
    if data.startswith(OLE_MAGIC):
        if _ENCRYPTED_PACKAGE in data:
            raise reject(
                "xlsx_encrypted", "het Excel-bestand is met een wachtwoord beveiligd; lever het zonder wachtwoord aan"
            )
        raise reject("xls_format", "het bestand is een oud Excel-bestand (.xls); lever een .xlsx-bestand aan")


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
        raise reject("xlsx", "het Excel-bestand kan niet worden geopend (beschadigd of geen .xlsx)") from exc
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
    return reject("xlsx_too_big", f"het Excel-bestand is uitgepakt te groot (meer dan {limits.unpacked_mb} MB)")


def damaged_xlsx() -> FileRejected:
    """An .xlsx member whose checksum or length does not match, or that does not inflate."""
    return reject(
        "xlsx_damaged", "het Excel-bestand is beschadigd: een onderdeel klopt niet met zijn controlegetal of lengte"
    )


def _check_xml_head(head: bytes, name: str, limits: ReadLimits) -> None:
    if b"<!DOCTYPE" in head[:4096] or b"<!ENTITY" in head[:4096]:
        raise reject("xlsx_dtd", "het Excel-bestand bevat niet-toegestane XML-definities (DOCTYPE/ENTITY)")
    if name.startswith("xl/worksheets/"):
        declared = _declared_cells(head)
        if declared is not None and declared[0] * declared[1] > limits.cells:
            rows, columns = declared
            raise reject(
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


def read_xlsx(data: bytes, layout: Layout, limits: ReadLimits) -> pd.DataFrame:
    _check_not_encrypted_or_xls(data)
    scan = _scan_xlsx(data, limits)
    names, sheets = _openpyxl_sheets(data) if scan.needs_openpyxl else _calamine_sheets(data)
    if layout.sheet and layout.sheet not in names:
        raise FileRejected([Issue("sheet", f"tabblad '{layout.sheet}' ontbreekt")])
    with_data = [name for name, rows in sheets.items() if _has_data(rows)]
    if len(with_data) > 1:
        positions = " en ".join(str(n) for n, name in enumerate(sheets, start=1) if name in with_data)
        raise reject(  # sheet names are text from the file: only their positions are named
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
    kept = np.flatnonzero(~blank_rows(cells, blank_cells))
    if not len(kept):
        raise FileRejected([Issue("empty", "het bestand is leeg")])
    cells = cells.iloc[kept, : len(rows[kept[0]])]
    header = ["" if h is None else str(as_openpyxl(h)).strip() for h in cells.iloc[0]]
    return texts_table(cells.iloc[1:], header, [], nul=nul)
