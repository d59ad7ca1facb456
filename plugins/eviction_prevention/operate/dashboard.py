"""The compliance dashboard: one self-contained Dutch HTML page for a municipal policy officer.

Written by the publish DAG after the marts are rebuilt (``<EVICTION_PREVENTION_HOME>/reports/``). It opens
offline: inline CSS and SVG, one inline script for the municipality filter (without it the regional view
shows), nothing fetched. Views, for the 12 months of T0 up to the reference date (``dashboard_figures``):

* the region (or one municipality, chosen in the filter): per covenant term the cases met, decided and still
  open, the rate over the decided cases, and a 12-month trend per term;
* every municipality side by side, with the regional total;
* per corporation (report) and per social team (analysis, first conversation, rent paid);
* open cases past a term now, per responsible organisation (``mart_worklist_overdue``, all months);
* delivery of files per partner (``mart_delivery_compliance``);
* eviction judgments and executed evictions per year and municipality, with the municipal policy flags.

Only aggregate counts reach the page: no case ids, no pseudonyms. Every figure carries ``data-*`` attributes
with its counts, which the browser test compares with SQL of its own.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import os
from pathlib import Path

import pandas as pd

from eviction_prevention import dutch_time, settings, warehouse
from eviction_prevention.operate import dashboard_figures as figures
from eviction_prevention.operate.dashboard_figures import REGION, TERMS, Delivery, Tally, Term

log = logging.getLogger(__name__)

COLOURS = {"good": "#2e7d32", "fair": "#ef8f00", "poor": "#c62828", "provisional": "#9e9e9e"}
GOOD, FAIR = 80.0, 50.0  # rate bands of the colours (no covenant norm: a reading aid, stated on the page)
KIND_NAMES = {"corporation": "Woningcorporatie", "social_team": "Sociaal team", "sdd": "Sociale dienst"}
POLICY_TEXT = {"no_eviction_families_with_children": "Geen ontruiming van gezinnen met kinderen"}


def default_path() -> Path:
    return settings.home() / "reports" / "compliance_dashboard.html"


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def data_attrs(**values: object) -> str:
    return " ".join(f'data-{k.replace("_", "-")}="{esc(v)}"' for k, v in values.items())


def band(tally_: Tally) -> str:
    rate = tally_.rate
    if rate is None or tally_.provisional:
        return "provisional"
    return "good" if rate >= GOOD else "fair" if rate >= FAIR else "poor"


def percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.0f}%"


def tally_data(tally_: Tally) -> dict[str, object]:
    """The counts a figure carries in its ``data-*`` attributes, for the browser test."""
    rate = "" if tally_.rate is None else f"{tally_.rate:.1f}"
    return {"met": tally_.met, "decided": tally_.decided, "open": tally_.open, "value": rate}


# ------------------------------------------------------------------------------------------------- cells


def rate_cell(tally_: Tally, chart: str, **keys: object) -> str:
    """A table cell: a meter, the rate, 'met van decided', the open cases and (when so) 'voorlopig'."""
    attrs = data_attrs(chart=chart, **keys, **tally_data(tally_), overdue=tally_.overdue)
    width = 0.0 if tally_.rate is None else tally_.rate
    mark = " <span class='tag'>voorlopig</span>" if tally_.provisional and tally_.decided else ""
    return (
        f"<td class='rate' {attrs}><div class='meter'><span class='{band(tally_)}' style='width:{width:.1f}%'>"
        f"</span></div><b>{percent(tally_.rate)}</b> <span class='n'>{tally_.met} van {tally_.decided}</span> "
        f"<span class='open'>{tally_.open} open</span>{mark}</td>"
    )


def term_header(terms: tuple[Term, ...] = TERMS) -> str:
    return "".join(f"<th title='{esc(t.rule)}'>{esc(t.title)}</th>" for t in terms)


# ------------------------------------------------------------------------------------------------- charts


def trend_chart(term: Term, area: str, points: list[tuple[dt.date, Tally]]) -> str:
    """Column chart, one column per month: the rate above, month, 'met/decided' and open cases below."""
    column, top, plot, below = 54, 18, 100, 50
    width, height = len(points) * column + 8, top + plot + below
    out = [f"<svg class='chart' width='{width}' height='{height}' viewBox='0 0 {width} {height}' role='img'>"]
    out.append(f"<line x1='0' x2='{width}' y1='{top + plot}' y2='{top + plot}' stroke='#999'/>")
    for i, (month, t) in enumerate(points):
        x, mid = 4 + i * column, 4 + i * column + column / 2
        h = (t.rate or 0.0) * plot / 100.0
        attrs = data_attrs(chart="trend", area=area, term=term.key, month=f"{month:%Y-%m}", **tally_data(t))
        out.append(
            f"<rect class='bar {band(t)}' x='{x + 6}' y='{top + plot - h:.2f}' width='{column - 12}' "
            f"height='{h:.2f}' fill='{COLOURS[band(t)]}' {attrs}><title>{esc(dutch_time.month_year(month))}: "
            f"{t.met} van {t.decided} op tijd, {t.open} nog open</title></rect>"
        )
        out.append(f"<text x='{mid}' y='{top + plot - h - 4:.2f}' text-anchor='middle'>{percent(t.rate)}</text>")
        for line, (css, text) in enumerate(
            (("tick", dutch_time.short_month(month)), ("count", f"{t.met}/{t.decided}"), ("open", f"+{t.open} open"))
        ):
            out.append(
                f"<text class='{css}' x='{mid}' y='{top + plot + 14 + 13 * line}' text-anchor='middle'>{text}</text>"
            )
    out.append("</svg>")
    return "".join(out)


# ------------------------------------------------------------------------------------------------- sections


def explanation() -> str:
    terms = "".join(f"<dt>{esc(t.title)}</dt><dd>{esc(t.rule)}</dd>" for t in TERMS)
    return (
        "<section id='uitleg'><h2>Zo leest u dit dashboard</h2><dl>"
        "<dt>T0</dt><dd>De datum waarop de huurachterstand één volle maandhuur bereikt: door de corporatie "
        "opgegeven, anders de eerste aanlevering waarin de achterstand minstens één maandhuur is. Alle termijnen "
        "tellen vanaf T0 of vanaf de melding; maanden in dit dashboard zijn maanden van T0.</dd>"
        f"{terms}"
        "<dt>Aanlevering</dt><dd>Elke partner levert zijn bestand per afgesproken periode op tijd aan.</dd>"
        "<dt>Percentage</dt><dd>Op tijd gedeeld door <em>beslist</em>: op tijd, te laat, of de termijn is al "
        "verstreken zonder actie (nu over termijn). Casussen waarvan de termijn nog loopt, tellen niet mee en "
        "staan ernaast als <em>open</em>. Zijn er meer open dan beslist, dan is het percentage <em>voorlopig</em> "
        "(grijs).</dd>"
        f"<dt>Kleuren</dt><dd><span class='key good'></span>{GOOD:.0f}% of meer op tijd · "
        f"<span class='key fair'></span>{FAIR:.0f}–{GOOD:.0f}% · <span class='key poor'></span>minder dan "
        f"{FAIR:.0f}% · <span class='key provisional'></span>voorlopig of niets beslist. De kleurgrenzen zijn "
        "een leeshulp, geen norm uit het convenant.</dd>"
        "</dl></section>"
    )


def area_view(area: str, monthly: pd.DataFrame, months: list[dt.date], selected: bool) -> str:
    frame = figures.of_area(monthly, area)
    tallies = figures.term_tallies(frame)
    counts = figures.case_counts(frame)
    rows = "".join(
        f"<tr><th scope='row' title='{esc(t.rule)}'>{esc(t.title)}</th>"
        f"{rate_cell(tallies[t.key], 'area', area=area, term=t.key)}"
        f"<td class='num'>{tallies[t.key].overdue if t.overdue else '–'}</td></tr>"
        for t in TERMS
    )
    charts = "".join(
        f"<figure><figcaption>{esc(t.title)}</figcaption>{trend_chart(t, area, figures.trend(frame, t, months))}"
        "</figure>"
        for t in TERMS
    )
    hidden = "" if selected else " hidden"
    return (
        f"<div class='area' data-area='{esc(area)}'{hidden}><h3>{esc(area)}</h3>"
        f"<p class='counts' {data_attrs(chart='area-counts', area=area, **counts)}>"
        f"{counts['cases']} casussen met T0 in de periode · "
        f"{counts['below_threshold']} onder de drempel (geen T0) · {counts['trajectories']} zorgtrajecten · "
        f"{counts['evictions']} ontruimingen</p>"
        "<table class='terms'><thead><tr><th>Termijn</th><th>Op tijd van beslist, en nog open</th>"
        f"<th>Nu over termijn</th></tr></thead><tbody>{rows}</tbody></table>"
        f"<h4>Trend per maand van T0</h4><div class='grid'>{charts}</div></div>"
    )


def area_section(monthly: pd.DataFrame, months: list[dt.date], municipalities: list[str]) -> str:
    options = "".join(f"<option value='{esc(a)}'>{esc(a)}</option>" for a in figures.areas(municipalities))
    views = "".join(area_view(a, monthly, months, a == REGION) for a in figures.areas(municipalities))
    return (
        "<section id='stand'><h2>Naleving per termijn</h2>"
        f"<p class='filter'><label for='gebied'>Gemeente </label><select id='gebied'>{options}</select></p>"
        f"{views}</section>"
    )


def municipality_section(monthly: pd.DataFrame, municipalities: list[str]) -> str:
    rows = []
    for area in [*sorted(municipalities), REGION]:
        frame = figures.of_area(monthly, area)
        tallies = figures.term_tallies(frame)
        counts = figures.case_counts(frame)
        css = " class='total'" if area == REGION else ""
        label = "Drechtsteden (totaal)" if area == REGION else area
        rows.append(
            f"<tr{css}><th scope='row'>{esc(label)}</th><td class='num'>{counts['cases']}</td>"
            + "".join(rate_cell(tallies[t.key], "municipality", area=area, term=t.key) for t in TERMS)
            + "</tr>"
        )
    return (
        "<section id='gemeenten'><h2>Per gemeente</h2><table class='wide'><thead><tr><th>Gemeente</th>"
        f"<th>Casussen</th>{term_header()}</tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def partner_section(monthly: pd.DataFrame, names: dict[str, str]) -> str:
    parts = ["<section id='partners'><h2>Per partner</h2>"]
    for column, title, kind in (
        ("corporation", "Woningcorporaties", "corporation"),
        ("team", "Sociale teams", "social_team"),
    ):
        terms = tuple(t for t in TERMS if t.responsible == kind)
        rows = "".join(
            f"<tr><th scope='row'>{esc(names.get(partner, partner))}</th>"
            + "".join(rate_cell(tallies[t.key], "partner", partner=partner, term=t.key) for t in terms)
            + "</tr>"
            for partner, tallies in figures.by_partner(monthly, column, terms).items()
        )
        parts.append(
            f"<h3>{title}</h3><table class='wide'><thead><tr><th>Organisatie</th>{term_header(terms)}</tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    parts.append("</section>")
    return "".join(parts)


def worklist_section(worklist: pd.DataFrame, names: dict[str, str]) -> str:
    counts = (
        worklist.groupby(["responsible_partner", "deadline"]).size().unstack(fill_value=0)
        if len(worklist)
        else pd.DataFrame()
    )
    keys = [t.key for t in TERMS if t.overdue and t.key in counts.columns]
    total = int(counts.to_numpy().sum()) if len(counts) else 0
    rows = "".join(
        f"<tr><th scope='row'>{esc(names.get(partner, partner))}</th>"
        + "".join(
            f"<td class='num' {data_attrs(chart='overdue', partner=partner, term=k, value=int(counts.at[partner, k]))}>"
            f"{int(counts.at[partner, k])}</td>"
            for k in keys
        )
        + f"<td class='num'><b>{int(counts.loc[partner, keys].sum())}</b></td></tr>"
        for partner in sorted(counts.index, key=lambda p: names.get(p, p))
    )
    header = "".join(f"<th>{esc(figures.TERM_BY_KEY[k].title)}</th>" for k in keys)
    table = (
        f"<table><thead><tr><th>Verantwoordelijk</th>{header}<th>Totaal</th></tr></thead><tbody>{rows}</tbody></table>"
        if total
        else "<p>Geen open casussen over een termijn.</p>"
    )
    return (
        "<section id='werklijst'><h2>Nu over termijn</h2>"
        f"<p class='note' data-total-overdue='{total}'>{total} open termijnen zijn nu verstreken zonder actie, "
        "uit alle maanden (ook van vóór de periode). Per casus staan ze in <code>mart_worklist_overdue</code>."
        f"</p>{table}</section>"
    )


def delivery_section(per_partner: dict[str, Delivery], names: dict[str, str], kinds: dict[str, str]) -> str:
    rows = []
    for partner, d in per_partner.items():
        attrs = data_attrs(
            chart="delivery", partner=partner, on_time=d.on_time, late=d.late, missed=d.missed, open=d.open
        )
        last = dutch_time.long_date(d.last_delivered) if d.last_delivered else "–"
        rows.append(
            f"<tr {attrs}><th scope='row'>{esc(names.get(partner, partner))}</th>"
            f"<td>{esc(KIND_NAMES.get(kinds.get(partner, ''), ''))}</td>"
            f"{rate_cell(d.tally, 'delivery-rate', partner=partner)}<td class='num'>{d.late}</td>"
            f"<td class='num'>{d.missed}</td><td class='num'>{d.open}</td><td>{last}</td></tr>"
        )
    return (
        "<section id='aanlevering'><h2>Aanlevering van bestanden per partner</h2>"
        "<p class='note'>Per afgesproken periode: op tijd, te laat of gemist (niets ontvangen en de uiterste "
        "leverdatum verstreken); open: de periode is nog niet verlopen.</p>"
        "<table class='wide'><thead><tr><th>Partner</th><th>Soort</th><th>Op tijd van verlopen perioden</th>"
        f"<th>Te laat</th><th>Gemist</th><th>Open</th><th>Laatst geleverd</th></tr></thead><tbody>{''.join(rows)}"
        "</tbody></table></section>"
    )


def policy_rules(municipalities: dict[str, dict]) -> dict[str, list[str]]:
    """Per municipality the policy rules that are switched on (config/municipalities.yaml)."""
    return {
        name: [rule for rule, on in (entry.get("policy") or {}).items() if on] for name, entry in municipalities.items()
    }


def evictions_section(per_year: pd.DataFrame, rules: dict[str, list[str]]) -> str:
    rows = []
    for r in per_year.itertuples():
        own = rules.get(r.municipality, [])
        children_rule = "no_eviction_families_with_children" in own
        breach = children_rule and r.evictions_with_children > 0
        judged = children_rule and r.judgments_with_children > 0
        flag = (
            "<span class='flag poor'>ontruiming bij gezin met kinderen</span>"
            if breach
            else "<span class='flag fair'>vonnis bij gezin met kinderen</span>"
            if judged
            else ""
        )
        attrs = data_attrs(
            chart="evictions",
            municipality=r.municipality,
            year=r.year,
            judgments=r.eviction_judgments,
            executed=r.evictions_executed,
            judgments_children=r.judgments_with_children,
            executed_children=r.evictions_with_children,
            policy_flags=r.policy_flags_children,
        )
        rows.append(
            f"<tr {attrs}><td>{r.year}</td><th scope='row'>{esc(r.municipality)}</th>"
            f"<td class='num'>{r.eviction_judgments}</td><td class='num'>{r.evictions_executed}</td>"
            f"<td class='num'>{r.judgments_with_children}</td><td class='num'>{r.evictions_with_children}</td>"
            f"<td>{esc('; '.join(POLICY_TEXT.get(rule, rule) for rule in own)) or '–'}</td>"
            f"<td class='num'>{r.policy_flags_children if own else '–'}</td>"
            f"<td>{flag}</td></tr>"
        )
    body = "".join(rows) or "<tr><td colspan='9'>Geen vonnissen of ontruimingen.</td></tr>"
    return (
        "<section id='ontruimingen'><h2>Vonnissen en ontruimingen per jaar</h2>"
        "<p class='note'>Per gebeurtenis geteld (een vonnis dat in een nieuwe achterstandsperiode terugkomt, telt "
        "één keer), in het jaar van het vonnis of de ontruiming. <em>Onder beleidsregel</em>: casussen waarop een "
        "gemeentelijke regel van toepassing is (bijvoorbeeld een gezin met kinderen in Alblasserdam), in het jaar "
        "van T0, ook zonder vonnis.</p>"
        "<table class='wide'><thead><tr><th>Jaar</th><th>Gemeente</th><th>Vonnissen</th><th>Ontruimingen</th>"
        "<th>Vonnissen bij gezinnen met kinderen</th><th>Ontruimingen bij gezinnen met kinderen</th>"
        "<th>Beleidsregel</th><th>Onder beleidsregel</th><th>Signaal</th></tr></thead>"
        f"<tbody>{body}</tbody></table></section>"
    )


STYLE = """
body{font-family:system-ui,sans-serif;margin:24px auto;color:#222;max-width:1360px;padding:0 16px;font-size:14px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:30px}
h3{font-size:16px;margin:14px 0 6px}h4{font-size:14px;margin:14px 0 6px}
.meta,.note,.counts{color:#555;font-size:13px}
#uitleg dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0}#uitleg dt{font-weight:600}
#uitleg dd{margin:0}
table{border-collapse:collapse;margin:6px 0}th,td{padding:4px 8px;border-bottom:1px solid #eee;text-align:left;
vertical-align:middle;white-space:nowrap}thead th{font-size:12px;color:#555;border-bottom:1px solid #bbb;
white-space:normal;vertical-align:bottom}
table.wide{width:100%}td.num{text-align:right}tr.total th,tr.total td{border-top:2px solid #999;font-weight:600}
td.rate{white-space:normal;min-width:150px}.meter{display:inline-block;width:56px;height:9px;background:#eee;margin-right:6px;
vertical-align:middle}.meter span{display:block;height:100%}
.good{background:#2e7d32}.fair{background:#ef8f00}.poor{background:#c62828}.provisional{background:#9e9e9e}
.n{color:#333}.open{color:#777;font-size:12px}.tag{font-size:11px;color:#fff;background:#9e9e9e;padding:0 4px;
border-radius:3px}.key{display:inline-block;width:10px;height:10px;margin:0 4px 0 0}
.flag{color:#fff;padding:1px 6px;border-radius:3px;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(2,max-content);gap:12px}
figure{margin:0;border:1px solid #eee;padding:6px}figcaption{font-weight:600;font-size:13px}
.chart text{font-size:11px;fill:#222}.chart .tick{font-size:11px;fill:#444}.chart .count{fill:#333}
.chart .open{fill:#777;font-size:10px}.filter select{font-size:14px;padding:2px 4px}
"""

FILTER_SCRIPT = """
document.getElementById('gebied').addEventListener('change', function (event) {
  document.querySelectorAll('.area').forEach(function (view) {
    view.hidden = view.dataset.area !== event.target.value;
  });
});
"""


def render(
    monthly: pd.DataFrame,
    worklist: pd.DataFrame,
    delivery: pd.DataFrame,
    evictions: pd.DataFrame,
    reference: dt.date,
    written: dt.datetime,
    names: dict[str, str],
    kinds: dict[str, str],
    municipalities: dict[str, dict],
) -> str:
    months = figures.period_months(reference)
    period = figures.in_period(monthly, months)
    head = (
        "<!DOCTYPE html><html lang='nl'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>Preventie huisuitzettingen Drechtsteden – naleving convenant</title>"
        f"<style>{STYLE}</style></head><body>"
    )
    header = (
        "<h1>Preventie huisuitzettingen Drechtsteden – naleving convenant</h1>"
        f"<p class='meta'>Stand per <span id='peildatum' data-date='{reference:%Y-%m-%d}'>"
        f"{dutch_time.long_date(reference)}</span> (peildatum) · periode: T0 van "
        f"<span id='periode' data-from='{months[0]:%Y-%m}' data-to='{months[-1]:%Y-%m}'>"
        f"{dutch_time.month_year(months[0])} t/m {dutch_time.month_year(months[-1])}</span> · bijgewerkt "
        f"{dutch_time.long_date(written.date())} {written:%H:%M}. Alleen aantallen: geen persoonsgegevens.</p>"
    )
    return (
        head
        + header
        + explanation()
        + area_section(period, months, list(municipalities))
        + municipality_section(period, list(municipalities))
        + partner_section(period, names)
        + worklist_section(worklist, names)
        + delivery_section(figures.deliveries(delivery, months), names, kinds)
        + evictions_section(figures.evictions_per_year(evictions), policy_rules(municipalities))
        + f"<script>{FILTER_SCRIPT}</script></body></html>"
    )


def write_dashboard(url: str | None = None, out_path: Path | None = None) -> dict[str, object]:
    """Read the marts and write the dashboard (atomically); returns what it drew, as counts."""
    from eviction_prevention.partners import load_partners

    out_path = Path(out_path or default_path())
    with warehouse.connect(url) as conn:
        monthly = warehouse.read_frame(conn, "SELECT * FROM mart_compliance_monthly")
        worklist = warehouse.read_frame(conn, "SELECT responsible_partner, deadline FROM mart_worklist_overdue")
        delivery = warehouse.read_frame(conn, "SELECT * FROM mart_delivery_compliance")
        evictions = warehouse.read_frame(conn, "SELECT * FROM mart_evictions")
        reference = conn.exec_driver_sql(
            "SELECT value_date FROM meta_parameters WHERE name = 'reference_date'"
        ).scalar()
    partners = load_partners()
    reference_day = pd.Timestamp(reference).date() if reference is not None else dt.date.today()
    page = render(
        monthly,
        worklist,
        delivery,
        evictions,
        reference_day,
        dt.datetime.now(dutch_time.AMSTERDAM),
        {p.code: p.name for p in partners},
        {p.code: p.kind for p in partners},
        settings.municipalities(),
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out_path)
    counts = {
        "months": figures.MONTHS,
        "areas": len(settings.municipalities()) + 1,
        "overdue_now": len(worklist),
        "delivery_partners": int(delivery["partner"].nunique()),
        "eviction_rows": len(evictions),
        "path": str(out_path),
    }
    log.info(
        "dashboard written: %(areas)d areas over %(months)d months, %(overdue_now)d overdue terms, "
        "%(delivery_partners)d delivering partners",
        counts,
    )
    return counts
