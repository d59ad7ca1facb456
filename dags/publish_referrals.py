"""Publish: link arrears cases to social-team and SDD records, build referral and compliance marts."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task
from eviction_prevention import tasks
from eviction_prevention.assets import MARTS, STAGING


@dag(
    dag_id="publish_referrals",
    schedule=STAGING[0] | STAGING[1] | STAGING[2],
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["eviction-prevention", "publish"],
    doc_md=__doc__,
)
def publish_referrals() -> None:
    @task(outlets=MARTS)
    def publish() -> dict:
        return tasks.publish()

    publish()


publish_referrals()
