"""The dashboard's figures and cells on small frames whose answers are counted by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from eviction_prevention import dutch_time
from eviction_prevention.operate import dashboard
from eviction_prevention.operate import dashboard_figures as figures
from eviction_prevention.operate.dashboard_figures import REGION, TERM_BY_KEY, Tally


def monthly_row(municipality: str, month: str, **counts: int) -> dict:
    columns = {
        t: 0 for term in figures.TERMS for t in (term.met, term.missed, term.overdue, term.open) if t is not None
    }
    base = {"corporation": "trivire", "team": f"Sociaal Team {municipality}", "municipality": municipality}
    return (
        base
        | {"month": dt.date.fromisoformat(month)}
        | columns
        | {"cases": 0, "below_threshold": 0, "trajectories": 0, "evictions": 0}
        | counts
    )


def test_five_met_of_forty_five_cases_is_no_green_hundred_percent() -> None:
    # 45 cases: 5 analysed on time, 40 whose two weeks still run
    frame = pd.DataFrame([monthly_row("Sliedrecht", "2026-10-01", analysed_on_time=5, analysis_open_in_time=40)])
    t = figures.tally(frame, TERM_BY_KEY["analysis"])
    assert (t.met, t.decided, t.open, t.rate, t.provisional) == (5, 5, 40, 100.0, True)
    cell = dashboard.rate_cell(t, "area", area="Sliedrecht", term="analysis")
    assert "class='provisional'" in cell and "voorlopig" in cell
    assert "<b>100%</b> <span class='n'>5 van 5</span> <span class='open'>40 open</span>" in cell


def test_overdue_now_counts_as_decided_and_not_met() -> None:
    # 6 reported on time, 2 late, 2 past the 6 weeks without a report, 1 still within them: 6 of 10 = 60%
    frame = pd.DataFrame(
        [
            monthly_row(
                "Dordrecht",
                "2026-09-01",
                reported_on_time=6,
                reported_late=2,
                report_overdue_now=2,
                report_open_in_time=1,
            )
        ]
    )
    t = figures.tally(frame, TERM_BY_KEY["report"])
    assert (t.met, t.decided, t.open, t.overdue, t.rate, t.provisional) == (6, 10, 1, 2, 60.0, False)
    assert dashboard.band(t) == "fair"
    assert dashboard.band(Tally(8, 2, 0, 0)) == "good" and dashboard.band(Tally(4, 6, 0, 0)) == "poor"
    assert Tally(0, 0, 0, 3).rate is None and dashboard.band(Tally(0, 0, 0, 3)) == "provisional"


def test_the_period_is_twelve_months_up_to_the_reference_month() -> None:
    months = figures.period_months(dt.date(2026, 2, 14))
    assert months[0] == dt.date(2025, 3, 1) and months[-1] == dt.date(2026, 2, 1) and len(months) == 12
    assert figures.period_months(dt.date(2026, 12, 31))[0] == dt.date(2026, 1, 1)


def test_regional_total_trend_and_municipality() -> None:
    frame = pd.DataFrame(
        [
            monthly_row("Dordrecht", "2026-09-01", reported_on_time=3, reported_late=1, cases=4),
            monthly_row("Zwijndrecht", "2026-09-01", reported_on_time=1, report_overdue_now=1, cases=2),
            monthly_row("Zwijndrecht", "2026-10-01", report_open_in_time=2, cases=2),
            monthly_row("Zwijndrecht", "2025-01-01", reported_late=9, cases=9),  # before the period
        ]
    )
    months = figures.period_months(dt.date(2026, 10, 31))
    period = figures.in_period(frame, months)
    assert figures.term_tallies(period)["report"] == Tally(4, 1, 1, 2)
    assert figures.term_tallies(figures.of_area(period, "Zwijndrecht"))["report"] == Tally(1, 0, 1, 2)
    assert figures.case_counts(period)["cases"] == 8
    trend = dict(figures.trend(period, TERM_BY_KEY["report"], months))
    assert trend[dt.date(2026, 9, 1)].rate == round(100 * 4 / 6, 1)
    assert trend[dt.date(2026, 10, 1)] == Tally(0, 0, 0, 2) and trend[dt.date(2026, 8, 1)] == Tally(0, 0, 0, 0)
    assert figures.areas(["Zwijndrecht", "Alblasserdam"]) == [REGION, "Alblasserdam", "Zwijndrecht"]


def test_delivery_per_partner_over_the_periods_in_view() -> None:
    frame = pd.DataFrame(
        {
            "partner": ["trivire"] * 4 + ["sdd"],
            "period_start": pd.to_datetime(["2024-01-01", "2026-08-01", "2026-09-01", "2026-10-01", "2026-10-01"]),
            "status": ["missed", "on_time", "late", "open", "missed"],
            "delivered_on": pd.to_datetime([None, "2026-09-03", "2026-10-09", None, None]),
        }
    )
    got = figures.deliveries(frame, figures.period_months(dt.date(2026, 10, 31)))
    assert got["trivire"] == figures.Delivery(1, 1, 0, 1, dt.date(2026, 10, 9))  # the 2024 period is out of view
    assert got["trivire"].rate == 50.0 and got["sdd"].rate == 0.0 and got["sdd"].last_delivered is None


def test_evictions_per_year_and_the_alblasserdam_flag() -> None:
    evictions = pd.DataFrame(
        [
            ("Alblasserdam", "tablis", 2025, 1, 1, 1, 1, 3),
            ("Alblasserdam", "trivire", 2025, 1, 0, 1, 0, 2),
            ("Alblasserdam", "tablis", 2026, 2, 0, 1, 0, 4),
            ("Dordrecht", "trivire", 2026, 3, 2, 2, 1, 0),
        ],
        columns=["municipality", "corporation", "year", *figures.EVICTION_COUNTS],
    )
    per_year = figures.evictions_per_year(evictions)
    assert per_year[["year", "municipality"]].values.tolist() == [
        [2026, "Alblasserdam"],
        [2026, "Dordrecht"],
        [2025, "Alblasserdam"],
    ]
    assert per_year.iloc[2][list(figures.EVICTION_COUNTS)].tolist() == [2, 1, 2, 1, 5]
    rules = dashboard.policy_rules(
        {"Alblasserdam": {"policy": {"no_eviction_families_with_children": True}}, "Dordrecht": {"policy": {}}}
    )
    rows = dashboard.evictions_section(per_year, rules).split("<tr ")[1:]
    assert "vonnis bij gezin met kinderen" in rows[0]  # 2026: a judgment, no eviction, of a family
    assert "class='flag" not in rows[1] and "<td>–</td>" in rows[1]  # Dordrecht: children evicted, but no rule there
    assert "ontruiming bij gezin met kinderen" in rows[2]  # 2025: a family evicted despite the rule
    assert "Geen ontruiming van gezinnen met kinderen" in rows[0]


def test_dutch_dates() -> None:
    assert dutch_time.long_date(dt.date(2026, 11, 2)) == "2 november 2026"
    assert dutch_time.short_month(dt.date(2026, 3, 1)) == "mrt '26"
    assert dutch_time.month_year(dt.date(2025, 12, 1)) == "december 2025"
