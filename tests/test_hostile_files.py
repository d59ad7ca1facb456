"""Files that could take the reader down cost only themselves (issue 16, class 1): each is rejected with its own
Dutch reason, gets a receipt and stays in quarantine, while the good file of the same partner batch loads and
settles. Built here, delivered through the embedded SFTP server, run on DuckDB and PostgreSQL."""

from __future__ import annotations

import io
import json
import os
import re
import struct
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from eviction_prevention import warehouse
from eviction_prevention.intake import check as intake_check
from eviction_prevention.intake import files as intake_files
from eviction_prevention.intake import ingest as intake_ingest
from eviction_prevention.intake import receipts as intake_receipts
from eviction_prevention.intake import settle
from eviction_prevention.parse import sandbox
from eviction_prevention.partners import ReadLimits, get_partner

from tests.conftest import PartnerSFTP, run_intake
from tests.fixtures.build_corpus import arrears_rows, csv_bytes, xlsx_bytes

pytestmark = pytest.mark.sftp

TABLIS = "Huurachterstanden_2026-10-31_{}.xlsx"
TRIVIRE = "huurachterstand_2026-10-31_{}.csv"


def _rewrite_xlsx(data: bytes, change) -> bytes:
    """The workbook with each member's bytes passed through ``change(name, bytes)``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for member in zin.infolist():
            zout.writestr(member, change(member.filename, zin.read(member)))
    return out.getvalue()


def _in_sheet(old: bytes, new: bytes):
    def change(name: str, body: bytes) -> bytes:
        if name.startswith("xl/worksheets/sheet"):
            assert old in body
            return body.replace(old, new, 1)
        return body

    return change


def _far_cell(data: bytes) -> bytes:
    """One extra cell at the sheet's last row and column: the used range becomes 17 billion cells, while the
    file stays a few kB (the sheet's <dimension> is left as it was)."""
    return _rewrite_xlsx(
        data, _in_sheet(b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>')
    )


def _declared_range(data: bytes) -> bytes:
    def change(name: str, body: bytes) -> bytes:
        if name.startswith("xl/worksheets/sheet"):
            body = re.sub(rb"<dimension ref=\"[^\"]*\"\s*/>", b"", body)
            start = body.index(b"<sheetData")
            return body[:start] + b'<dimension ref="A1:XFD1048576"/>' + body[start:]
        return body

    return _rewrite_xlsx(data, change)


def _member_offsets(data: bytes, name: str) -> tuple[int, int]:
    """(local header offset, central directory header offset) of a member."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        local, central = archive.getinfo(name).header_offset, archive.start_dir
    while True:  # walk the central directory: 46 bytes, then name, extra field and comment
        assert data[central : central + 4] == b"PK\x01\x02"
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, central + 28)
        if data[central + 46 : central + 46 + name_len] == name.encode():
            return local, central
        central += 46 + name_len + extra_len + comment_len


def _sheet_name(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return next(n for n in archive.namelist() if n.startswith("xl/worksheets/sheet"))


def _bad_checksum(data: bytes) -> bytes:
    """The sheet's CRC-32, in both headers, off by one: the bytes inflate fine but do not match it."""
    name = _sheet_name(data)
    local, central = _member_offsets(data, name)
    out = bytearray(data)
    for at in (local + 14, central + 16):
        (crc,) = struct.unpack_from("<I", out, at)
        struct.pack_into("<I", out, at, crc ^ 1)
    return bytes(out)


def _understated_size(data: bytes) -> bytes:
    """The sheet's uncompressed size, in both headers, says 100 bytes: it inflates to more."""
    name = _sheet_name(data)
    local, central = _member_offsets(data, name)
    out = bytearray(data)
    struct.pack_into("<I", out, local + 22, 100)
    struct.pack_into("<I", out, central + 24, 100)
    return bytes(out)


def _nul_in_city(data: bytes) -> bytes:
    """Excel's escaped NUL in a text cell (the first data row's city)."""

    def change(name: str, body: bytes) -> bytes:
        if name == "xl/sharedStrings.xml" and b"Dordrecht" in body:
            return body.replace(b"Dordrecht", b"Dord_x0000_recht", 1)
        if name.startswith("xl/worksheets/sheet") and b"Dordrecht" in body:
            return body.replace(b"Dordrecht", b"Dord_x0000_recht", 1)
        return body

    changed = _rewrite_xlsx(data, change)
    assert changed != data
    return changed


def _unterminated_quote() -> bytes:
    lines = csv_bytes("trivire", arrears_rows("TRQ")).decode("cp1252").split("\r\n")
    lines[2] = lines[2].replace(";", ';"', 1)  # a quote that is never closed swallows the rest of the file
    return ("\r\n".join(lines) + "x" * 150_000 + "\r\n").encode("cp1252")


def _giant_cell() -> bytes:
    lines = csv_bytes("trivire", arrears_rows("TRG")).decode("cp1252").split("\r\n")
    cells = lines[1].split(";")
    cells[1] = '"' + "A." * 100_000 + '"'  # 200,000 characters of initials, properly quoted
    lines[1] = ";".join(cells)
    return "\r\n".join(lines).encode("cp1252")


DAMAGED = "klopt niet met zijn controlegetal of lengte"
TOO_LONG = "een cel is langer dan 131.072 tekens"
HOSTILE = [  # (partner, fault, bytes, the reason the partner reads)
    ("tablis", "far_cell", lambda: _far_cell(xlsx_bytes(arrears_rows("TF1"))), "lezen van het bestand is afgebroken"),
    ("tablis", "declared_range", lambda: _declared_range(xlsx_bytes(arrears_rows("TF2"))), "1048576 rijen en 16384"),
    ("tablis", "bad_checksum", lambda: _bad_checksum(xlsx_bytes(arrears_rows("TF3"))), DAMAGED),
    ("tablis", "understated_size", lambda: _understated_size(xlsx_bytes(arrears_rows("TF4"))), DAMAGED),
    ("tablis", "nul_character", lambda: _nul_in_city(xlsx_bytes(arrears_rows("TF5"))), "bevat een NUL-teken (_x0000_)"),
    ("trivire", "unterminated_quote", _unterminated_quote, TOO_LONG),
    ("trivire", "giant_cell", _giant_cell, TOO_LONG),
]  # fmt: skip


def test_a_hostile_file_costs_only_itself(tmp_path: Path, partner_sftp: PartnerSFTP, warehouse_url: str, key: bytes):
    # the hostile files sort before the good one, so the good one is read after every one of them
    for i, (partner, fault, build, _reason) in enumerate(HOSTILE):
        local = tmp_path / fault / (TABLIS if partner == "tablis" else TRIVIRE).format(f"a{i}_{fault}")
        local.parent.mkdir()
        local.write_bytes(build())
        partner_sftp.upload(partner, local)
    goods = {
        "tablis": ("Huurachterstanden_2026-10-31_z_good.xlsx", xlsx_bytes(arrears_rows("TGOOD"))),
        "trivire": ("huurachterstand_2026-10-31_z_good.csv", csv_bytes("trivire", arrears_rows("TRGOOD"))),
    }
    for partner, (name, data) in goods.items():
        (tmp_path / name).write_bytes(data)
        partner_sftp.upload(partner, tmp_path / name)

    outcomes = {}
    for partner in goods:
        with partner_sftp.client(partner) as client:
            outcomes |= {o["remote_name"]: o for o in run_intake(partner, client, warehouse_url, key)}
    assert len(outcomes) == len(HOSTILE) + len(goods)

    with warehouse.connect(warehouse_url) as conn:
        staged = warehouse.read_frame(conn, "SELECT file_id, count(*) AS n FROM stg_arrears_snapshots GROUP BY file_id")
    rows_by_file = dict(zip(staged["file_id"], staged["n"], strict=True))
    for i, (partner, fault, _build, reason) in enumerate(HOSTILE):
        name = (TABLIS if partner == "tablis" else TRIVIRE).format(f"a{i}_{fault}")
        outcome = outcomes[name]
        assert outcome["status"] == "rejected", fault
        assert any(reason in r for r in outcome["reasons"]), (fault, outcome["reasons"])
        assert rows_by_file.get(outcome["file_id"], 0) == 0, fault
        home = partner_sftp.root / partner
        assert (home / "quarantine" / settle.settled_name(outcome)).exists(), fault
        receipt = (home / "outbox" / intake_receipts.receipt_name(outcome)).read_text(encoding="utf-8")
        assert "Resultaat: AFGEWEZEN" in receipt and reason in receipt, fault
    for partner, (name, _data) in goods.items():
        outcome = outcomes[name]
        assert (outcome["status"], outcome["rows_loaded"]) == ("loaded", 3), partner
        assert rows_by_file[outcome["file_id"]] == 3
        home = partner_sftp.root / partner
        assert os.listdir(home / "inbox") == []
        assert (home / "processed" / settle.settled_name(outcome)).exists()


def test_rows_the_warehouse_refuses_reject_their_file_only(
    tmp_path: Path, partner_sftp: PartnerSFTP, warehouse_url: str, key: bytes, monkeypatch: pytest.MonkeyPatch
):
    """A file whose rows the warehouse refuses (a value no column type holds) is rejected with a reason; the
    next file of the batch loads. The refusal is injected for one file: no partner value is known to get past
    validation and be refused by both databases."""
    first = tmp_path / TRIVIRE.format("a_refused")
    first.write_bytes(csv_bytes("trivire", arrears_rows("TRX")))
    second = tmp_path / TRIVIRE.format("b_good")
    second.write_bytes(csv_bytes("trivire", arrears_rows("TRY")))
    for path in (first, second):
        partner_sftp.upload("trivire", path)
    store = intake_check.load_staging
    refused = intake_files.sha256_file(first)

    def refusing(conn, accepted, partner, file_id, key_, vault):
        if file_id == refused:
            raise sa.exc.DataError("INSERT ...", {}, ValueError("value out of range"))
        return store(conn, accepted, partner, file_id, key_, vault)

    monkeypatch.setattr(intake_ingest, "load_staging", refusing)
    with partner_sftp.client("trivire") as client:
        outcomes = {o["remote_name"]: o for o in run_intake("trivire", client, warehouse_url, key)}
    bad, good = outcomes[first.name], outcomes[second.name]
    assert bad["status"] == "rejected" and bad["rows_loaded"] == 0
    assert bad["reasons"] == [
        "het bestand kon niet worden opgeslagen (onverwachte fout van het type DataError); "
        "neem contact op met het datateam als het opnieuw gebeurt"
    ]
    assert (good["status"], good["rows_loaded"]) == ("loaded", 3)
    with warehouse.connect(warehouse_url) as conn:
        ledger = warehouse.read_frame(conn, "SELECT file_name, status, rows_loaded FROM meta_file_ledger")
    assert sorted(map(tuple, ledger.values.tolist())) == [(first.name, "rejected", 0), (second.name, "loaded", 3)]


def test_a_warehouse_that_is_down_fails_the_task_rather_than_the_file(
    tmp_path: Path, partner_sftp: PartnerSFTP, duckdb_url: str, key: bytes, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / TRIVIRE.format("a")
    path.write_bytes(csv_bytes("trivire", arrears_rows("TRZ")))
    partner_sftp.upload("trivire", path)

    def unavailable(*_args, **_kwargs):
        raise sa.exc.OperationalError("INSERT ...", {}, OSError("server closed the connection"))

    monkeypatch.setattr(intake_ingest, "load_staging", unavailable)
    with partner_sftp.client("trivire") as client, pytest.raises(sa.exc.OperationalError):
        run_intake("trivire", client, duckdb_url, key)
    with warehouse.connect(duckdb_url) as conn:
        assert warehouse.read_frame(conn, "SELECT count(*) AS n FROM meta_file_ledger")["n"].iloc[0] == 0
    assert os.listdir(partner_sftp.root / "trivire" / "inbox") == [path.name]  # the next run tries again


# ------------------------------------------------------------------------------ the reader's hard limits


def _big_csv(rows: int) -> bytes:
    return csv_bytes("trivire", arrears_rows("TRB", n=rows))


def test_a_file_that_takes_too_long_is_abandoned_and_the_next_file_is_read():
    trivire = get_partner("trivire")
    slow = sandbox.parse(_big_csv(20_000), trivire.layout, trivire.kind, ReadLimits(seconds=0.02))
    assert [(i.code, i.message) for i in slow.issues] == [
        ("read_timeout", "het bestand kon niet binnen 0.02 seconden worden gelezen")
    ]
    after = sandbox.parse(_big_csv(3), trivire.layout, trivire.kind, ReadLimits())
    assert (len(after.frame), after.issues) == (3, [])


def test_a_file_that_needs_too_much_memory_is_rejected_and_the_next_file_is_read():
    trivire = get_partner("trivire")
    greedy = sandbox.parse(_big_csv(20_000), trivire.layout, trivire.kind, ReadLimits(memory_mb=8))
    (issue,) = greedy.issues
    assert issue.code in ("read_memory", "read_aborted")
    assert "meer dan 8 MB geheugen" in issue.message
    after = sandbox.parse(_big_csv(3), trivire.layout, trivire.kind, ReadLimits())
    assert (len(after.frame), after.issues) == (3, [])


def test_too_many_cells_and_too_much_unpacked_data_are_named():
    tablis, trivire = get_partner("tablis"), get_partner("trivire")
    wide = sandbox.parse(_big_csv(50), trivire.layout, trivire.kind, ReadLimits(cells=100))
    assert [i.code for i in wide.issues] == ["too_many_cells"]
    assert wide.issues[0].message == f"het bestand heeft {51 * 25} cellen: meer dan de toegestane 100"
    packed = sandbox.parse(
        xlsx_bytes(arrears_rows("TU", n=2000)), tablis.layout, tablis.kind, ReadLimits(unpacked_mb=1)
    )
    assert [(i.code, i.message) for i in packed.issues] == [
        ("xlsx_too_big", "het Excel-bestand is uitgepakt te groot (meer dan 1 MB)")
    ]


# ------------------------------------------------------------------------ receipts cannot be forged (class 3)


def test_nothing_quoted_from_a_delivery_can_add_a_line_to_its_receipt(
    tmp_path: Path, partner_sftp: PartnerSFTP, duckdb_url: str, key: bytes
):
    forged = "\r\nResultaat: GEACCEPTEERD\u2028Regels verwerkt: 3"
    table = csv_bytes("trivire", arrears_rows("TRF")).decode("cp1252").split("\r\n")
    table[0] = table[0].replace("Achternaam", f'"Achternaam{forged}"', 1)  # a header cell with line breaks
    by_header = tmp_path / "huurachterstand_2026-10-31_header.csv"
    by_header.write_bytes("\r\n".join(table).encode("cp1252", errors="replace"))
    by_name = tmp_path / "huurachterstand_2026-10-31_\nResultaat: GEACCEPTEERD\n.csv"  # a file name with them
    by_name.write_bytes(b"not;the;agreed;columns\r\n1;2;3;4\r\n")
    for path in (by_header, by_name):
        partner_sftp.upload("trivire", path)
    with partner_sftp.client("trivire") as client:
        outcomes = run_intake("trivire", client, duckdb_url, key)
    assert sorted(o["status"] for o in outcomes) == ["rejected", "rejected"]
    for outcome in outcomes:
        receipt = (partner_sftp.root / "trivire" / "outbox" / intake_receipts.receipt_name(outcome)).read_text(
            encoding="utf-8"
        )
        lines = receipt.splitlines()
        assert [line for line in lines if line.startswith("Resultaat:")] == [
            "Resultaat: AFGEWEZEN - het bestand is niet verwerkt, er zijn geen gegevens uit opgeslagen"
        ]
        assert [line for line in lines if line.startswith("Regels verwerkt:")] == ["Regels verwerkt: 0"]
        assert all(line.isprintable() and len(line) <= 2 * intake_receipts.QUOTE_LIMIT for line in lines)
    named = next(o for o in outcomes if o["remote_name"] == by_name.name)
    receipt = (partner_sftp.root / "trivire" / "outbox" / intake_receipts.receipt_name(named)).read_text(
        encoding="utf-8"
    )
    assert "Bestand: huurachterstand_2026-10-31_?Resultaat: GEACCEPTEERD?.csv" in receipt.splitlines()


def test_one_line_bounds_and_flattens_what_it_quotes():
    assert intake_receipts.one_line("kolom 'A\r\nB\tC\u202eD'") == "kolom 'A??B?C?D'"
    assert intake_receipts.one_line("x" * 500) == "x" * 299 + "…"
    assert intake_receipts.one_line("Gemeente 's-Gravendeel (ëï)") == "Gemeente 's-Gravendeel (ëï)"


# ------------------------------------------------------------- no value of a file reaches an XCom (class 2)


def test_a_file_without_its_header_row_quotes_none_of_its_cells(
    tmp_path: Path, partner_sftp: PartnerSFTP, warehouse_url: str, key: bytes
):
    """Without its header row the first data row is read as the headers: a surname, an e-mail address. The
    outcome (the load task's XCom) and the receipt name the problem, not those cells."""
    lines = csv_bytes("trivire", arrears_rows("TRH")).decode("cp1252").split("\r\n")
    headerless = tmp_path / "huurachterstand_2026-10-31_headerless.csv"
    headerless.write_bytes("\r\n".join(lines[1:]).encode("cp1252"))
    other_template = tmp_path / "huurachterstand_2026-10-31_template.csv"  # an old template's headers
    old_headers = ";".join(f"Veld{n}" for n in range(1, len(lines[0].split(";")) + 1))
    other_template.write_bytes("\r\n".join([old_headers, *lines[1:]]).encode("cp1252"))
    for path in (headerless, other_template):
        partner_sftp.upload("trivire", path)
    with partner_sftp.client("trivire") as client:
        outcomes = run_intake("trivire", client, warehouse_url, key)
    cells = {c for line in lines[1:] for c in line.split(";") if len(c) >= 4}  # not "van", a Dutch word too
    assert {"fictief@example.org", "Oosterzee"} & cells or len(cells) > 20  # the check has values to look for
    expected = (
        "de eerste regel heeft niet de afgesproken kolomnamen: de kopregel ontbreekt of komt uit een ander sjabloon "
        "(verwacht onder meer 'Contractnummer', 'Voorletters', 'Tussenvoegsel', 'Achternaam')"
    )
    for outcome in outcomes:
        assert (outcome["status"], outcome["reasons"]) == ("rejected", [expected])
        said = json.dumps(outcome, ensure_ascii=False)
        receipt = (partner_sftp.root / "trivire" / "outbox" / intake_receipts.receipt_name(outcome)).read_text(
            encoding="utf-8"
        )
        assert not [c for c in cells if c in said or c in receipt]


# ------------------------------------------------------------------- wrong data does not load silently (class 4)


def test_a_utf8_file_for_a_windows_1252_partner_is_refused_not_read_as_mojibake():
    trivire = get_partner("trivire")  # agreed: cp1252
    table = csv_bytes("trivire", arrears_rows("TRU")).decode("cp1252").split("\r\n")
    cells = table[1].split(";")
    cells[table[0].split(";").index("Achternaam")] = "Zoë de Bruïne-Éléonore"
    table[1] = ";".join(cells)
    data = "\r\n".join(table)
    utf8 = data.encode("utf-8")
    result = sandbox.parse(utf8, trivire.layout, trivire.kind, ReadLimits())
    assert [(i.code, i.message) for i in result.issues] == [
        (
            "encoding_utf8",
            "het bestand is in UTF-8 opgeslagen, maar de afgesproken tekencodering is cp1252: letters als é en ë "
            "zouden verkeerd worden gelezen",
        )
    ]
    same = sandbox.parse(data.encode("cp1252"), trivire.layout, trivire.kind, ReadLimits())
    assert same.issues == [] and len(same.frame) == 3  # the same text in the agreed encoding loads


@pytest.mark.parametrize(
    ("written", "amount"),
    [("1.234,56", 1234.56), ("12.345.678,9", 12345678.9), ("123,45", 123.45), ("123.45", None), ("1.23,4", None),
     ("12.34.567", None)],
)  # fmt: skip
def test_a_decimal_point_in_a_decimal_comma_file_is_not_a_thousands_separator(written: str, amount: float | None):
    from eviction_prevention.parse.values import parse_decimal

    if amount is None:
        with pytest.raises(ValueError):
            parse_decimal(written, ",", ".")
    else:
        assert parse_decimal(written, ",", ".") == amount
    trivire = get_partner("trivire")
    table = csv_bytes("trivire", arrears_rows("TRD")).decode("cp1252").split("\r\n")
    header = table[0].split(";")
    cells = table[1].split(";")
    cells[header.index("Achterstand")] = written
    table[1] = ";".join(cells)
    result = sandbox.parse("\r\n".join(table).encode("cp1252"), trivire.layout, trivire.kind, ReadLimits())
    if amount is None:
        assert [(i.code, i.row, i.column) for i in result.issues if i.severity != "warning"][:1] == [
            ("type", 2, "arrears_amount")
        ]
    else:
        assert float(result.frame["arrears_amount"].iloc[0]) == amount


def _trivire_with(changes: dict[str, str], rows: int = 3) -> bytes:
    """A Trivire file whose every data row has ``changes`` (header -> value)."""
    from tests.fixtures.build_corpus import trivire_from_table, trivire_table

    table = trivire_table(arrears_rows("TRW", n=rows))
    for row in table[1:]:
        for header, value in changes.items():
            row[table[0].index(header)] = value
    return trivire_from_table(table)


OUTSIDE = "heeft een waarde buiten het toegestane bereik"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"Peildatum": "31-12-1899"}, "kolom 'Peildatum' ligt te ver in het verleden (voor 30-11-2021): controleer"),
        ({"Peildatum": "01-01-0001"}, "kolom 'Peildatum' ligt te ver in het verleden"),
        ({"Datum persoonlijk contact": "01-01-2099"}, f"kolom 'Datum persoonlijk contact' {OUTSIDE}"),
        ({"Datum vonnis": "31-12-9999"}, f"kolom 'Datum vonnis' {OUTSIDE}"),
        ({"Datum ontruiming": "01-01-2099"}, f"kolom 'Datum ontruiming' {OUTSIDE}"),
        ({"Datum eerste achterstand": "01-01-1950"}, f"kolom 'Datum eerste achterstand' {OUTSIDE}"),
    ],
)  # fmt: skip
def test_dates_outside_their_plausible_window_reject_the_file(changes: dict[str, str], reason: str):
    import datetime as dt

    trivire = get_partner("trivire")
    accepted, issues = intake_check.check_file(_trivire_with(changes), trivire, on=dt.date(2026, 11, 30))
    assert accepted.empty
    assert [i.message for i in issues if i.severity == "critical" and reason in i.message], [i.message for i in issues]


def test_dates_inside_their_window_load():
    import datetime as dt

    trivire = get_partner("trivire")
    inside = {"Datum ontruiming": "15-03-2027", "Datum eerste achterstand": "01-01-2001", "Peildatum": "31-10-2026"}
    accepted, issues = intake_check.check_file(_trivire_with(inside), trivire, on=dt.date(2026, 11, 30))
    assert len(accepted) == 3, [i.message for i in issues]


def test_what_a_spreadsheet_opens_starts_no_formula(tmp_path: Path):
    from eviction_prevention.link.csv_files import link_csv
    from eviction_prevention.spreadsheet_safety import neutralised

    assert neutralised("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    assert neutralised("-2+3+cmd|' /C calc'!A0") == "'-2+3+cmd|' /C calc'!A0"
    assert neutralised("@SUM(A1)") == "'@SUM(A1)"
    assert neutralised(" +31 6 12345678") == "' +31 6 12345678"
    assert neutralised("-12.50") == "-12.50" and neutralised("Jansen") == "Jansen"
    # ``eviction-prevention link`` writes the input's record ids: a hostile id comes out as text
    header = "rec_id,given_name,surname,date_of_birth,street_number,address_1,postcode,suburb\n"
    names = ["kayla", "jesse", "ruby", "lachlan", "chloe", "oliver", "mia", "noah", "ella", "liam"]
    surnames = ["honeychurch", "whiteway", "kozakowski", "burgemeister", "clarke", "dalby", "elmes", "fitzgerald"]
    rows = [
        f"{n},{s},19{50 + i % 40}{1 + i % 12:02d}{1 + i % 28:02d},{i + 1},sturt avenue,{2000 + i},ashgrove\n"
        for i, (n, s) in enumerate((n, s) for s in surnames for n in names)
    ]
    ids = ['"=HYPERLINK(""http://x"")"', *[f"r{i}" for i in range(1, len(rows))]]  # the first quoted as CSV
    (tmp_path / "a.csv").write_text(header + "".join(f"{i},{r}" for i, r in zip(ids, rows, strict=True)))
    (tmp_path / "b.csv").write_text(header + "".join(f"b{i},{r}" for i, r in enumerate(rows)))
    assert link_csv(tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "out.csv", b"k" * 32) == len(rows)
    out = (tmp_path / "out.csv").read_text().splitlines()
    assert '"\'=HYPERLINK(""http://x"")",b0,1.000000' in out
    assert not [line for line in out if line[:1] in "=+-@"]


def test_a_file_with_shifted_columns_quotes_none_of_its_cells(
    tmp_path: Path, partner_sftp: PartnerSFTP, warehouse_url: str, key: bytes
):
    """Every data row shifted one column to the right under the agreed headers: names and e-mail addresses land
    in date, number and yes/no columns, whose errors would quote them. They are named by length only."""
    lines = csv_bytes("trivire", arrears_rows("TRS")).decode("cp1252").split("\r\n")
    shifted = [lines[0]] + [";" + line.rsplit(";", 1)[0] for line in lines[1:] if line]
    path = tmp_path / "huurachterstand_2026-10-31_shifted.csv"
    path.write_bytes("\r\n".join(shifted).encode("cp1252"))
    partner_sftp.upload("trivire", path)
    with partner_sftp.client("trivire") as client:
        (outcome,) = run_intake("trivire", client, warehouse_url, key)
    assert outcome["status"] == "rejected"
    assert any("(een tekst van " in r for r in outcome["reasons"]), outcome["reasons"]
    cells = {c for line in lines[1:] for c in line.split(";") if len(c) >= 4}
    said = json.dumps(outcome, ensure_ascii=False)
    receipt = (partner_sftp.root / "trivire" / "outbox" / intake_receipts.receipt_name(outcome)).read_text(
        encoding="utf-8"
    )
    personal = {c for c in cells if re.search(r"[A-Za-z@]", c) or re.fullmatch(r"[\d-]{8,}", c)}  # names, dates
    assert len(personal) > 10
    assert [c for c in personal if c in said or c in receipt] == []


def test_free_text_attribute_columns_keep_only_listed_values(
    tmp_path: Path, partner_sftp: PartnerSFTP, warehouse_url: str, key: bytes
):
    """A social team's "Melder" and "Woonplaats" hold a person's name: it is not stored, the receipt says how
    many values were not, and listed values are stored in the list's spelling. A team off the list is refused."""
    from tests.fixtures.build_corpus import social_team_rows

    rows = social_team_rows()
    rows[0] |= {"reporter": "Jansen, mevr. A.", "city": "bij Piet de Vries", "team": "Sociaal Wijkteam Dordrecht"}
    rows[1] |= {"reporter": "  TRIVIRE ", "city": "dordrecht", "team": "sociaal wijkteam  dordrecht"}
    rows[2] |= {"reporter": "Huisarts", "city": "Zwijndrecht", "team": "SOCIAAL WIJKTEAM DORDRECHT"}
    path = tmp_path / "casussen_2026-10-31.csv"
    path.write_bytes(csv_bytes("sociale_teams", rows))
    refused = [dict(r) for r in rows]
    refused[1]["team"] = "Anna Bakker (consulent)"
    other = tmp_path / "casussen_2026-10-31_team.csv"
    other.write_bytes(csv_bytes("sociale_teams", [r | {"case_ref": r["case_ref"] + "X"} for r in refused]))
    for local in (path, other):
        partner_sftp.upload("sociale_teams", local)
    with partner_sftp.client("sociale_teams") as client:
        outcomes = {o["remote_name"]: o for o in run_intake("sociale_teams", client, warehouse_url, key)}
    outcome, team = outcomes[path.name], outcomes[other.name]
    assert (outcome["status"], outcome["rows_loaded"]) == ("loaded", 3)
    assert sorted(outcome["warning_messages"]) == [
        "kolom 'Melder': 1 waarde(n) staan niet op de afgesproken lijst en zijn opgeslagen als 'anders'",
        "kolom 'Woonplaats': 1 waarde(n) staan niet op de afgesproken lijst en zijn niet opgeslagen",
    ]
    assert team["status"] == "rejected"
    assert team["reasons"] == ["regel 3: kolom 'Team' bevat een waarde die niet op de afgesproken lijst staat"]
    with warehouse.connect(warehouse_url) as conn:
        sql = "SELECT reporter, city, team FROM stg_social_team_cases ORDER BY source_row"
        stored = warehouse.read_frame(conn, sql)
    assert stored.astype(object).where(stored.notna(), None).values.tolist() == [
        ["anders", None, "Sociaal Wijkteam Dordrecht"],
        ["trivire", "Dordrecht", "Sociaal Wijkteam Dordrecht"],
        ["huisarts", "Zwijndrecht", "Sociaal Wijkteam Dordrecht"],
    ]
    for done in outcomes.values():
        receipt = (partner_sftp.root / "sociale_teams" / "outbox" / intake_receipts.receipt_name(done)).read_text(
            "utf-8"
        )
        assert not [v for v in ("Jansen", "Piet de Vries", "Anna Bakker") if v in receipt or v in json.dumps(done)]
