"""Parsing partner layouts into canonical typed records, with hand-computed expected values."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pandas as pd
import pytest
from eviction_prevention.intake import check_file
from eviction_prevention.parsing import parse_bool, parse_bytes, parse_date, parse_decimal
from eviction_prevention.partners import get_partner

TRIVIRE = get_partner("trivire")


def trivire_file(*rows: dict[str, str], drop: str | None = None) -> bytes:
    headers = [h for h in TRIVIRE.layout.columns.values() if h != drop]
    base = {h: "" for h in headers}
    lines = [";".join(headers)]
    for row in rows:
        values = (
            base
            | {
                "Contractnummer": "TRV-0000001",
                "Voorletters": "J.",
                "Achternaam": "Hoëtmer",
                "Huisnummer": "12",
                "Postcode": "3311 AB",
                "Plaats": "Dordrecht",
                "Maandhuur": "612,50",
                "Achterstand": "1.234,56",
                "Peildatum": "31-10-2026",
            }
            | row
        )
        lines.append(";".join(values[h] for h in headers))
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


@pytest.mark.parametrize(
    ("raw", "decimal", "thousands", "expected"),
    [("1.234,56", ",", ".", 1234.56), ("612,5", ",", ".", 612.5), ("3240.78", ".", "", 3240.78), ("0", ",", ".", 0.0)],
)
def test_parse_decimal(raw: str, decimal: str, thousands: str, expected: float) -> None:
    assert parse_decimal(raw, decimal, thousands) == pytest.approx(expected)


def test_parse_decimal_rejects_a_point_when_comma_is_agreed() -> None:
    with pytest.raises(ValueError):
        parse_decimal("1234.56", ",", "")


def test_parse_date_formats() -> None:
    assert parse_date("29-02-2028", "%d-%m-%Y") == dt.date(2028, 2, 29)
    assert parse_date(dt.datetime(2026, 10, 31, 0, 0), "%d-%m-%Y") == dt.date(2026, 10, 31)
    assert parse_date("", "%d-%m-%Y") is None
    with pytest.raises(ValueError):
        parse_date("31-02-2026", "%d-%m-%Y")


def test_parse_bool_uses_partner_values() -> None:
    layout = TRIVIRE.layout
    assert parse_bool("J", layout) is True
    assert parse_bool("n", layout) is False
    assert parse_bool("", layout) is None


def test_trivire_csv_to_canonical() -> None:
    result = parse_bytes(
        trivire_file({"Datum 1 maand achterstand": "01-09-2026", "Kinderen in huishouden": "J"}),
        TRIVIRE.layout,
        "corporation",
    )
    assert not result.issues
    row = result.frame.iloc[0]
    assert row["surname"] == "Hoëtmer"
    assert row["arrears_amount"] == pytest.approx(1234.56)
    assert row["monthly_rent"] == pytest.approx(612.5)
    assert row["house_number"] == 12
    assert row["t0_date"] == pd.Timestamp("2026-09-01")
    assert bool(row["children"]) is True
    assert row["source_row"] == 2


def test_missing_column_is_named_in_dutch() -> None:
    result = parse_bytes(trivire_file({}, drop="Postcode"), TRIVIRE.layout, "corporation")
    assert result.rejected
    assert [i.message for i in result.issues if i.severity == "critical"] == ["kolom 'Postcode' ontbreekt"]


def test_impossible_date_names_row_and_value() -> None:
    result = parse_bytes(
        trivire_file({}, {"Contractnummer": "TRV-2", "Datum 1 maand achterstand": "31-02-2026"}),
        TRIVIRE.layout,
        "corporation",
    )
    assert [i.message for i in result.issues] == [
        "regel 3: datum '31-02-2026' in kolom 'Datum 1 maand achterstand' bestaat niet"
    ]
    assert result.rejected_rows == {3}


def test_bad_birth_date_is_reported_without_its_value() -> None:
    result = parse_bytes(trivire_file({"Geboortedatum": "31-02-1970"}), TRIVIRE.layout, "corporation")
    (issue,) = result.issues
    assert "1970" not in issue.message
    assert issue.message.startswith("regel 2: kolom 'Geboortedatum' bevat geen geldige datum")


def test_utf8_bytes_in_cp1252_file_are_read_as_agreed_encoding_but_utf8_file_rejects_cp1252() -> None:
    woonbron = get_partner("woonbron")
    header = ",".join(woonbron.layout.columns.values())
    data = ("\ufeff" + header + "\n").encode("utf-8") + b"x" + "ë".encode("cp1252") + b"\n"
    result = parse_bytes(data, woonbron.layout, "corporation")
    assert result.rejected
    assert "tekencodering (utf-8-sig)" in result.issues[0].message


def test_empty_and_header_only_files() -> None:
    assert parse_bytes(b"", TRIVIRE.layout, "corporation").issues[0].message == "het bestand is leeg"
    header_only = trivire_file()
    accepted, issues = check_file(header_only, TRIVIRE)
    assert accepted.empty
    assert [i.message for i in issues] == ["het bestand bevat geen gegevensregels (alleen een kopregel)"]


def test_xlsx_with_real_date_cells() -> None:
    tablis = get_partner("tablis")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Huurachterstanden"
    headers = list(tablis.layout.columns.values())
    ws.append(headers)
    values = {h: None for h in headers} | {
        "Huurovereenkomst": "TW/12345",
        "Voorletters": "A.",
        "Naam": "Yılmaz",
        "Nr": 7,
        "Postcode": "3361 CD",
        "Woonplaats": "Sliedrecht",
        "Kale huur + servicekosten": 700.0,
        "Saldo achterstand": 1400.0,
        "Datum T0": dt.date(2026, 9, 30),
        "Peildatum": dt.date(2026, 10, 31),
        "Minderjarige kinderen": "Nee",
    }
    ws.append([values[h] for h in headers])
    buffer = io.BytesIO()
    wb.save(buffer)
    accepted, issues = check_file(buffer.getvalue(), tablis)
    assert not [i for i in issues if i.severity != "warning"]
    assert accepted.iloc[0]["t0_date"] == pd.Timestamp("2026-09-30")
    assert accepted.iloc[0]["house_number"] == 7
    assert bool(accepted.iloc[0]["children"]) is False


def test_xlsx_missing_sheet() -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "Blad1"
    buffer = io.BytesIO()
    wb.save(buffer)
    _, issues = check_file(buffer.getvalue(), get_partner("tablis"))
    assert [i.message for i in issues] == ["tabblad 'Huurachterstanden' ontbreekt"]
