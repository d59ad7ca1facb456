"""Great Expectations suites: critical findings reject the file, warnings flag rows."""

from __future__ import annotations

from eviction_prevention.intake import check_file
from eviction_prevention.partners import get_partner

from tests.test_parsing import trivire_file

TRIVIRE = get_partner("trivire")


def messages(data: bytes) -> tuple[int, list[str], list[str]]:
    accepted, issues = check_file(data, TRIVIRE)
    critical = [i.message for i in issues if i.severity == "critical"]
    warnings = [i.message for i in issues if i.severity == "warning"]
    return len(accepted), critical, warnings


def test_clean_file_passes() -> None:
    assert messages(trivire_file({}, {"Contractnummer": "TRV-2"})) == (2, [], [])


def test_negative_amount_rejects_file() -> None:
    n, critical, _ = messages(trivire_file({}, {"Contractnummer": "TRV-2", "Achterstand": "-10,00"}))
    assert n == 0
    assert critical == [
        "regel 3: kolom 'Achterstand' heeft een waarde buiten het toegestane bereik (0 tot en met 100000)"
    ]


def test_duplicate_tenancy_rejects_file() -> None:
    n, critical, _ = messages(trivire_file({}, {}))
    assert n == 0
    assert critical == [
        "regel 2: dubbele regel: de combinatie 'Contractnummer' + 'Peildatum' komt meer dan eens voor",
        "regel 3: dubbele regel: de combinatie 'Contractnummer' + 'Peildatum' komt meer dan eens voor",
    ]


def test_report_date_after_snapshot_rejects_file() -> None:
    _, critical, _ = messages(trivire_file({"Datum melding sociaal team": "01-11-2026"}))
    assert critical == [
        "regel 2: kolom 'Datum melding sociaal team' heeft een waarde buiten het toegestane bereik "
        "(uiterlijk 31-10-2026)"
    ]


def test_bad_postcode_is_a_warning_and_row_is_kept() -> None:
    n, critical, warnings = messages(trivire_file({"Postcode": "33AB"}))
    assert (n, critical) == (1, [])
    assert warnings == ["regel 2: kolom 'Postcode' heeft niet het verwachte formaat"]


def test_bsn_11_test() -> None:
    from eviction_prevention.validation import bsn_passes_11_test

    assert [bsn_passes_11_test(v) for v in ("111222333", "123456782", "12345678", "123456789", "000000000", "12a")] == [
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    assert bsn_passes_11_test("12345672") is True  # 010000009: the leading zero was lost in a spreadsheet


def test_row_count_swing_and_older_snapshot_warn_but_load() -> None:
    import datetime as dt

    from eviction_prevention.validation import History

    data = trivire_file({}, {"Contractnummer": "TRV-2"})
    accepted, issues = check_file(
        data, TRIVIRE, History(dt.date(2026, 11, 15), previous_rows=10), dt.date(2026, 11, 25)
    )
    assert len(accepted) == 2
    assert sorted((i.severity, i.message) for i in issues) == [
        ("warning", "het aantal regels (2) wijkt meer dan 50% af van de vorige levering (10 regels)"),
        (
            "warning",
            "kolom 'Peildatum' ligt vóór de datum van de laatst verwerkte levering (minimaal 15-11-2026); "
            "het bestand is verwerkt als late levering",
        ),
    ]
    _, within = check_file(data, TRIVIRE, History(dt.date(2026, 10, 31), previous_rows=3), dt.date(2026, 11, 25))
    assert within == []


def test_snapshot_in_the_future_rejects_file() -> None:
    import datetime as dt

    _, issues = check_file(trivire_file({}), TRIVIRE, on=dt.date(2026, 10, 30))
    assert [i.message for i in issues if i.severity == "critical"] == [
        "regel 2: kolom 'Peildatum' ligt in de toekomst (na 30-10-2026)"
    ]
