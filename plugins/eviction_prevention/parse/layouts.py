"""Canonical record layouts, one per source kind.

Every partner file is mapped (see ``config/partners.yaml``) onto one of these layouts before
validation. Column roles say what happens to a column at ingest:

* ``identifier``: direct or quasi identifier; pseudonymised (keyed HMAC) and then dropped.
* ``attribute``: non-identifying fact that may be stored in the warehouse as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SourceKind = Literal["corporation", "social_team", "sdd"]
ColumnType = Literal["str", "int", "float", "date", "bool"]
Role = Literal["identifier", "attribute"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    role: Role
    required: bool = True  # the column must be present in the file (values may still be empty)


_PERSON = (
    Column("initials", "str", "identifier"),
    Column("prefix", "str", "identifier", required=False),
    Column("surname", "str", "identifier"),
    Column("birth_date", "date", "identifier", required=False),
    Column("street", "str", "identifier", required=False),
    Column("house_number", "int", "identifier"),
    Column("house_letter", "str", "identifier", required=False),
    Column("house_number_suffix", "str", "identifier", required=False),
    Column("postcode", "str", "identifier"),
    Column("city", "str", "attribute"),
)

ARREARS: tuple[Column, ...] = (
    Column("tenancy_ref", "str", "identifier"),
    *_PERSON,
    Column("phone", "str", "identifier", required=False),
    Column("email", "str", "identifier", required=False),
    Column("monthly_rent", "float", "attribute"),
    Column("arrears_amount", "float", "attribute"),
    Column("arrears_start_date", "date", "attribute", required=False),
    Column("t0_date", "date", "attribute", required=False),  # one full month of arrears established
    Column("contact_date", "date", "attribute", required=False),  # first personal contact attempt
    Column("reminder_date", "date", "attribute", required=False),
    Column("reported_date", "date", "attribute", required=False),  # reported to the social team
    Column("objection", "bool", "attribute", required=False),  # tenant objected to the report
    Column("children", "bool", "attribute", required=False),  # household with children
    Column("judgment_date", "date", "attribute", required=False),
    Column("eviction_date", "date", "attribute", required=False),
    Column("snapshot_date", "date", "attribute"),
)

SOCIAL_TEAM: tuple[Column, ...] = (
    Column("team", "str", "attribute"),
    Column("case_ref", "str", "identifier"),
    Column("given_name", "str", "identifier", required=False),
    *_PERSON,
    Column("bsn", "str", "identifier", required=False),
    Column("reporter", "str", "attribute", required=False),  # code of the reporting corporation
    Column("report_received_date", "date", "attribute"),
    Column("analysis_sent_date", "date", "attribute", required=False),
    Column("first_contact_date", "date", "attribute", required=False),  # first conversation offered
    Column("trajectory", "bool", "attribute", required=False),  # care trajectory agreed
    Column("trajectory_start_date", "date", "attribute", required=False),
    Column("current_rent_paid", "bool", "attribute", required=False),
    Column("referral_sdd", "bool", "attribute", required=False),
    Column("referral_veilig_thuis", "bool", "attribute", required=False),
    Column("closed_date", "date", "attribute", required=False),
    Column("outcome", "str", "attribute", required=False),
    Column("export_date", "date", "attribute"),
)

SDD: tuple[Column, ...] = (
    Column("record_ref", "str", "identifier"),
    Column("bsn", "str", "identifier"),
    *_PERSON,
    Column("service", "str", "attribute"),
    Column("start_date", "date", "attribute"),
    Column("end_date", "date", "attribute", required=False),
    Column("status", "str", "attribute"),
    Column("export_date", "date", "attribute"),
)

CANONICAL: dict[str, tuple[Column, ...]] = {
    "corporation": ARREARS,
    "social_team": SOCIAL_TEAM,
    "sdd": SDD,
}

# Closed lists (DDAS-like outcome codes, SDD services).
OUTCOMES: tuple[str, ...] = (
    "resolved",  # opgelost binnen 30 dagen / achterstand ingelopen
    "payment_arrangement",  # betalingsregeling
    "debt_counselling",  # doorverwezen naar schuldhulpverlening
    "other_help",  # andere hulp loopt
    "declined",  # hulp geweigerd
    "unreachable",  # niet bereikt
    "moved",  # verhuisd uit gemeente
    "deceased",  # overleden
    "eviction_judgment",  # vonnis ontruiming
    "evicted",  # ontruiming uitgevoerd
)
SDD_SERVICES: tuple[str, ...] = ("debt_counselling", "income_support", "budget_management", "administration")
SDD_STATUSES: tuple[str, ...] = ("active", "ended")

MUNICIPALITIES: tuple[str, ...] = (
    "Alblasserdam",
    "Dordrecht",
    "Hardinxveld-Giessendam",
    "Hendrik-Ido-Ambacht",
    "Papendrecht",
    "Sliedrecht",
    "Zwijndrecht",
)


def columns(kind: str) -> tuple[Column, ...]:
    return CANONICAL[kind]


def identifier_columns(kind: str) -> list[str]:
    return [c.name for c in CANONICAL[kind] if c.role == "identifier"]


def attribute_columns(kind: str) -> list[str]:
    return [c.name for c in CANONICAL[kind] if c.role == "attribute"]


# The column that says which date a delivery reports on (one value per file).
AS_OF_COLUMN: dict[str, str] = {"corporation": "snapshot_date", "social_team": "export_date", "sdd": "export_date"}

# Warehouse staging table per source kind.
STAGING_TABLE: dict[str, str] = {
    "corporation": "stg_arrears_snapshots",
    "social_team": "stg_social_team_cases",
    "sdd": "stg_sdd_records",
}
