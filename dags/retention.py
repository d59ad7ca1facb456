"""Retention: every night, delete landing files, staging rows and linkage data past their retention period.

Periods: config/retention.yaml (staging, linkage) and config/partners.yaml (landing_retention_days).
Logs and XComs carry counts only. When staging rows were deleted, purge_warehouse emits the staging Asset
events that trigger publish_referrals, which rebuilds the marts without them; a night with nothing past
retention skips it, and nothing is published.
"""

from __future__ import annotations

from airflow.sdk import task
from eviction_prevention.orchestration import tasks
from eviction_prevention.orchestration.assets import STAGING
from eviction_prevention.orchestration.dag_defaults import pipeline_dag


@pipeline_dag("retention", "30 2 * * *", "retention", __doc__)
def retention_dag() -> None:
    @task
    def purge_landing_files() -> dict[str, int]:
        return tasks.purge_landing_files()

    @task(outlets=STAGING)
    def purge_warehouse() -> dict[str, int]:
        return tasks.purge_warehouse()

    purge_landing_files() >> purge_warehouse()


retention_dag()
