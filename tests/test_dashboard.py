"""The Dutch compliance dashboard, built from demo data on both warehouses, read back in headless Chromium.

Every figure on the page is compared with counts this test computes with its own SQL straight from the
case-level mart (``mart_referrals``: one row per case with each term's state) and from the delivery and
eviction marts, never with the dashboard's code. Screenshots at 1400 px wide (the regional view and the
Alblasserdam view) are written to ``var/screenshots/``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from eviction_prevention import settings, warehouse
from eviction_prevention.operate.dashboard import write_dashboard

from devtools import demo, synthetic
from tests.browser import Browser, available
from tests.conftest import PG_BASE_URL, schema_url, scratch_schema, unavailable

SCREENSHOTS = settings.REPO_ROOT / "var" / "screenshots"
WIDTH = 1400
REGION = "Drechtsteden"
MUNICIPALITIES = [
    "Alblasserdam",
    "Dordrecht",
    "Hardinxveld-Giessendam",
    "Hendrik-Ido-Ambacht",
    "Papendrecht",
    "Sliedrecht",
    "Zwijndrecht",
]
# term -> the state column of mart_referrals, and who answers for it
TERM_STATES = {
    "report": ("report_state", "corporation"),
    "analysis": ("analysis_state", "team"),
    "first_contact": ("first_contact_state", "team"),
    "rent_paid": ("rent_paid_state", "team"),
}
NAMES = {"trivire": "Trivire", "woonbron": "Woonbron", "tablis": "Tablis Wonen"}

FIGURES_JS = """
return Array.from(document.querySelectorAll('[data-chart]')).map(function (e) {
  var box = e.getBoundingClientRect();
  var data = {};
  Object.keys(e.dataset).forEach(function (k) {  // back from camelCase: belowThreshold -> below_threshold
    data[k.replace(/[A-Z]/g, function (c) { return '_' + c.toLowerCase(); })] = e.dataset[k];
  });
  return Object.assign({px_height: box.height, px_width: box.width, shown: e.getClientRects().length > 0,
                        text: e.innerText === undefined ? '' : e.innerText, class: e.getAttribute('class')}, data);
});
"""
# Visible text without code spans (table names are code), and what overflows its box.
TEXT_JS = """
var body = document.body.cloneNode(true);
body.querySelectorAll('code, script, style, select').forEach(function (e) { e.remove(); });
return body.innerText;
"""
CLIPPED_JS = """
var out = [];
document.querySelectorAll('th, td, p, dd, dt, figcaption, h1, h2, h3, h4').forEach(function (e) {
  if (e.getClientRects().length && e.scrollWidth > e.clientWidth + 1) { out.push(e.tagName + ': ' + e.innerText); }
});
document.querySelectorAll('svg.chart').forEach(function (svg) {
  if (!svg.getClientRects().length) { return; }
  var frame = svg.getBoundingClientRect();
  svg.querySelectorAll('text').forEach(function (t) {
    var b = t.getBoundingClientRect();
    if (b.left < frame.left - 0.5 || b.right > frame.right + 0.5 || b.top < frame.top - 0.5 ||
        b.bottom > frame.bottom + 0.5) { out.push('svg text: ' + t.textContent); }
  });
});
if (document.documentElement.scrollWidth > window.innerWidth) { out.push('page wider than the window'); }
return out;
"""
SELECT_JS = """
var s = document.getElementById('gebied'); s.value = arguments[0]; s.dispatchEvent(new Event('change'));
return Array.from(document.querySelectorAll('.area')).filter(function (a) { return !a.hidden; })
  .map(function (a) { return a.dataset.area; });
"""


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def built(request, tmp_path_factory) -> dict:
    """The demo's stages in process on one warehouse, then the dashboard written from its marts."""
    root = tmp_path_factory.mktemp(f"dashboard-{request.param}")
    synthetic.generate(root / "data", scale=0.3, seed=2026)
    page = root / "compliance_dashboard.html"
    if request.param == "duckdb":
        url = f"duckdb:///{root / 'warehouse.duckdb'}"
        demo.run_in_process(root / "data", url, b"dashboard-test-key-0123456789abcdef")
        yield {"url": url, "page": page, "counts": write_dashboard(url, page), "name": "duckdb"}
        return
    try:
        sa.create_engine(PG_BASE_URL).connect().close()
    except sa.exc.OperationalError as exc:
        unavailable(f"PostgreSQL not reachable at {PG_BASE_URL}: {exc.__class__.__name__}")
    with scratch_schema("dash") as schema:
        url = schema_url(schema)
        demo.run_in_process(root / "data", url, b"dashboard-test-key-0123456789abcdef")
        yield {"url": url, "page": page, "counts": write_dashboard(url, page), "name": "postgres"}


def month_key(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def period(reference: dt.date) -> list[str]:
    """The 12 months up to the reference date's month, counted by hand."""
    months, year, month = [], reference.year, reference.month
    for _ in range(12):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return sorted(months)


def tally(states: Counter) -> dict[str, int]:
    met = states["met"]
    decided = met + states["missed"] + states["open_overdue"]
    return {"met": met, "decided": decided, "open": states["open_in_time"], "overdue": states["open_overdue"]}


def expected(url: str) -> dict:
    """The dashboard's figures by this test's own SQL over the marts."""
    with warehouse.connect(url) as conn:

        def query(sql: str) -> list[tuple]:
            return [tuple(r) for r in conn.execute(sa.text(sql))]

        reference = query("SELECT value_date FROM meta_parameters WHERE name = 'reference_date'")[0][0]
        months = period(reference)
        # each case once per term: (area keys, month, responsible partner, state)
        cases = query(
            "SELECT municipality, corporation, team, COALESCE(t0_month, first_seen), t0_date IS NOT NULL, "
            "report_state, analysis_state, first_contact_state, rent_paid_state, trajectory, eviction_event "
            "FROM mart_referrals"
        )
        delivery = query("SELECT partner, period_start, status FROM mart_delivery_compliance")
        evictions = query(
            "SELECT year, municipality, sum(eviction_judgments), sum(evictions_executed), "
            "sum(judgments_with_children), sum(evictions_with_children), sum(policy_flags_children) "
            "FROM mart_evictions GROUP BY year, municipality"
        )
        overdue_rows = query("SELECT responsible_partner, deadline, count(*) FROM mart_worklist_overdue GROUP BY 1, 2")
        secrets = [r[0] for r in query("SELECT case_id FROM mart_referrals")]
        secrets += [r[0] for r in query("SELECT person_id FROM mart_referrals WHERE person_id IS NOT NULL")]

    area_states: dict[tuple[str, str], Counter] = {}
    trend_states: dict[tuple[str, str, str], Counter] = {}
    partner_states: dict[tuple[str, str], Counter] = {}
    overdue_all: Counter = Counter()
    case_counts: dict[str, Counter] = {}
    for municipality, corporation, team, month_day, has_t0, *states, trajectory, evicted in cases:
        month = month_key(month_day)
        for term, state in zip(TERM_STATES, states, strict=True):
            responsible = corporation if TERM_STATES[term][1] == "corporation" else team
            if state == "open_overdue":
                overdue_all[(responsible, term)] += 1
            if month not in months:
                continue
            for area in (REGION, municipality):
                area_states.setdefault((area, term), Counter())[state] += 1
                trend_states.setdefault((area, term, month), Counter())[state] += 1
            partner_states.setdefault((responsible, term), Counter())[state] += 1
        if month in months:
            for area in (REGION, municipality):
                counts = case_counts.setdefault(area, Counter())
                counts["cases" if has_t0 else "below_threshold"] += 1
                counts["trajectories"] += bool(trajectory)
                counts["evictions"] += bool(evicted)

    deliveries: dict[str, Counter] = {}
    for partner, start, status in delivery:
        if month_key(start) >= months[0]:
            deliveries.setdefault(partner, Counter())[status] += 1
    return {
        "reference": reference,
        "months": months,
        "area": {key: tally(c) for key, c in area_states.items()},
        "trend": {key: tally(c) for key, c in trend_states.items()},
        "partner": {key: tally(c) for key, c in partner_states.items()},
        "overdue": dict(overdue_all),
        "overdue_worklist": {(p, d): int(n) for p, d, n in overdue_rows},
        "cases": case_counts,
        "delivery": deliveries,
        "evictions": {(int(y), m): tuple(int(v) for v in rest) for y, m, *rest in evictions},
        "secrets": secrets,
    }


def rate(figure: dict[str, int]) -> str:
    return "" if not figure["decided"] else f"{100 * figure['met'] / figure['decided']:.1f}"


@pytest.fixture(scope="module")
def rendered(built) -> dict:
    if reason := available():
        unavailable(reason)
    with Browser(width=WIDTH, height=1000) as browser:
        browser.get(built["page"].as_uri())
        height = browser.execute("return document.documentElement.scrollHeight")
        browser.resize(WIDTH, height)
        figures = browser.execute(FIGURES_JS)
        text = browser.execute(TEXT_JS)
        clipped = browser.execute(CLIPPED_JS)
        suffix = "" if built["name"] == "duckdb" else "_postgres"
        browser.screenshot(SCREENSHOTS / f"compliance_dashboard{suffix}.png")
        shown = browser.execute(SELECT_JS, "Alblasserdam")
        alblasserdam = browser.execute(FIGURES_JS)
        clipped_alblasserdam = browser.execute(CLIPPED_JS)
        browser.screenshot(SCREENSHOTS / f"compliance_dashboard_alblasserdam{suffix}.png")
    return {
        "figures": figures,
        "text": text,
        "clipped": clipped + clipped_alblasserdam,
        "shown_after_filter": shown,
        "alblasserdam": alblasserdam,
        "want": expected(built["url"]),
        "html": built["page"].read_text(encoding="utf-8"),
    }


def of_chart(figures: list[dict], chart: str) -> list[dict]:
    return [f for f in figures if f["chart"] == chart]


def counts_of(figure: dict) -> dict[str, int]:
    return {k: int(figure[k]) for k in ("met", "decided", "open")}


def without_overdue(figure: dict[str, int]) -> dict[str, int]:
    return {k: figure[k] for k in ("met", "decided", "open")}


def test_every_area_shows_each_terms_rate_over_decided_cases_with_the_open_ones_beside(rendered) -> None:
    want = rendered["want"]
    cells = of_chart(rendered["figures"], "area")
    assert {(c["area"], c["term"]) for c in cells} == {(a, t) for a in [REGION, *MUNICIPALITIES] for t in TERM_STATES}
    for cell in cells:
        figure = want["area"].get((cell["area"], cell["term"]), tally(Counter()))
        assert counts_of(cell) == without_overdue(figure), (cell["area"], cell["term"])
        assert int(cell["overdue"]) == figure["overdue"]
        assert cell["value"] == rate(figure)
        assert cell["shown"] == (cell["area"] == REGION)  # the filter starts on the region
        if cell["shown"]:
            assert f"{figure['met']} van {figure['decided']}" in cell["text"]
            assert f"{figure['open']} open" in cell["text"]
    region = want["area"][(REGION, "report")]
    assert region["decided"] > 100 and region["open"] > 0  # the demo world has both kinds

    counts = {c["area"]: c for c in rendered["figures"] if "cases" in c and c["chart"] == "area-counts"}
    for area in [REGION, *MUNICIPALITIES]:
        for key in ("cases", "below_threshold", "trajectories", "evictions"):
            assert int(counts[area][key]) == want["cases"][area][key], (area, key)


def test_a_rate_with_more_cases_open_than_decided_is_grey_and_provisional(rendered) -> None:
    bars = of_chart(rendered["figures"], "trend")
    provisional = [b for b in bars if int(b["open"]) > int(b["decided"]) > 0]
    assert provisional  # the latest months of the demo have few decided cases
    for bar in provisional:
        assert "provisional" in bar["class"].split()
    settled = [b for b in bars if int(b["decided"]) >= int(b["open"]) and int(b["decided"]) > 0]
    assert settled and not [b for b in settled if "provisional" in b["class"].split()]


def test_twelve_month_trend_per_term_and_area(rendered) -> None:
    want = rendered["want"]
    bars = of_chart(rendered["figures"], "trend")
    assert {(b["area"], b["term"], b["month"]) for b in bars} == {
        (a, t, m) for a in [REGION, *MUNICIPALITIES] for t in TERM_STATES for m in want["months"]
    }
    for bar in bars:
        figure = want["trend"].get((bar["area"], bar["term"], bar["month"]), tally(Counter()))
        assert counts_of(bar) == without_overdue(figure), (bar["area"], bar["term"], bar["month"])
        assert bar["value"] == rate(figure)
    shown = [b for b in bars if b["shown"] and b["value"]]
    scales = [b["px_height"] / float(b["value"]) for b in shown if float(b["value"]) > 0]
    assert scales and max(scales) - min(scales) < 0.02 * max(scales)  # one scale: 100% is the same height


def test_every_municipality_and_the_regional_total_side_by_side(rendered) -> None:
    want = rendered["want"]
    cells = of_chart(rendered["figures"], "municipality")
    assert {(c["area"], c["term"]) for c in cells} == {(a, t) for a in [*MUNICIPALITIES, REGION] for t in TERM_STATES}
    for cell in cells:
        figure = want["area"].get((cell["area"], cell["term"]), tally(Counter()))
        assert counts_of(cell) == without_overdue(figure)
        assert f"{figure['met']} van {figure['decided']}" in cell["text"]
    # the regional total is the sum of the municipalities
    for term in TERM_STATES:
        by_municipality = [counts_of(c) for c in cells if c["term"] == term and c["area"] != REGION]
        total = next(counts_of(c) for c in cells if c["term"] == term and c["area"] == REGION)
        assert total == {k: sum(m[k] for m in by_municipality) for k in total}


def test_each_partner_for_its_own_terms_under_its_name(rendered) -> None:
    want = rendered["want"]
    cells = of_chart(rendered["figures"], "partner")
    corporations = {c["partner"] for c in cells if c["term"] == "report"}
    assert corporations == set(NAMES)
    assert {c["term"] for c in cells if c["partner"] in NAMES} == {"report"}
    teams = {c["partner"] for c in cells if c["term"] != "report"}
    assert len(teams) == 7 and all(team.startswith("Sociaal") for team in teams)
    for cell in cells:
        assert counts_of(cell) == without_overdue(want["partner"][(cell["partner"], cell["term"])])
    for name in (*NAMES.values(), *teams):
        assert name in rendered["text"]
    assert not re.search(r"\b(tablis|trivire|woonbron|sociale_teams|sdd)\b", rendered["text"])  # codes


def test_overdue_now_per_responsible_organisation(rendered) -> None:
    want = rendered["want"]
    cells = of_chart(rendered["figures"], "overdue")
    shown = {(c["partner"], c["term"]): int(c["value"]) for c in cells if int(c["value"])}
    assert shown == want["overdue"] == want["overdue_worklist"]


def test_delivery_compliance_per_partner(rendered) -> None:
    want = rendered["want"]
    rows = of_chart(rendered["figures"], "delivery")
    assert {r["partner"] for r in rows} == set(want["delivery"])
    for row in rows:
        statuses = want["delivery"][row["partner"]]
        got = {k: int(row[k]) for k in ("on_time", "late", "missed", "open")}
        assert got == {k: statuses[k] for k in got}, row["partner"]
    assert "Sociale Dienst Drechtsteden" in rendered["text"] and "Sociale (wijk)teams Drechtsteden" in rendered["text"]


def test_evictions_per_year_with_the_policy_flags(rendered) -> None:
    want = rendered["want"]
    rows = of_chart(rendered["figures"], "evictions")
    got = {
        (int(r["year"]), r["municipality"]): tuple(
            int(r[k]) for k in ("judgments", "executed", "judgments_children", "executed_children", "policy_flags")
        )
        for r in rows
    }
    assert got == want["evictions"]
    alblasserdam = [r for r in rows if r["municipality"] == "Alblasserdam"]
    assert alblasserdam and sum(int(r["policy_flags"]) for r in alblasserdam) > 0
    assert "Geen ontruiming van gezinnen met kinderen" in rendered["text"]
    flagged = [r for r in alblasserdam if int(r["judgments_children"]) or int(r["executed_children"])]
    assert all("gezin met kinderen" in r["text"] for r in flagged)  # the flag itself: test_dashboard_figures
    others = [r for r in rows if r["municipality"] != "Alblasserdam"]
    assert not [r for r in others if "gezin met kinderen" in r["text"]]  # no rule there, no flag


def test_dutch_throughout_and_t0_explained(rendered) -> None:
    text = rendered["text"]
    assert "<html lang='nl'>" in rendered["html"]
    assert "T0" in text and "één volle maandhuur" in text
    for phrase in ("binnen 6 weken", "binnen 2 weken", "binnen 4 weken", "3 werkdagen", "lopende huur"):
        assert phrase in text
    reference = rendered["want"]["reference"]
    named = {10: "oktober", 11: "november", 12: "december"}  # the demo's reference dates fall in these months
    assert f"{reference.day} {named[reference.month]} {reference.year}" in text
    assert "okt '26" in text or "nov '26" in text
    english = r"\b(on time|overdue|report|analysis|municipality|judgments?|evictions?|deadline|rate|cases|month)\b"
    assert not re.findall(english, text, flags=re.IGNORECASE)


def test_the_municipality_filter_shows_one_view(rendered) -> None:
    assert rendered["shown_after_filter"] == ["Alblasserdam"]
    shown = [f for f in of_chart(rendered["alblasserdam"], "area") if f["shown"]]
    assert {f["area"] for f in shown} == {"Alblasserdam"} and len(shown) == len(TERM_STATES)
    for cell in shown:
        figure = rendered["want"]["area"][("Alblasserdam", cell["term"])]
        assert f"{figure['met']} van {figure['decided']}" in cell["text"]


def test_nothing_clipped_nothing_fetched_no_case_level_values(rendered) -> None:
    assert rendered["clipped"] == []
    page = rendered["html"]
    assert not re.search(r"https?:|\bsrc=|<link|@import|url\(", page)  # opens offline
    assert not [value for value in rendered["want"]["secrets"] if value in page]  # aggregates only
    for name in ("compliance_dashboard", "compliance_dashboard_alblasserdam"):
        shots = list(SCREENSHOTS.glob(f"{name}*.png"))
        assert shots and all(s.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and s.stat().st_size > 50_000 for s in shots)


def test_screenshots_are_1400_pixels_wide(rendered) -> None:
    for shot in SCREENSHOTS.glob("compliance_dashboard*.png"):
        width = int.from_bytes(shot.read_bytes()[16:20], "big")  # the PNG header's IHDR width
        assert width == WIDTH, shot.name


def test_rates_are_exact_to_one_decimal(rendered) -> None:
    for cell in of_chart(rendered["figures"], "area"):
        if cell["value"]:
            assert math.isclose(float(cell["value"]), round(100 * int(cell["met"]) / int(cell["decided"]), 1))


def test_the_written_counts(built) -> None:
    counts = built["counts"]
    assert counts["areas"] == 8 and counts["months"] == 12 and Path(counts["path"]) == built["page"]
