"""Great Expectations suites: critical findings reject the file, warnings flag rows."""

from __future__ import annotations

from eviction_prevention.intake.check import check_file
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
        "(31-10-1996 tot en met 31-10-2026)"
    ]


def test_bad_postcode_is_a_warning_and_row_is_kept() -> None:
    n, critical, warnings = messages(trivire_file({"Postcode": "33AB"}))
    assert (n, critical) == (1, [])
    assert warnings == ["regel 2: kolom 'Postcode' heeft niet het verwachte formaat"]


def test_bsn_11_test() -> None:
    from eviction_prevention.validate.suites import bsn_passes_11_test

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

    from eviction_prevention.validate.suites import History

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
            "het bestand geldt als late levering",
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


BSN_EDGE_CASES = [
    "111222333",
    "123456782",
    "012345672",
    "12345672",
    "123456789",
    "12345678",
    "000000000",
    "00000000",
    "0000000",
    "1234567890",
    "",
    " ",
    " 123456782",
    "123456782 ",
    "\t123456782\n",
    "123 456 782",
    "123.456.782",
    "123-456-782",
    "12345678a",
    "abcdefghi",
    "12a",
    "１２３４５６７８２",  # full-width digits
    "١٢٣٤٥٦٧٨٢",  # Arabic-Indic digits
    "²23456782",
    "12345678.0",
    "-12345678",
    "+123456782",
]


def test_bsn_column_test_gives_the_scalar_answer_for_every_value() -> None:
    import numpy as np
    import pandas as pd
    from eviction_prevention.validate.suites import bsn_column_passes_11_test, bsn_passes_11_test

    rng = np.random.default_rng(7)
    numbers = rng.integers(0, 10**9, size=20_000)
    values = BSN_EDGE_CASES + [f"{n:09d}" for n in numbers] + [str(n) for n in numbers[:5_000]]
    expected = [bsn_passes_11_test(v) for v in values]
    assert sum(expected) > 1_000  # the random numbers include valid BSNs (about 1 in 11)
    for dtype in ("string", "str", object):
        column = pd.Series(values, dtype=dtype, index=range(10, 10 + len(values)))
        result = bsn_column_passes_11_test(column)
        assert result.dtype == bool
        assert result.index.equals(column.index)
        assert result.tolist() == expected, dtype
    with_missing = pd.Series(["123456782", None, "x"], dtype="string")
    assert bsn_column_passes_11_test(with_missing).tolist() == [True, False, False]


def test_gx_frame_keeps_the_suites_columns_values_and_nulls() -> None:
    import numpy as np
    import pandas as pd
    from eviction_prevention.validate.suites import gx_frame

    frame = pd.DataFrame(
        {
            "snapshot_date": np.array(["2026-10-31", "NaT"], dtype="datetime64[s]"),
            "birth_date": np.array(["1971-04-12", "3026-01-01"], dtype="datetime64[s]"),
            "house_number": pd.array([1, None], dtype="Int64"),
            "source_row": pd.array([2, 3], dtype="Int64"),
            "arrears_amount": pd.array([1.5, None], dtype="Float64"),
            "postcode": pd.array(["3311 AB", None], dtype="string"),
            "phone": pd.array(["078-1234567", None], dtype="string"),  # not checked by the suite
        },
        index=[5, 9],
    )
    out = gx_frame(frame, "corporation")
    assert list(out.columns) == [
        "snapshot_date",
        "birth_date",
        "house_number",
        "source_row",
        "arrears_amount",
        "postcode",
    ]
    assert out.index.equals(frame.index)
    assert out["snapshot_date"].dtype == "datetime64[ns]"
    assert out["birth_date"].dtype == "datetime64[s]"  # outside the nanosecond range: left as it is
    dtypes = [str(out[c].dtype) for c in ("house_number", "source_row", "arrears_amount", "postcode")]
    assert dtypes == ["float64", "int64", "float64", "string"]
    assert out.isna().equals(frame[out.columns].isna())
    for name in out.columns:
        assert out[name].dropna().tolist() == frame[name].dropna().tolist(), name
    assert frame["snapshot_date"].dtype == "datetime64[s]"  # the caller's frame is not changed


def test_failing_expectations_get_rows_and_the_result_keeps_counts() -> None:
    import datetime as dt

    from eviction_prevention.parse import layouts
    from eviction_prevention.parse.files import parse_bytes
    from eviction_prevention.validate.suites import History, run_suite, scrubbed, suite_parameters

    parsed = parse_bytes(
        trivire_file({"Postcode": "33AB"}, {"Contractnummer": "TRV-2", "Achterstand": "-10,00"}),
        TRIVIRE.layout,
        TRIVIRE.kind,
    )
    frame = parsed.frame
    params = suite_parameters(frame["snapshot_date"], History(), dt.date(2026, 11, 25))
    report = run_suite(frame, TRIVIRE.kind, TRIVIRE.layout.columns, params)
    assert sorted((i.row, i.severity) for i in report.issues) == [(2, "warning"), (3, "critical")]
    failed = [r for r in report.result.results if not r.success]
    assert {r.expectation_config.kwargs["column"] for r in failed} == {"arrears_amount", "postcode"}
    assert all(r.result["unexpected_index_list"] for r in failed)
    clean = scrubbed(report.result, set(layouts.identifier_columns(TRIVIRE.kind)))
    counts = {
        r.expectation_config.kwargs.get("column"): r.result
        for r in clean.results
        if r.expectation_config.type == "expect_column_values_to_be_between"
    }
    assert counts["house_number"] == {
        "element_count": 2,
        "unexpected_count": 0,
        "unexpected_percent": 0.0,
        "missing_count": 0,
        "missing_percent": 0.0,
    }


def test_data_docs_build_from_two_pass_results() -> None:
    import datetime as dt

    from eviction_prevention.parse import layouts
    from eviction_prevention.parse.files import parse_bytes
    from eviction_prevention.validate.suites import History, build_data_docs, run_suite, scrubbed, suite_parameters

    frame = parse_bytes(trivire_file({"Postcode": "33AB"}), TRIVIRE.layout, TRIVIRE.kind).frame
    params = suite_parameters(frame["snapshot_date"], History(), dt.date(2026, 11, 25))
    report = run_suite(frame, TRIVIRE.kind, TRIVIRE.layout.columns, params)
    clean = scrubbed(report.result, set(layouts.identifier_columns(TRIVIRE.kind)))
    index = build_data_docs([(TRIVIRE.kind, "trivire-0123456789ab", clean)])
    [page] = [p.read_text(encoding="utf-8") for p in (index.parent / "validations" / "corporation").rglob("*.html")]
    assert "postcode" in page
    assert "33AB" not in page and "Hoëtmer" not in page
