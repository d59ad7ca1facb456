"""Airflow Assets for the warehouse tables that DAGs produce and consume."""

from __future__ import annotations

from airflow.sdk import Asset


def warehouse_asset(table: str) -> Asset:
    return Asset(name=table, uri=f"x-warehouse://eviction_prevention/{table}", group="warehouse")


STAGING = [warehouse_asset(t) for t in ("stg_arrears_snapshots", "stg_social_team_cases", "stg_sdd_records")]
MARTS = [warehouse_asset(t) for t in ("mart_referrals", "mart_compliance_monthly")]
