"""Partner intake: per partner, fetch new files over SFTP, validate, pseudonymise, load, settle.

One mapped task instance per partner and step, so one partner's failure never blocks the others.
fetch, load and settle are retried with exponential backoff on infrastructure errors (SFTP or warehouse
connection lost); a changed host key or refused login fails at once. Validation problems are never raised,
so never retried: they are reported in the partner's receipt and the file is quarantined. load also logs a
warning for every missed delivery window.
Each task holds the partner's lock while it runs (two runs of one partner take turns) and is safe to clear
and rerun after any failure: see RECOVERY in the README.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task
from eviction_prevention import alerts, tasks
from eviction_prevention.assets import STAGING

RETRY_ON_INFRASTRUCTURE_ERRORS = {
    "retries": 3,
    "retry_delay": dt.timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": dt.timedelta(minutes=10),
}


@dag(
    dag_id="partner_intake",
    schedule="0 * * * 1-5",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["eviction-prevention", "intake"],
    doc_md=__doc__,
    default_args={"on_failure_callback": alerts.on_task_failure},
    deadline=alerts.dag_deadline("partner_intake"),
)
def partner_intake() -> None:
    @task
    def partners() -> list[str]:
        return tasks.partner_codes()

    @task(**RETRY_ON_INFRASTRUCTURE_ERRORS)
    def fetch(partner: str) -> dict:
        return tasks.fetch(partner)

    @task(outlets=STAGING, **RETRY_ON_INFRASTRUCTURE_ERRORS)
    def load(fetched: dict) -> dict:
        return tasks.load(fetched)

    @task(**RETRY_ON_INFRASTRUCTURE_ERRORS)
    def settle(loaded: dict) -> dict:
        return tasks.settle(loaded)

    settle.expand(loaded=load.expand(fetched=fetch.expand(partner=partners())))


partner_intake()
