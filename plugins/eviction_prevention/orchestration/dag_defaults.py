"""What every DAG of the pipeline shares: start date, no catch-up, one run at a time, tags, the failure
alert on every task, the DAG deadline alert, and the retry policy for infrastructure errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from airflow.sdk import Asset, AssetAll, AssetAny, dag

from eviction_prevention.operate import alerts

START_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

# fetch, load, settle and send_feedback: an SFTP or warehouse connection lost, a worker lost mid-task
RETRY_ON_INFRASTRUCTURE_ERRORS: dict[str, Any] = {
    "retries": 3,
    "retry_delay": dt.timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": dt.timedelta(minutes=10),
}


def pipeline_dag(
    dag_id: str, schedule: str | Asset | AssetAny | AssetAll, stage: str, doc: str | None
) -> Callable[[Callable[[], None]], Callable[..., Any]]:
    """The ``@dag`` decorator with the pipeline's shared settings; ``stage`` becomes the DAG's second tag."""
    return dag(
        dag_id=dag_id,
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["eviction-prevention", stage],
        doc_md=doc,
        default_args={"on_failure_callback": alerts.on_task_failure},
        deadline=alerts.dag_deadline(dag_id),
    )
