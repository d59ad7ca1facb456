"""Retention: every night, delete landing files, staging rows and linkage data past their retention period.

Periods: config/retention.yaml (staging, linkage) and config/partners.yaml (landing_retention_days).
Logs and XComs carry counts only. When staging rows were deleted, purge_warehouse emits the staging Asset
events that trigger publish_referrals, which rebuilds the marts without them; a night with nothing past
retention skips it, and nothing is published.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task
from eviction_prevention import alerts, tasks
from eviction_prevention.assets import STAGING


@dag(
    dag_id="retention",
    schedule="30 2 * * *",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["eviction-prevention", "retention"],
    doc_md=__doc__,
    default_args={"on_failure_callback": alerts.on_task_failure},
    deadline=alerts.dag_deadline("retention"),
)
def retention_dag() -> None:
    @task
    def purge_landing_files() -> dict[str, int]:
        return tasks.purge_landing_files()

    @task(outlets=STAGING)
    def purge_warehouse() -> dict[str, int]:
        return tasks.purge_warehouse()

    purge_landing_files() >> purge_warehouse()


retention_dag()
