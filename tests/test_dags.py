"""The DAG files import cleanly, quickly, and wire the tasks as intended."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from airflow.dag_processing.dagbag import DagBag

DAGS = Path(__file__).resolve().parents[1] / "dags"


def test_dagbag_imports_without_errors() -> None:
    sys.path.insert(0, str(DAGS))  # DagBag in Airflow 3.3.2 does not put dags/ on sys.path
    try:
        started = time.perf_counter()
        bag = DagBag(dag_folder=str(DAGS))
        elapsed = time.perf_counter() - started
    finally:
        sys.path.remove(str(DAGS))
    assert bag.import_errors == {}
    assert sorted(bag.dags) == ["partner_intake", "publish_referrals", "retention"]
    assert elapsed < 10  # generous: a smoke check that nothing heavy runs at import, not a benchmark


def test_intake_tasks_and_retries() -> None:
    bag = DagBag(dag_folder=str(DAGS))
    intake = bag.dags["partner_intake"]
    assert sorted(t.task_id for t in intake.tasks) == ["fetch", "load", "partners", "settle"]
    # Infrastructure errors are retried with backoff; validation errors are never raised (receipt + quarantine).
    assert [intake.get_task(t).retries for t in ("fetch", "load", "settle")] == [3, 3, 3]
    assert intake.get_task("load").retry_exponential_backoff
    assert {a.name for a in intake.get_task("load").outlets} == {
        "stg_arrears_snapshots",
        "stg_social_team_cases",
        "stg_sdd_records",
    }
    publish = bag.dags["publish_referrals"]
    assert {a.name for a in publish.get_task("publish").outlets} == {"mart_referrals", "mart_compliance_monthly"}


def test_deadlines_on_scheduled_runs_and_off_for_dags_test(monkeypatch) -> None:
    bag = DagBag(dag_folder=str(DAGS))
    assert bag.dags["publish_referrals"].deadline is not None
    assert bag.dags["retention"].deadline is not None
    assert bag.dags["partner_intake"].deadline is not None
    monkeypatch.setenv("EVICTION_PREVENTION_DAG_DEADLINES", "off")
    assert DagBag(dag_folder=str(DAGS)).dags["publish_referrals"].deadline in (None, [])
