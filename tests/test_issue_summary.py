"""What a receipt lists: a problem on many lines once, with its lines; a slipped file named as such."""

from __future__ import annotations

from eviction_prevention.intake.issue_summary import line_ranges, slipped_columns, summarised
from eviction_prevention.parse.issues import Issue


def row_issue(row: int, message: str) -> Issue:
    return Issue("type", f"regel {row}: {message}", row=row, column="x", severity="critical")


def test_line_ranges_joins_consecutive_lines():
    assert line_ranges([9, 2, 3, 4, 7, 10, 3]) == "2-4, 7, 9-10"
    assert line_ranges([5]) == "5"
    assert line_ranges([]) == ""


def test_a_problem_on_three_lines_or_more_is_listed_once_with_its_lines():
    date = "kolom 'geboortedatum' bevat geen geldige datum (verwacht jjjj-mm-dd)"
    issues = [
        Issue("header", "kolom 'Plaats' ontbreekt"),
        *(row_issue(r, date) for r in (2, 3, 4, 6)),
        row_issue(5, "kolom 'huur' bevat geen geldig getal (een tekst van 12 tekens)"),
        row_issue(7, "kolom 'huur' bevat geen geldig getal (een tekst van 9 tekens)"),
        row_issue(8, "kolom 'huur' bevat geen geldig getal (een tekst van 1 teken)"),
        row_issue(9, "kolom 'bezwaar' bevat geen geldige ja/nee-waarde 'x' (verwacht J/N)"),
        row_issue(11, "kolom 'bezwaar' bevat geen geldige ja/nee-waarde 'x' (verwacht J/N)"),
        row_issue(12, "kolom 'bezwaar' bevat geen geldige ja/nee-waarde 'misschien' (verwacht J/N)"),
        row_issue(13, "datum '31-02-2026' in kolom 'Datum vonnis' bestaat niet"),
    ]
    assert summarised(issues) == [
        "kolom 'Plaats' ontbreekt",
        "kolom 'geboortedatum' bevat geen geldige datum (verwacht jjjj-mm-dd): regel 2-4, 6 (4 regels)",
        "kolom 'huur' bevat geen geldig getal: regel 5, 7-8 (3 regels)",
        "kolom 'bezwaar' bevat geen geldige ja/nee-waarde (verwacht J/N): regel 9, 11-12 (3 regels)",
        "regel 13: datum '31-02-2026' in kolom 'Datum vonnis' bestaat niet",
    ]


def test_columns_failing_on_every_row_are_named_as_slipped():
    issues = [row_issue(r, "kolom 'geboortedatum' bevat geen geldige datum") for r in (2, 3, 4)]
    issues += [row_issue(r, "kolom 'huisnr' bevat geen geldig getal") for r in (2, 3, 4)]
    issues += [row_issue(3, "kolom 'huur' bevat geen geldig getal")]
    said = slipped_columns(issues, rows_total=3)
    assert said is not None and said.startswith(
        "op elke regel staan in dezelfde kolommen verkeerde waarden ('geboortedatum', 'huisnr'):"
    )
    assert slipped_columns(issues, rows_total=4) is None  # one row is fine: not a slipped file
    assert slipped_columns(issues[:3], rows_total=3) is None  # one column wrong everywhere is that column
