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
