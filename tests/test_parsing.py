"""Parsing partner layouts into canonical typed records, with hand-computed expected values."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pandas as pd
import pytest
from eviction_prevention.intake.check import check_file
from eviction_prevention.parse import convert, csv_reader
from eviction_prevention.parse.files import parse_bytes
from eviction_prevention.parse.values import parse_bool, parse_date, parse_decimal
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


def tablis_workbook(*rows: dict[str, object]) -> bytes:
    tablis = get_partner("tablis")
    headers = list(tablis.layout.columns.values())
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Huurachterstanden"
    ws.append(headers)
    base = {h: None for h in headers} | {
        "Huurovereenkomst": "TW/1",
        "Voorletters": "A.",
        "Naam": "Yılmaz",
        "Nr": 7,
        "Postcode": "3361 CD",
        "Woonplaats": "Sliedrecht",
        "Kale huur + servicekosten": 700.0,
        "Saldo achterstand": 1400.5,
        "Peildatum": dt.date(2026, 10, 31),
    }
    for row in rows:
        ws.append([(base | row)[h] for h in headers])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_xlsx_with_real_date_cells() -> None:
    tablis = get_partner("tablis")
    data = tablis_workbook(
        {
            "Huurovereenkomst": "TW/12345",
            "Saldo achterstand": 1400.0,
            "Datum T0": dt.date(2026, 9, 30),
            "Minderjarige kinderen": "Nee",
        }
    )
    accepted, issues = check_file(data, tablis)
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


def test_ragged_rows_are_named_and_left_empty_while_the_other_rows_convert() -> None:
    data = trivire_file({"Contractnummer": "TRV-1"}, {"Contractnummer": "TRV-2"}, {"Contractnummer": "TRV-3"})
    lines = data.decode("cp1252").split("\r\n")
    lines[2] = lines[2].rsplit(";", 1)[0]  # TRV-2 lost its last cell
    lines[3] = "TRV-3;J.;"  # cut off: the last line
    result = parse_bytes("\r\n".join(lines).encode("cp1252"), TRIVIRE.layout, "corporation")
    assert [(i.code, i.row, i.message) for i in result.issues] == [
        ("row_width", 3, "regel 3: 24 kolommen in plaats van 25"),
        ("row_width", 4, "regel 4: 3 kolommen in plaats van 25 (de laatste regel lijkt afgebroken)"),
    ]
    assert result.frame["tenancy_ref"].tolist() == ["TRV-1", pd.NA, pd.NA]
    assert result.frame["source_row"].tolist() == [2, 3, 4]
    assert result.frame["arrears_amount"].iloc[0] == pytest.approx(1234.56)


def test_quoted_cells_and_blank_lines_read_alike_by_pyarrow_and_by_csv() -> None:
    headers = list(TRIVIRE.layout.columns.values())
    good = trivire_file({}).decode("cp1252").split("\r\n")[1]
    row = good.replace("Dordrecht", '"Dordrecht;\r\ncentrum"').replace("Hoëtmer", '"Hoët""mer"')
    lines = [";".join(headers), "", row, ";" * (len(headers) - 1), good.replace("TRV-0000001", " TRV-2 ")]
    regular = ("\r\n".join(lines) + "\r\n").encode("cp1252")
    irregular = ("\r\n".join([*lines, "   "]) + "\r\n").encode("cp1252")  # a one-cell line: pyarrow refuses
    assert csv_reader._read_regular_csv(regular.decode("cp1252"), TRIVIRE.layout) is not None
    assert csv_reader._read_regular_csv(irregular.decode("cp1252"), TRIVIRE.layout) is None
    for data in (regular, irregular):
        result = parse_bytes(data, TRIVIRE.layout, "corporation")
        assert not result.issues
        assert result.frame["city"].tolist() == ["Dordrecht;\r\ncentrum", "Dordrecht"]
        assert result.frame["surname"].tolist() == ['Hoët"mer', "Hoëtmer"]
        assert result.frame["tenancy_ref"].tolist() == ["TRV-0000001", "TRV-2"]
        assert result.frame["source_row"].tolist() == [2, 3]  # blank lines are not counted


def test_a_bad_value_repeated_gives_one_issue_per_row_in_column_then_row_order() -> None:
    result = parse_bytes(
        trivire_file(
            {"Datum 1 maand achterstand": "31-02-2026"},
            {"Kinderen in huishouden": "misschien"},
            {"Datum 1 maand achterstand": "31-02-2026", "Kinderen in huishouden": "misschien"},
            {"Achternaam": "=HYPERLINK(1)", "Achterstand": "€ 1.234,50", "Huisnummer": " 12 "},
        ),
        TRIVIRE.layout,
        "corporation",
    )
    formula = "kolom 'Achternaam' begint met een formule (=, +, -, @); formules zijn niet toegestaan"
    impossible = "datum '31-02-2026' in kolom 'Datum 1 maand achterstand' bestaat niet"
    not_yes_no = "kolom 'Kinderen in huishouden' bevat geen geldige ja/nee-waarde 'misschien' (verwacht J/N)"
    assert [(i.code, i.row, i.message) for i in result.issues] == [
        ("formula", 5, f"regel 5: {formula}"),
        ("type", 2, f"regel 2: {impossible}"),
        ("type", 4, f"regel 4: {impossible}"),
        ("type", 3, f"regel 3: {not_yes_no}"),
        ("type", 4, f"regel 4: {not_yes_no}"),
    ]
    frame = result.frame
    assert frame["t0_date"].isna().tolist() == [True, True, True, True]
    assert frame["t0_date"].dtype == "datetime64[s]"
    assert frame["arrears_amount"].tolist() == [1234.56, 1234.56, 1234.56, 1234.5]
    assert frame["house_number"].tolist() == [12, 12, 12, 12]
    assert frame["surname"].tolist() == ["Hoëtmer", "Hoëtmer", "Hoëtmer", pd.NA]


def test_xlsx_cells_convert_as_openpyxl_read_them() -> None:
    tablis = get_partner("tablis")
    data = tablis_workbook(
        {"Datum T0": dt.datetime(2026, 9, 30, 13, 30), "Saldo achterstand": -0.0, "Tel.": 612345678},
        {"Nr": -5, "Minderjarige kinderen": 1, "Datum T0": 46000},
        {"Nr": 12.0, "Bezwaar": True, "Kale huur + servicekosten": "712,25"},
    )
    result = parse_bytes(data, tablis.layout, "corporation")
    assert [(i.row, i.message) for i in result.issues] == [
        (3, "regel 3: kolom 'Nr' bevat geen geldig getal"),
        (3, "regel 3: kolom 'Datum T0' bevat geen geldige datum '46000' (verwacht dd-mm-jjjj)"),
        (4, "regel 4: kolom 'Bezwaar' bevat geen geldige ja/nee-waarde 'True' (verwacht Ja/Nee)"),
        (3, "regel 3: kolom 'Minderjarige kinderen' bevat geen geldige ja/nee-waarde '1' (verwacht Ja/Nee)"),
    ]
    frame = result.frame
    assert frame["t0_date"].tolist()[0] == pd.Timestamp("2026-09-30")
    assert frame["snapshot_date"].tolist() == [pd.Timestamp("2026-10-31")] * 3
    assert frame["house_number"].tolist() == [7, pd.NA, 12]
    assert frame["phone"].tolist() == ["612345678", pd.NA, pd.NA]
    assert frame["monthly_rent"].tolist() == [700.0, 700.0, 712.25]
    assert str(frame["arrears_amount"].iloc[0]) == "0.0"  # openpyxl read -0 as the int 0


def test_xlsx_error_and_whitespace_cells_are_read_as_text() -> None:
    tablis = get_partner("tablis")
    result = parse_bytes(tablis_workbook({"Datum T0": "#N/A"}, {"Letter": "\t"}), tablis.layout, "corporation")
    assert [(i.code, i.row, i.message) for i in result.issues] == [
        ("formula", 3, "regel 3: kolom 'Letter' begint met een formule (=, +, -, @); formules zijn niet toegestaan"),
        ("type", 2, "regel 2: kolom 'Datum T0' bevat geen geldige datum '#N/A' (verwacht dd-mm-jjjj)"),
    ]


@pytest.mark.parametrize("storage", ["pyarrow", "python"])
def test_plain_texts_are_those_stripping_and_formula_checks_cannot_change(storage: str) -> None:
    texts = ["Jansen", "J.", "9", " x", "x ", "a\n", "=1", "+31 6", "Öz", "Hoë", "'s-Gravendeel", ""]
    plain = convert._plain_texts(pd.Series(texts, dtype=pd.StringDtype(storage, na_value=float("nan"))))
    assert plain.tolist() == [True, True, True] + [False] * 9
