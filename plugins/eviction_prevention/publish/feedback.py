"""Case feedback to the partners, in their own terms: a CSV and a short summary in each partner's outbox.

After every publish, each partner whose kind receives feedback (``config/feedback.yaml``) gets
``terugkoppeling_<partner>_<reference date>.csv`` (``;``-separated, UTF-8 with BOM so Excel opens it, Dutch
headers and dates) and ``.txt`` beside it, when its rows changed since the last file it got:

* a corporation: per open or recently closed arrears case (one with a T0), under its own contract number: T0, the report
  deadline and its state, whether the social team took the case up (``ja`` / ``nog niet`` / ``geen casus
  gevonden``) and the date the analysis was fed back; nothing about why (Wgs). Its overdue reports first.
* the social teams: per linked case, under their own case number: the analysis and first-conversation
  deadlines and states, overdue first; then every reported case that matches no social-team case yet, by
  the corporation's name and contract number (so the team can ask the corporation), never by name.
* the SDD: nothing (no deadline of the covenant is the SDD's).

References come from the identity vault (``identity_vault.reidentify``, logged). Whether a partner's rows
changed is decided on their pseudonymous form, before anything is unsealed, so an unchanged partner costs no
unsealing. The file name carries the publish's reference date and its bytes follow from the warehouse: a
rerun writes the same name and bytes. Both files are written atomically (a partial name, then a rename).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eviction_prevention import dutch_time, warehouse
from eviction_prevention.partners import Partner, get_partner, load_partners
from eviction_prevention.pseudonymise import identity_vault, keys
from eviction_prevention.publish import feedback_policy
from eviction_prevention.spreadsheet_safety import neutralised

log = logging.getLogger(__name__)

FILE_PREFIX = "terugkoppeling_"  # terugkoppeling_<partner>_<reference date>.csv / .txt
RECENT_DAYS = 90  # a case closed this many days before the reference date or later is still listed
STATE = {
    "met": "gehaald",
    "missed": "niet gehaald",
    "open_overdue": "te laat, nog open",
    "open_in_time": "open, binnen termijn",
    "not_required": "niet meer nodig",
    "not_applicable": "",
}
TAKEN_UP = {"yes": "ja", "not_yet": "nog niet", "no_match": "geen casus gevonden"}

CORPORATION_HEADERS = {
    "reference": "Contractnummer",
    "t0_date": "T0 (1 maand achterstand)",
    "report_deadline": "Uiterste melddatum",
    "reported_date": "Gemeld op",
    "report_state": "Melding",
    "taken_up": "Opgepakt door sociaal team",
    "analysis_sent_date": "Analyse teruggekoppeld op",
    "ended_date": "Afgesloten op",
}
SOCIAL_TEAM_HEADERS = {
    "row_kind": "Soort",
    "reference": "Casusnummer",
    "team": "Team",
    "corporation_name": "Corporatie",
    "contract": "Contractnummer corporatie",
    "received_date": "Melding ontvangen",
    "analysis_deadline": "Uiterste analysedatum",
    "analysis_state": "Analyse",
    "analysis_sent_date": "Analyse verstuurd op",
    "first_contact_deadline": "Uiterste datum eerste gesprek",
    "first_contact_state": "Eerste gesprek",
    "first_contact_date": "Eerste gesprek op",
}

REFERRAL_COLUMNS = (
    "case_id, corporation, tenancy_key, team, t0_date, report_deadline, reported_date, report_source, report_state, "
    "social_team_case_id, report_received_date, analysis_deadline, analysis_state, analysis_sent_date, "
    "first_contact_deadline, first_contact_state, first_contact_date, closed_date, evicted, eviction_date, "
    "reference_date"
)


@dataclass(frozen=True)
class Feedback:
    partner: str
    reference_date: dt.date
    rows: pd.DataFrame  # pseudonymous: ``record_key`` (and ``contract_key``) where the reference goes
    digest: str  # of the pseudonymous rows: what decides whether anything changed

    @property
    def name(self) -> str:
        return f"{FILE_PREFIX}{self.partner}_{self.reference_date.isoformat()}"


def receiving_partners() -> list[Partner]:
    return [p for p in load_partners() if feedback_policy.policy()[p.kind].get("file")]


def _ended(frame: pd.DataFrame) -> pd.Series:
    evicted = frame["evicted"].fillna(False).astype(bool)
    return frame["closed_date"].where(frame["closed_date"].notna(), frame["eviction_date"].where(evicted))


def _current(frame: pd.DataFrame, ended: pd.Series, reference_date: dt.date) -> pd.Series:
    """Open cases, and those that ended at most ``RECENT_DAYS`` before the reference date."""
    since = reference_date - dt.timedelta(days=RECENT_DAYS)
    return ended.isna() | ended.map(lambda d: d is not None and not pd.isna(d) and d >= since)


def taken_up(frame: pd.DataFrame, reference_date: dt.date) -> pd.Series:
    """Whether the social team took each case up: a linked social-team case (yes); not reported, or reported
    and the analysis still in time (not yet); reported, its analysis deadline passed, no case (no match)."""
    waiting = frame["reported_date"].isna() | frame["analysis_deadline"].map(
        lambda d: d is not None and not pd.isna(d) and d >= reference_date
    )
    states = pd.Series("no_match", index=frame.index, dtype=object)
    states[waiting] = "not_yet"
    states[frame["social_team_case_id"].notna()] = "yes"
    return states


def corporation_rows(referrals: pd.DataFrame, corporation: str, reference_date: dt.date) -> pd.DataFrame:
    """A corporation's cases as its feedback lists them (pure): ``record_key`` stands for the contract number.
    Overdue reports first, then by T0 and record."""
    own = referrals[(referrals["corporation"] == corporation) & referrals["t0_date"].notna()]  # covenant cases
    ended = _ended(own)
    own = own[_current(own, ended, reference_date)].assign(ended_date=ended)
    rows = pd.DataFrame(
        {
            "record_key": own["tenancy_key"],
            "t0_date": own["t0_date"],
            "report_deadline": own["report_deadline"],
            "reported_date": own["reported_date"],
            "report_state": own["report_state"].map(STATE),
            "taken_up": taken_up(own, reference_date).map(TAKEN_UP),
            "analysis_sent_date": own["analysis_sent_date"],
            "ended_date": own["ended_date"],
            "_overdue": own["report_state"] != "open_overdue",
        }
    )
    rows = rows.sort_values(["_overdue", "t0_date", "record_key"], kind="stable", na_position="last")
    return rows.drop(columns="_overdue").reset_index(drop=True)


def social_team_rows(referrals: pd.DataFrame, reference_date: dt.date) -> pd.DataFrame:
    """The social teams' linked cases (``record_key``: their case number), overdue first, then the reported cases
    without a social-team case (``contract_key`` and ``corporation``: the corporation's contract number)."""
    ended = _ended(referrals)
    current = referrals[_current(referrals, ended, reference_date)]
    linked = current[current["social_team_case_id"].notna()]
    overdue = (linked["analysis_state"] == "open_overdue") | (linked["first_contact_state"] == "open_overdue")
    cases = pd.DataFrame(
        {
            "row_kind": "casus",
            "record_key": linked["social_team_case_id"].map(lambda v: v.split(":", 1)[1]),
            "team": linked["team"],
            "corporation": None,
            "contract_key": None,
            "received_date": linked["report_received_date"],
            "analysis_deadline": linked["analysis_deadline"],
            "analysis_state": linked["analysis_state"].map(STATE),
            "analysis_sent_date": linked["analysis_sent_date"],
            "first_contact_deadline": linked["first_contact_deadline"],
            "first_contact_state": linked["first_contact_state"].map(STATE),
            "first_contact_date": linked["first_contact_date"],
            "_order": (~overdue).astype(int),
        }
    )
    reported = current[current["social_team_case_id"].isna() & (current["report_source"] == "corporation")]
    unmatched = pd.DataFrame(
        {
            "row_kind": "melding zonder casus",
            "record_key": None,
            "team": reported["team"],
            "corporation": reported["corporation"],
            "contract_key": reported["tenancy_key"],
            "received_date": reported["reported_date"],
            "analysis_deadline": reported["analysis_deadline"],
            "analysis_state": reported["analysis_state"].map(STATE),
            "analysis_sent_date": None,
            "first_contact_deadline": reported["first_contact_deadline"],
            "first_contact_state": reported["first_contact_state"].map(STATE),
            "first_contact_date": None,
            "_order": 2,
        }
    )
    rows = pd.concat([cases, unmatched], ignore_index=True)
    order = ["_order", "analysis_deadline", "received_date", "record_key", "corporation", "contract_key"]
    rows = rows.sort_values(order, kind="stable", na_position="last")
    return rows.drop(columns="_order").reset_index(drop=True)


def _digest(rows: pd.DataFrame) -> str:
    return hashlib.sha256(rows.to_csv(index=False, lineterminator="\n").encode("utf-8")).hexdigest()


def build(conn: Connection, partner: Partner) -> Feedback | None:
    """The partner's pseudonymous feedback rows as of the latest publish (None before the first one)."""
    referrals = warehouse.read_frame(conn, f"SELECT {REFERRAL_COLUMNS} FROM mart_referrals")
    reference = conn.execute(
        sa.text("SELECT value_date FROM meta_parameters WHERE name = 'reference_date'")
    ).scalar_one_or_none()
    if reference is None:
        return None
    reference = reference if isinstance(reference, dt.date) else dt.date.fromisoformat(str(reference))
    if partner.kind == "corporation":
        rows = corporation_rows(referrals, partner.code, reference)
    elif partner.kind == "social_team":
        rows = social_team_rows(referrals, reference)
    else:
        return None
    return Feedback(partner.code, reference, rows, _digest(rows))


def _dutch(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, dt.date):
        return dutch_time.dutch_date(value)
    return str(value)


def render_csv(table: pd.DataFrame, headers: dict[str, str]) -> bytes:
    """``;``-separated, UTF-8 with BOM, CRLF (what Excel on Windows opens as is), no cell starting a formula."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(list(headers.values()))
    for row in table[list(headers)].itertuples(index=False):
        writer.writerow([neutralised(_dutch(v)) for v in row])
    return out.getvalue().encode("utf-8-sig")


def readable(conn: Connection, feedback: Feedback, run_id: str, chain: bytes | keys.KeyChain) -> pd.DataFrame:
    """The rows with the partner's references in place of their keys, unsealed from the vault (logged)."""
    purposes = feedback_policy.purposes(get_partner(feedback.partner).kind)
    rows = feedback.rows.copy()
    own = identity_vault.reidentify(
        conn, feedback.partner, rows["record_key"].dropna(), recipient=feedback.partner, purpose=purposes["own"],
        run_id=run_id, chain=chain,
    )  # fmt: skip
    rows["reference"] = rows["record_key"].map(own)
    if "contract_key" in rows:
        rows["contract"] = None
        rows["corporation_name"] = rows["corporation"].map(
            lambda c: get_partner(c).name if isinstance(c, str) else None
        )
        for corporation, part in rows[rows["contract_key"].notna()].groupby("corporation", sort=True):
            contracts = identity_vault.reidentify(
                conn, str(corporation), part["contract_key"], recipient=feedback.partner,
                purpose=purposes["reporting_corporation"], run_id=run_id, chain=chain,
            )  # fmt: skip
            rows.loc[part.index, "contract"] = part["contract_key"].map(contracts)
    return rows


def summary_text(partner: Partner, feedback: Feedback, table: pd.DataFrame) -> str:
    """The short Dutch summary beside the CSV: what it lists, what needs doing first, on which basis."""
    policy = feedback_policy.policy()[partner.kind]
    lines = [
        f"Terugkoppeling voor {partner.name}",
        f"Stand per: {dutch_time.dutch_date(feedback.reference_date)} (de peildatum van de laatste verwerking)",
        f"Bestand: {feedback.name}.csv ({len(table)} regels)",
        "",
    ]
    if partner.kind == "corporation":
        overdue = int((table["report_state"] == STATE["open_overdue"]).sum())
        counts = table["taken_up"].value_counts()
        lines += [
            f"Meldingen te laat en nog open: {overdue} (bovenaan de lijst)",
            f"Opgepakt door het sociaal team: {int(counts.get('ja', 0))}; nog niet: {int(counts.get('nog niet', 0))}; "
            f"geen casus gevonden: {int(counts.get('geen casus gevonden', 0))}",
            "",
            "T0 is de datum waarop de huurder een volle maand huur achter is. Melden bij het sociaal team moet "
            "uiterlijk 6 weken (42 dagen) na T0.",
            "Over de inhoud van de hulp (waarom wel of niet) wordt niets teruggekoppeld (Wgs).",
        ]
    else:
        cases = table[table["row_kind"] == "casus"]
        overdue = int(
            (
                (cases["analysis_state"] == STATE["open_overdue"])
                | (cases["first_contact_state"] == STATE["open_overdue"])
            ).sum()
        )
        lines += [
            f"Casussen met een verstreken termijn: {overdue} (bovenaan de lijst)",
            f"Meldingen van corporaties zonder casus: {int((table['row_kind'] != 'casus').sum())} (onderaan de lijst, "
            "met de corporatie en haar contractnummer: vraag de corporatie om de melding)",
            "",
            "De analyse gaat uiterlijk 2 weken (14 dagen) na de melding terug naar de corporatie; het eerste "
            "gesprek is uiterlijk 4 weken na de melding, of binnen 3 werkdagen als ontruiming dreigt.",
        ]
    lines += ["", f"Grondslag: {' '.join(str(policy['legal_basis']).split())}"]
    return "\n".join(lines) + "\n"


def _last_digest(conn: Connection, partner: str) -> str | None:
    return conn.execute(
        sa.text(
            "SELECT rows_digest FROM meta_feedback_sent WHERE partner = :p ORDER BY written_at DESC, file_name DESC "
            "LIMIT 1"
        ),
        {"p": partner},
    ).scalar_one_or_none()


def send(partner: Partner, client: object, url: str | None, run_id: str, vault_key: bytes) -> dict[str, object]:
    """Write the partner's feedback to its outbox when its rows changed since the last file; record it."""
    from eviction_prevention.intake.settle import put_atomic

    with warehouse.connect(url) as conn:
        feedback = build(conn, partner)
        if feedback is None:
            return {"partner": partner.code, "written": False, "rows": 0}
        if _last_digest(conn, partner.code) == feedback.digest:
            log.info("feedback %s: unchanged since the last file, nothing written", partner.code)
            return {"partner": partner.code, "written": False, "rows": len(feedback.rows)}
        table = readable(conn, feedback, run_id, keys.parse_key_chain(vault_key))
    headers = CORPORATION_HEADERS if partner.kind == "corporation" else SOCIAL_TEAM_HEADERS
    data = render_csv(table, headers)
    put_atomic(client, data, partner.outbox, f"{feedback.name}.csv")  # type: ignore[arg-type]
    put_atomic(client, summary_text(partner, feedback, table).encode("utf-8"), partner.outbox, f"{feedback.name}.txt")  # type: ignore[arg-type]
    with warehouse.connect(url) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO meta_feedback_sent (partner, file_name, reference_date, rows_digest, rows_written, "
                "file_sha256, written_at, dag_run) VALUES (:p, :f, :d, :g, :n, :s, :at, :run)"
            ),
            {
                "p": partner.code,
                "f": f"{feedback.name}.csv",
                "d": feedback.reference_date,
                "g": feedback.digest,
                "n": len(table),
                "s": hashlib.sha256(data).hexdigest(),
                "at": dutch_time.utcnow(),
                "run": run_id,
            },
        )
    log.info("feedback %s: %s.csv written, %d rows", partner.code, feedback.name, len(table))
    return {"partner": partner.code, "written": True, "rows": len(table), "file": f"{feedback.name}.csv"}
