"""The Dutch receipt (ontvangstbevestiging) a partner gets for every file: verdict, counts that add up,
the as-of date and delivery verdict, and the grouped problems with their lines. Never a personal value.
"""

from __future__ import annotations

import datetime as dt

from eviction_prevention import dutch_time
from eviction_prevention.intake.files import RECEIPT_SUFFIX, safe_name
from eviction_prevention.intake.issue_summary import line_ranges

_VERDICT = {
    "loaded": "GEACCEPTEERD",
    "rejected": "AFGEWEZEN - het bestand is niet verwerkt, er zijn geen gegevens uit opgeslagen",
    "duplicate": "AL EERDER ONTVANGEN - niet opnieuw verwerkt",
}


def _dutch_timestamp(iso: str) -> str:
    """A stored UTC moment as the partner reads it: Dutch local time (the time delivery deadlines use)."""
    if not iso:
        return "onbekend"
    local = dt.datetime.fromisoformat(iso).replace(tzinfo=dt.UTC).astimezone(dutch_time.AMSTERDAM)
    return local.strftime("%d-%m-%Y %H:%M") + " (Nederlandse tijd)"


QUOTE_LIMIT = 300  # characters of one quoted line in a receipt (a file name, a reason)


def one_line(text: str, limit: int = QUOTE_LIMIT) -> str:
    """Text taken from a delivery (a file name; a reason that quotes a header or a cell) as one printable
    line of at most ``limit`` characters: a line break, tab, control or format character (including the
    Unicode line and paragraph separators and bidirectional overrides) becomes ``?``, so nothing quoted can
    start a line of its own in a receipt ("Resultaat: GEACCEPTEERD") or reorder what is shown."""
    printable = "".join(c if c.isprintable() else "?" for c in str(text)[: limit + 1])
    return printable if len(printable) <= limit else printable[: limit - 1] + "…"


def _dutch_date(iso: str | None) -> str:
    return dutch_time.dutch_date(dt.date.fromisoformat(iso)) if iso else ""


def _delivery_lines(outcome: dict) -> list[str]:
    """The file's as-of date and whether it arrived within its delivery window."""
    if not outcome.get("as_of"):
        return []
    lines = [f"Peildatum: {_dutch_date(outcome['as_of'])}"]
    if outcome.get("delivery_due") and outcome.get("delivered_on"):
        late = outcome["delivered_on"] > outcome["delivery_due"]
        lines.append(
            f"Aanlevertermijn: uiterlijk {_dutch_date(outcome['delivery_due'])}; aangeleverd op "
            f"{_dutch_date(outcome['delivered_on'])}: {'te laat' if late else 'op tijd'}"
        )
    return lines


def _count_lines(outcome: dict) -> list[str]:
    """Counts that add up: the rows in the file are the rows processed plus the rows not processed."""
    total, loaded, flagged = outcome["rows_total"], outcome["rows_loaded"], outcome["rows_rejected"]
    rows = outcome.get("rejected_row_numbers") or []
    where = f"regel {line_ranges(rows)}" + (", …" if flagged > len(rows) else "") if rows else ""
    if outcome["status"] == "duplicate":
        counts = [f"Regels in het bestand: {total}", "Regels verwerkt: 0 (al eerder verwerkt)"]
    elif outcome["status"] == "rejected":
        counts = [
            f"Regels in het bestand: {total}" if total else "Regels in het bestand: niet geteld",
            "Regels verwerkt: 0",
        ]
        if total:
            with_errors = f"; met fouten: {flagged} ({where})" if flagged and where else ""
            counts.append(f"Regels afgewezen: {total} (het hele bestand{with_errors})")
    else:
        counts = [
            f"Regels in het bestand: {loaded + flagged}",
            f"Regels verwerkt: {loaded}",
            f"Regels afgewezen: {flagged}" + (f" ({where})" if where else ""),
        ]
    return [*counts, f"Waarschuwingen: {outcome['warnings']}"]


def receipt_text(outcome: dict, partner_name: str = "") -> str:
    """The receipt (ontvangstbevestiging) for the partner, in Dutch; never quotes personal data. Whatever it
    quotes from the delivery is one printable line each (``one_line``)."""
    # "• ", not "- ": a line a spreadsheet opens must not start a formula (``spreadsheet_safety``)
    listed = {k: [f"• {one_line(m)}" for m in outcome.get(k) or []] for k in ("notes", "reasons", "warning_messages")}
    lines = [
        f"Ontvangstbevestiging{' voor ' + one_line(partner_name) if partner_name else ''}",
        f"Bestand: {one_line(outcome['remote_name'])}",
        f"Ontvangen: {_dutch_timestamp(outcome.get('received_at', ''))}",
        f"Controlegetal (SHA-256): {outcome['file_id']}",
        *_delivery_lines(outcome),
        f"Resultaat: {_VERDICT[outcome['status']]}",
        *_count_lines(outcome),
    ]
    if listed["notes"]:
        lines += ["", "Opmerkingen:", *listed["notes"]]
    if listed["reasons"]:
        lines += ["", "Fouten:", *listed["reasons"]]
    if listed["warning_messages"]:
        heading = (
            "Waarschuwingen:" if outcome["status"] == "rejected" else "Waarschuwingen (de regels zijn wel verwerkt):"
        )
        lines += ["", heading, *listed["warning_messages"]]
    if outcome["status"] == "rejected":
        lines += [
            "",
            "Wat nu: pas het bestand aan en lever het opnieuw aan. Regelnummers tellen de kopregel als regel 1.",
        ]
    return "\n".join(lines) + "\n"


def receipt_name(outcome: dict) -> str:
    """``<file name>.<received yyyymmddThhmmssmmm>.ontvangstbevestiging.txt``: one receipt per delivery."""
    received = outcome.get("received_at")
    stamp = dt.datetime.fromisoformat(received).strftime("%Y%m%dT%H%M%S%f")[:-3] if received else "0"
    return f"{safe_name(outcome['remote_name'])}.{stamp}{RECEIPT_SUFFIX}"
