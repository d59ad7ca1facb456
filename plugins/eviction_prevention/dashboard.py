"""Compliance dashboard: one self-contained HTML file with inline SVG charts (no scripts, no CDN).

Written by the publish DAG after the marts are rebuilt (``<EVICTION_PREVENTION_HOME>/reports/``):

* on-time rate per partner per month: corporations for the 6-week report deadline, social teams for the
  2-week analysis deadline; rate = met / (met + missed + overdue now), cases still open in time excluded;
* open cases past a deadline now, per responsible partner and deadline (``mart_worklist_overdue``);
* eviction judgments and executed evictions per municipality (``mart_evictions``).

Only aggregate counts reach the page: no case ids, no pseudonyms.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from eviction_prevention import settings, warehouse

log = logging.getLogger(__name__)

DEADLINE_LABELS = {"report": "report (6 weeks)", "analysis": "analysis (2 weeks)", "first_contact": "first contact"}
COLOURS = {"good": "#2e7d32", "fair": "#f9a825", "poor": "#c62828", "neutral": "#1565c0", "second": "#90a4ae"}


def default_path() -> Path:
    return settings.home() / "reports" / "compliance_dashboard.html"


# ------------------------------------------------------------------------------------------------- figures


def on_time_rates(monthly: pd.DataFrame) -> pd.DataFrame:
    """Per partner and month: met, decided (met + missed + overdue now) and the rate in percent."""
    parts = []
    for kind, partner_col, prefix, overdue in (
        ("corporation", "corporation", "reported", "report_overdue_now"),
        ("social_team", "team", "analysed", "analysis_overdue_now"),
    ):
        frame = (
            monthly.dropna(subset=[partner_col])
            .groupby([partner_col, "month"], as_index=False)[[f"{prefix}_on_time", f"{prefix}_late", overdue]]
            .sum()
        )
        parts.append(
            pd.DataFrame(
                {
                    "kind": kind,
                    "partner": frame[partner_col],
                    "month": pd.to_datetime(frame["month"]).dt.strftime("%Y-%m"),
                    "met": frame[f"{prefix}_on_time"].astype(int),
                    "decided": (frame[f"{prefix}_on_time"] + frame[f"{prefix}_late"] + frame[overdue]).astype(int),
                }
            )
        )
    rates = pd.concat(parts, ignore_index=True)
    rates = rates[rates["decided"] > 0].copy()
    rates["rate"] = (100.0 * rates["met"] / rates["decided"]).round(1)
    return rates.sort_values(["kind", "partner", "month"], ignore_index=True)


def overdue_counts(worklist: pd.DataFrame) -> pd.DataFrame:
    counts = worklist.groupby(["responsible_kind", "responsible_partner", "deadline"], as_index=False).size()
    return counts.rename(columns={"size": "cases"}).sort_values(
        ["responsible_kind", "responsible_partner", "deadline"], ignore_index=True
    )


def evictions_by_municipality(evictions: pd.DataFrame) -> pd.DataFrame:
    frame = evictions.groupby("municipality", as_index=False)[["eviction_judgments", "evictions_executed"]].sum()
    return frame.astype({"eviction_judgments": int, "evictions_executed": int}).sort_values(
        "municipality", ignore_index=True
    )


# ------------------------------------------------------------------------------------------------- SVG


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as printed next to the bar
    colour: str
    data: dict[str, str] = field(default_factory=dict)


def _attrs(data: dict[str, str]) -> str:
    return " ".join(f'data-{k}="{html.escape(str(v))}"' for k, v in data.items())


def column_chart(bars: list[Bar], max_value: float, height: int = 140, column: int = 34) -> str:
    """Vertical bars (one per month) with the value above and the label below each bar."""
    top, bottom = 18, 22
    width = max(len(bars), 1) * column + 10
    scale = (height - top - bottom) / max_value if max_value else 0
    out = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    out.append(f'<line x1="0" x2="{width}" y1="{height - bottom}" y2="{height - bottom}" stroke="#999"/>')
    for i, bar in enumerate(bars):
        h = bar.value * scale
        x = 5 + i * column
        y = height - bottom - h
        out.append(
            f'<rect class="bar" x="{x + 3}" y="{y:.2f}" width="{column - 6}" height="{h:.2f}" fill="{bar.colour}" '
            f"{_attrs(bar.data)}><title>{html.escape(bar.label)}: {html.escape(bar.text)}</title></rect>"
        )
        out.append(f'<text x="{x + column / 2}" y="{y - 4:.2f}" text-anchor="middle">{html.escape(bar.text)}</text>')
        out.append(
            f'<text x="{x + column / 2}" y="{height - 6}" text-anchor="middle" class="tick">'
            f"{html.escape(bar.label)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def bar_chart(bars: list[Bar], max_value: float, label_width: int = 330, length: int = 420, row: int = 22) -> str:
    """Horizontal bars with the label left and the value right of each bar."""
    width = label_width + length + 60
    height = max(len(bars), 1) * row + 6
    scale = length / max_value if max_value else 0
    out = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    for i, bar in enumerate(bars):
        y = 3 + i * row
        w = bar.value * scale
        out.append(
            f'<text x="{label_width - 8}" y="{y + row * 0.65:.1f}" text-anchor="end">{html.escape(bar.label)}</text>'
        )
        out.append(
            f'<rect class="bar" x="{label_width}" y="{y + 2}" width="{w:.2f}" height="{row - 6}" '
            f'fill="{bar.colour}" {_attrs(bar.data)}><title>{html.escape(bar.label)}: '
            f"{html.escape(bar.text)}</title></rect>"
        )
        out.append(f'<text x="{label_width + w + 6:.2f}" y="{y + row * 0.65:.1f}">{html.escape(bar.text)}</text>')
    out.append("</svg>")
    return "".join(out)


def rate_colour(rate: float) -> str:
    return COLOURS["good"] if rate >= 80 else COLOURS["fair"] if rate >= 50 else COLOURS["poor"]


def on_time_section(rates: pd.DataFrame) -> str:
    parts = []
    for kind, title in (
        ("corporation", "Corporations: reported within 6 weeks of T0"),
        ("social_team", "Social teams: analysis within 2 weeks of the report"),
    ):
        parts.append(f"<h3>{html.escape(title)}</h3><div class='grid'>")
        for partner, frame in rates[rates["kind"] == kind].groupby("partner", sort=True):
            bars = [
                Bar(
                    f"{pd.Timestamp(r.month):%b %y}",
                    r.rate,
                    f"{r.rate:.0f}%",
                    rate_colour(r.rate),
                    {
                        "chart": "on-time",
                        "partner": partner,
                        "month": r.month,
                        "value": f"{r.rate:.1f}",
                        "met": str(r.met),
                        "decided": str(r.decided),
                    },
                )
                for r in frame.itertuples()
            ]
            parts.append(f"<figure><figcaption>{html.escape(partner)}</figcaption>{column_chart(bars, 100.0)}</figure>")
        parts.append("</div>")
    return "".join(parts)


def overdue_section(counts: pd.DataFrame) -> str:
    bars = [
        Bar(
            f"{r.responsible_partner} - {DEADLINE_LABELS.get(r.deadline, r.deadline)}",
            r.cases,
            str(r.cases),
            COLOURS["poor"] if r.responsible_kind == "corporation" else COLOURS["fair"],
            {"chart": "overdue", "partner": r.responsible_partner, "deadline": r.deadline, "value": str(r.cases)},
        )
        for r in counts.itertuples()
    ]
    total = int(counts["cases"].sum()) if len(counts) else 0
    chart = bar_chart(bars, float(counts["cases"].max())) if bars else "<p>No open cases past a deadline.</p>"
    return f"<p class='total' data-total-overdue='{total}'>{total} open case deadlines overdue now.</p>{chart}"


def evictions_section(frame: pd.DataFrame) -> str:
    bars = []
    for r in frame.itertuples():
        for column, what, colour in (
            ("eviction_judgments", "judgments", COLOURS["second"]),
            ("evictions_executed", "evictions", COLOURS["neutral"]),
        ):
            value = int(getattr(r, column))
            bars.append(
                Bar(
                    f"{r.municipality} - {what}",
                    value,
                    str(value),
                    colour,
                    {"chart": "evictions", "municipality": r.municipality, "measure": what, "value": str(value)},
                )
            )
    if not bars:
        return "<p>No eviction judgments or evictions.</p>"
    return bar_chart(bars, float(max(b.value for b in bars)) or 1.0, label_width=260)


STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
h3{font-size:15px}.grid{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;border:1px solid #eee;padding:6px}
figcaption{font-weight:600;font-size:13px}.chart text{font-size:11px}.chart .tick{font-size:9px}
.meta{color:#666;font-size:13px}
"""


def render(rates: pd.DataFrame, overdue: pd.DataFrame, evictions: pd.DataFrame, reference: str, written: str) -> str:
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Eviction prevention Drechtsteden - covenant compliance</title>"
        f"<style>{STYLE}</style></head><body>"
        "<h1>Eviction prevention Drechtsteden - covenant compliance</h1>"
        f"<p class='meta'>Deadline states as of <span id='reference-date'>{html.escape(reference)}</span>; "
        f"written {html.escape(written)}. Aggregates only. Green: at least 80% on time, amber: 50-80%, red: less.</p>"
        f"<h2 id='on-time'>On-time rate per partner per month of T0</h2>{on_time_section(rates)}"
        f"<h2 id='overdue'>Overdue now, per responsible partner</h2>{overdue_section(overdue)}"
        f"<h2 id='evictions'>Eviction judgments and evictions per municipality</h2>{evictions_section(evictions)}"
        "</body></html>"
    )


def write_dashboard(url: str | None = None, out_path: Path | None = None) -> dict[str, object]:
    """Read the marts and write the dashboard (atomically); returns what it drew, as counts."""
    out_path = Path(out_path or default_path())
    with warehouse.connect(url) as conn:
        monthly = warehouse.read_frame(conn, "SELECT * FROM mart_compliance_monthly")
        worklist = warehouse.read_frame(
            conn, "SELECT responsible_kind, responsible_partner, deadline FROM mart_worklist_overdue"
        )
        evictions = warehouse.read_frame(conn, "SELECT * FROM mart_evictions")
        reference = conn.exec_driver_sql(
            "SELECT value_date FROM meta_parameters WHERE name = 'reference_date'"
        ).scalar()
    rates, overdue, by_municipality = (
        on_time_rates(monthly),
        overdue_counts(worklist),
        evictions_by_municipality(evictions),
    )
    page = render(
        rates, overdue, by_municipality, str(reference or "-"), dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out_path)
    counts = {
        "on_time_bars": len(rates),
        "overdue_bars": len(overdue),
        "eviction_municipalities": len(by_municipality),
        "path": str(out_path),
    }
    log.info(
        "dashboard written: %(on_time_bars)d on-time bars, %(overdue_bars)d overdue bars, "
        "%(eviction_municipalities)d municipalities",
        counts,
    )
    return counts
