"""Feedback rows per partner kind, from hand-made referral rows with hand-computed expectations."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from eviction_prevention.publish import feedback

D = dt.date.fromisoformat
REF = D("2026-10-31")
COLUMNS = [
    "case_id", "corporation", "tenancy_key", "team", "t0_date", "report_deadline", "reported_date", "report_source",
    "report_state", "social_team_case_id", "report_received_date", "analysis_deadline", "analysis_state",
    "analysis_sent_date", "first_contact_deadline", "first_contact_state", "first_contact_date", "closed_date",
    "evicted", "eviction_date", "reference_date",
]  # fmt: skip


def referral(case: str, corporation: str, tenancy: str, t0: str | None, **kw) -> dict:
    row = dict.fromkeys(COLUMNS)
    row |= {"case_id": case, "corporation": corporation, "tenancy_key": tenancy, "team": "Sociaal Team Zwijndrecht",
            "t0_date": D(t0) if t0 else None, "evicted": False, "reference_date": REF}  # fmt: skip
    dated = ("_date", "_deadline")
    row |= {k: D(v) if isinstance(v, str) and k.endswith(dated) else v for k, v in kw.items()}
    return row


REFERRALS = pd.DataFrame(
    [
        # reported in time, taken up, analysis fed back
        referral(
            "c1",
            "trivire",
            "k1",
            "2026-08-01",
            report_deadline="2026-09-12",
            reported_date="2026-08-20",
            report_source="corporation",
            report_state="met",
            social_team_case_id="sociale_teams:s1",
            report_received_date="2026-08-21",
            analysis_deadline="2026-09-03",
            analysis_state="met",
            analysis_sent_date="2026-09-01",
            first_contact_deadline="2026-09-17",
            first_contact_state="open_overdue",
        ),
        # not reported, report deadline passed: overdue, listed first
        referral("c2", "trivire", "k2", "2026-09-01", report_deadline="2026-10-13", report_state="open_overdue"),
        # reported, analysis deadline passed, no social-team case: no match
        referral(
            "c3",
            "trivire",
            "k3",
            "2026-07-01",
            report_deadline="2026-08-12",
            reported_date="2026-08-01",
            report_source="corporation",
            report_state="met",
            analysis_deadline="2026-08-15",
            analysis_state="open_overdue",
            first_contact_deadline="2026-08-31",
            first_contact_state="open_overdue",
        ),
        # reported last week, no case yet: not yet
        referral(
            "c4",
            "trivire",
            "k4",
            "2026-09-20",
            report_deadline="2026-11-01",
            reported_date="2026-10-25",
            report_source="corporation",
            report_state="met",
            analysis_deadline="2026-11-08",
            analysis_state="open_in_time",
            first_contact_deadline="2026-11-23",
            first_contact_state="open_in_time",
        ),
        # closed more than 90 days ago: no longer listed; and a case without T0: not a covenant case
        referral("c5", "trivire", "k5", "2026-03-01", report_state="missed", closed_date="2026-07-01"),
        referral("c6", "trivire", "k6", None, report_state="not_applicable"),
        # another corporation's case, reported, no case: only in the social teams' file
        referral(
            "c7",
            "woonbron",
            "w1",
            "2026-08-15",
            report_deadline="2026-09-26",
            reported_date="2026-09-01",
            report_source="corporation",
            report_state="met",
            analysis_deadline="2026-09-15",
            analysis_state="open_overdue",
            first_contact_deadline="2026-09-29",
            first_contact_state="open_overdue",
        ),
        # evicted 40 days ago: still listed, ended on its eviction date
        referral(
            "c8",
            "woonbron",
            "w2",
            "2026-05-01",
            report_deadline="2026-06-12",
            report_state="missed",
            evicted=True,
            eviction_date="2026-09-21",
        ),
    ]
)


def test_a_corporation_sees_its_own_current_cases_overdue_reports_first():
    rows = feedback.corporation_rows(REFERRALS, "trivire", REF)
    assert rows[["record_key", "report_state", "taken_up"]].values.tolist() == [
        ["k2", "te laat, nog open", "nog niet"],
        ["k3", "gehaald", "geen casus gevonden"],
        ["k1", "gehaald", "ja"],
        ["k4", "gehaald", "nog niet"],
    ]  # k2 first (overdue), then by T0: k3 (1 July), k1 (1 August), k4 (20 September)
    assert rows.loc[rows["record_key"] == "k1", "analysis_sent_date"].tolist() == [D("2026-09-01")]
    woonbron = feedback.corporation_rows(REFERRALS, "woonbron", REF)
    ended = [(k, None if pd.isna(e) else e) for k, e in woonbron[["record_key", "ended_date"]].values]
    assert ended == [("w2", D("2026-09-21")), ("w1", None)]  # by T0; w2 ended on its eviction, 40 days ago
    # nothing about why: no outcome, trajectory or referral column
    assert list(rows.columns) == [
        "record_key", "t0_date", "report_deadline", "reported_date", "report_state", "taken_up",
        "analysis_sent_date", "ended_date",
    ]  # fmt: skip


def test_the_social_teams_see_their_cases_overdue_first_then_reports_without_a_case():
    rows = feedback.social_team_rows(REFERRALS, REF)
    assert rows[["row_kind", "record_key", "corporation", "contract_key", "analysis_state"]].values.tolist() == [
        ["casus", "s1", None, None, "gehaald"],  # its first conversation is overdue
        ["melding zonder casus", None, "trivire", "k3", "te laat, nog open"],  # by analysis deadline: 15 Aug
        ["melding zonder casus", None, "woonbron", "w1", "te laat, nog open"],  # 15 Sep
        ["melding zonder casus", None, "trivire", "k4", "open, binnen termijn"],  # 8 Nov
    ]
    assert rows.loc[0, "first_contact_state"] == "te laat, nog open"


def test_the_csv_opens_in_excel_and_starts_no_formula():
    table = pd.DataFrame({"reference": ["=HYPERLINK(1)", "TRV-1"], "t0_date": [D("2026-08-01"), None]})
    data = feedback.render_csv(table, {"reference": "Contractnummer", "t0_date": "T0"})
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").split("\r\n") == ["Contractnummer;T0", "'=HYPERLINK(1);01-08-2026", "TRV-1;", ""]


# ------------------------------------------------------------------ through SFTP, the warehouse and the vault


def test_feedback_reaches_each_outbox_once_with_the_partners_own_references(
    tmp_path, partner_sftp, warehouse_url: str, key: bytes
):
    """Trivire reports TRV-00001 (line 2) on 5 October; the social teams deliver nothing yet. After the publish,
    Trivire reads its three cases under its own contract numbers, and the social teams read the report without
    a case by Trivire's name and contract number. A second send writes nothing; after a lost record it writes
    the same name and bytes."""
    import sqlalchemy as sa
    from eviction_prevention import warehouse
    from eviction_prevention.partners import get_partner
    from eviction_prevention.publish import rebuild

    from tests.conftest import TEST_VAULT_KEY, run_intake
    from tests.fixtures.build_corpus import arrears_rows, csv_bytes

    local = tmp_path / "huurachterstand_2026-10-31.csv"
    local.write_bytes(csv_bytes("trivire", arrears_rows("TRV")))
    partner_sftp.upload("trivire", local)
    with partner_sftp.client("trivire") as client:
        run_intake("trivire", client, warehouse_url, key)
    rebuild.publish(warehouse_url, key=key)
    vault = TEST_VAULT_KEY.encode()
    sent = {}
    for code in ("trivire", "sociale_teams"):
        with partner_sftp.client(code) as client:
            sent[code] = feedback.send(get_partner(code), client, warehouse_url, "run-1", vault)
    assert [s["written"] for s in sent.values()] == [True, True]
    outbox = {code: partner_sftp.root / code / "outbox" for code in sent}
    trivire = (outbox["trivire"] / "terugkoppeling_trivire_2026-10-31.csv").read_bytes()
    lines = trivire.decode("utf-8-sig").split("\r\n")
    assert lines[0].split(";")[:2] == ["Contractnummer", "T0 (1 maand achterstand)"]
    # T0 1 September, report due 13 October: TRV-00001 reported 5 October (met, reported), the others overdue
    assert sorted(line.split(";")[0:5] for line in lines[1:] if line) == [
        ["TRV-00001", "01-09-2026", "13-10-2026", "05-10-2026", "gehaald"],
        ["TRV-00002", "01-09-2026", "13-10-2026", "", "te laat, nog open"],
        ["TRV-00003", "01-09-2026", "13-10-2026", "", "te laat, nog open"],
    ]
    teams = (outbox["sociale_teams"] / "terugkoppeling_sociale_teams_2026-10-31.csv").read_bytes().decode("utf-8-sig")
    rows = [line.split(";") for line in teams.split("\r\n")[1:] if line]
    assert [(r[0], r[3], r[4], r[5]) for r in rows] == [("melding zonder casus", "Trivire", "TRV-00001", "05-10-2026")]
    assert "TRV-00002" not in teams  # not reported: nothing for the social team
    with partner_sftp.client("trivire") as client:  # nothing changed: nothing written, nothing unsealed
        assert feedback.send(get_partner("trivire"), client, warehouse_url, "run-2", vault)["written"] is False
    with warehouse.connect(warehouse_url) as conn:
        conn.execute(sa.text("DELETE FROM meta_feedback_sent WHERE partner = 'trivire'"))  # the record got lost
    (outbox["trivire"] / "terugkoppeling_trivire_2026-10-31.csv").unlink()
    with partner_sftp.client("trivire") as client:
        assert feedback.send(get_partner("trivire"), client, warehouse_url, "run-3", vault)["written"] is True
    assert (outbox["trivire"] / "terugkoppeling_trivire_2026-10-31.csv").read_bytes() == trivire
    assert sorted(p.name for p in outbox["trivire"].iterdir() if p.name.startswith(("terug", "."))) == [
        "terugkoppeling_trivire_2026-10-31.csv",
        "terugkoppeling_trivire_2026-10-31.txt",
    ]  # no partial file left behind
    with warehouse.connect(warehouse_url) as conn:
        log = conn.execute(
            sa.text("SELECT dag_run, partner, recipient, purpose, values_unsealed FROM meta_reidentification_log "
                    "ORDER BY logged_at, dag_run, recipient")
        ).all()  # fmt: skip
    assert [tuple(r) for r in log] == [
        ("run-1", "trivire", "trivire", "terugkoppeling_corporatie", 3),
        ("run-1", "sociale_teams", "sociale_teams", "terugkoppeling_sociaal_team", 0),
        ("run-1", "trivire", "sociale_teams", "melding_zonder_casus", 1),
        ("run-3", "trivire", "trivire", "terugkoppeling_corporatie", 3),
    ]
