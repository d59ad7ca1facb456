"""The compliance dashboard, built from demo data, renders in headless Chromium with the marts' values."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import sqlalchemy as sa
from eviction_prevention import demo, settings, synthetic, warehouse
from eviction_prevention.dashboard import write_dashboard

from tests.browser import Browser, available
from tests.conftest import unavailable

SCREENSHOT = settings.REPO_ROOT / "var" / "screenshots" / "compliance_dashboard.png"

BARS_JS = """
return Array.from(document.querySelectorAll('rect.bar')).map(function (r) {
  var box = r.getBoundingClientRect();
  return Object.assign({px_height: box.height, px_width: box.width}, r.dataset);
});
"""


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("dashboard")
    synthetic.generate(root / "data", scale=0.3, seed=2026)
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    demo.run_in_process(root / "data", url, b"dashboard-test-key-0123456789abcdef")
    return url


def expected(url: str) -> dict[str, dict]:
    """The figures straight from the marts, by SQL independent of the dashboard's pandas code."""
    with warehouse.connect(url) as conn:

        def query(sql: str) -> list[tuple]:
            return [tuple(r) for r in conn.execute(sa.text(sql))]

        on_time = {}
        for partner, prefix, overdue in (
            ("corporation", "reported", "report_overdue_now"),
            ("team", "analysed", "analysis_overdue_now"),
        ):
            rows = query(
                f"SELECT {partner}, strftime(month, '%Y-%m'), sum({prefix}_on_time), "
                f"sum({prefix}_on_time + {prefix}_late + {overdue}) FROM mart_compliance_monthly "
                f"GROUP BY 1, 2 HAVING sum({prefix}_on_time + {prefix}_late + {overdue}) > 0"
            )
            on_time.update({(p, m): (int(met), int(n)) for p, m, met, n in rows})
        overdue = {
            (p, d): int(n)
            for p, d, n in query(
                "SELECT responsible_partner, deadline, count(*) FROM mart_worklist_overdue GROUP BY 1, 2"
            )
        }
        evictions = {}
        for m, judgments, executed in query(
            "SELECT municipality, sum(eviction_judgments), sum(evictions_executed) FROM mart_evictions GROUP BY 1"
        ):
            evictions[(m, "judgments")] = int(judgments)
            evictions[(m, "evictions")] = int(executed)
        case_ids = [r[0] for r in query("SELECT case_id FROM mart_referrals")]
    return {"on-time": on_time, "overdue": overdue, "evictions": evictions, "case_ids": case_ids}


def rendered_bars(page: Path) -> list[dict]:
    with Browser(width=1400, height=1900) as browser:
        browser.get(page.as_uri())
        bars = browser.execute(BARS_JS)
        browser.screenshot(SCREENSHOT)
    return bars


def assert_proportional(bars: list[dict], size: str) -> None:
    """Bars of one chart kind are drawn to one scale: pixels / value is the same for every bar."""
    scales = [b[size] / float(b["value"]) for b in bars if float(b["value"]) > 0]
    assert scales and max(scales) - min(scales) < 0.02 * max(scales)
    assert all(b[size] == 0 for b in bars if float(b["value"]) == 0)


def test_dashboard_renders_the_marts_in_chromium(demo_warehouse, tmp_path) -> None:
    if reason := available():
        unavailable(reason)
    page = tmp_path / "compliance_dashboard.html"
    counts = write_dashboard(demo_warehouse, page)
    want = expected(demo_warehouse)

    bars = rendered_bars(page)

    by_chart: dict[str, list[dict]] = {}
    for bar in bars:
        by_chart.setdefault(bar["chart"], []).append(bar)

    on_time = by_chart["on-time"]
    assert len(on_time) == counts["on_time_bars"] == len(want["on-time"]) > 20
    for bar in on_time:
        met, decided = want["on-time"][(bar["partner"], bar["month"])]
        assert (int(bar["met"]), int(bar["decided"])) == (met, decided)
        assert math.isclose(float(bar["value"]), round(100 * met / decided, 1))
    assert_proportional(on_time, "px_height")

    overdue = by_chart["overdue"]
    assert {(b["partner"], b["deadline"]): int(b["value"]) for b in overdue} == want["overdue"]
    assert_proportional(overdue, "px_width")

    evictions = by_chart["evictions"]
    assert {(b["municipality"], b["measure"]): int(b["value"]) for b in evictions} == want["evictions"]
    assert_proportional(evictions, "px_width")

    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and "http" not in html  # self-contained: no scripts, nothing fetched
    assert not [case_id for case_id in want["case_ids"] if case_id in html]  # aggregates only
    assert SCREENSHOT.stat().st_size > 20_000 and SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
