"""What a receipt tells a partner employee: its as-of date, whether it was on time, counts that add up."""

from __future__ import annotations

from eviction_prevention.intake import receipts


def outcome(**kw) -> dict:
    base = {
        "remote_name": "huurachterstand_2026-10-31.csv",
        "file_id": "ab" * 32,
        "status": "loaded",
        "rows_total": 10,
        "rows_loaded": 8,
        "rows_rejected": 2,
        "warnings": 1,
        "received_at": "2026-11-03T09:15:00",  # UTC: 10:15 in Amsterdam
        "rejected_row_numbers": [4, 5],
        "as_of": "2026-10-31",
        "delivered_on": "2026-11-03",
        "delivery_due": "2026-11-10",
    }
    return base | kw


def test_a_loaded_file_with_two_bad_rows():
    lines = receipts.receipt_text(outcome(), "Trivire").splitlines()
    assert lines[:10] == [
        "Ontvangstbevestiging voor Trivire",
        "Bestand: huurachterstand_2026-10-31.csv",
        "Ontvangen: 03-11-2026 10:15 (Nederlandse tijd)",
        f"Controlegetal (SHA-256): {'ab' * 32}",
        "Peildatum: 31-10-2026",
        "Aanlevertermijn: uiterlijk 10-11-2026; aangeleverd op 03-11-2026: op tijd",
        "Resultaat: GEACCEPTEERD",
        "Regels in het bestand: 10",
        "Regels verwerkt: 8",
        "Regels afgewezen: 2 (regel 4-5)",
    ]


def test_a_late_rejected_file_says_so_and_no_row_is_called_processed():
    text = receipts.receipt_text(
        outcome(status="rejected", rows_loaded=0, rows_rejected=1, rejected_row_numbers=[7], delivered_on="2026-11-11"),
        "Woonbron",
    )
    assert "Aanlevertermijn: uiterlijk 10-11-2026; aangeleverd op 11-11-2026: te laat" in text
    assert "Regels verwerkt: 0\nRegels afgewezen: 10 (het hele bestand; met fouten: 1 (regel 7))\n" in text
    assert "wel verwerkt" not in text


def test_a_file_refused_unread_has_no_as_of_date_and_no_row_counts():
    text = receipts.receipt_text(
        outcome(status="rejected", rows_total=0, rows_loaded=0, rows_rejected=0, rejected_row_numbers=[], as_of=None),
        "Tablis Wonen",
    )
    assert "Peildatum" not in text and "Aanlevertermijn" not in text
    assert "Regels in het bestand: niet geteld\nRegels verwerkt: 0\nWaarschuwingen: 1\n" in text


def test_a_long_list_of_bad_lines_says_it_goes_on():
    """The outcome keeps the first 200 line numbers; the receipt must not suggest the errors stop there."""
    rows = list(range(2, 202))
    text = receipts.receipt_text(
        outcome(status="rejected", rows_total=300, rows_loaded=0, rows_rejected=300, rejected_row_numbers=rows)
    )
    assert "Regels afgewezen: 300 (het hele bestand; met fouten: 300 (regel 2-201, …))" in text
