"""Partner intake: per partner, fetch new files over SFTP, validate, pseudonymise, load, settle.

One mapped task instance per partner and step, so one partner's failure never blocks the others.
fetch and settle talk to the partner's SFTP server and are retried with exponential backoff on network
errors (a changed host key or refused login fails at once); load is not retried: validation problems are
reported in the partner's receipt, not raised. load also logs a warning for every missed delivery window.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task
from eviction_prevention import tasks
from eviction_prevention.assets import STAGING


@dag(
    dag_id="partner_intake",
    schedule="0 * * * 1-5",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["eviction-prevention", "intake"],
    doc_md=__doc__,
)
def partner_intake() -> None:
    @task
    def partners() -> list[str]:
        return tasks.partner_codes()

    @task(
        retries=3,
        retry_delay=dt.timedelta(seconds=30),
        retry_exponential_backoff=2.0,
        max_retry_delay=dt.timedelta(minutes=10),
    )
    def fetch(partner: str) -> dict:
        return tasks.fetch(partner)

    @task(outlets=STAGING, retries=0)
    def load(fetched: dict) -> dict:
        return tasks.load(fetched)

    @task(
        retries=3,
        retry_delay=dt.timedelta(seconds=30),
        retry_exponential_backoff=2.0,
        max_retry_delay=dt.timedelta(minutes=10),
    )
    def settle(loaded: dict) -> dict:
        return tasks.settle(loaded)

    settle.expand(loaded=load.expand(fetched=fetch.expand(partner=partners())))


partner_intake()
