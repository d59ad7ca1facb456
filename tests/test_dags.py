"""The DAG files import cleanly, quickly, and wire the tasks as intended."""

from __future__ import annotations

import itertools
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
    assert sorted(t.task_id for t in intake.tasks) == [
        "announce",
        "partner.fetch",
        "partner.load",
        "partner.settle",
        "partners",
    ]
    # Infrastructure errors are retried with backoff; validation errors are never raised (receipt + quarantine).
    steps = [intake.get_task(f"partner.{t}") for t in ("fetch", "load", "settle")]
    assert [t.retries for t in steps] == [3, 3, 3]
    assert steps[1].retry_exponential_backoff
    assert {t.map_index_template for t in steps} == {"{{ partner_code }}"}  # instances named by partner
    # fetch -> load -> settle per partner (one mapped task group), announce after every partner's load only
    assert steps[0].task_group.group_id == "partner" and type(steps[0].task_group).__name__ == "MappedTaskGroup"
    assert steps[1].upstream_task_ids == {"partner.fetch"}
    assert steps[2].upstream_task_ids == {"partner.load"}
    announce = intake.get_task("announce")
    assert announce.upstream_task_ids == {"partner.load"}
    assert announce.trigger_rule == "all_done"
    assert steps[1].outlets == []
    assert {a.name for a in announce.outlets} == {"stg_arrears_snapshots", "stg_social_team_cases", "stg_sdd_records"}
    publish = bag.dags["publish_referrals"]
    assert {a.name for a in publish.get_task("publish").outlets} == {"mart_referrals", "mart_compliance_monthly"}
    # the dbt steps are tasks: prepare -> intermediate models -> linkage -> marts (the audit) -> publish
    chain = ["prepare", "build_intermediate", "link", "build_marts", "publish"]
    for before, after in itertools.pairwise(chain):
        assert before in publish.get_task(after).upstream_task_ids, (before, after)
    feedback = publish.get_task("send_feedback")  # after the marts, one instance per receiving partner
    assert feedback.upstream_task_ids == {"publish", "feedback_partners"}
    assert feedback.map_index_template == "{{ partner_code }}"


def test_announce_counts_the_files_that_changed_the_warehouse_and_skips_without_them() -> None:
    import pytest
    from airflow.sdk.exceptions import AirflowSkipException
    from eviction_prevention.orchestration import tasks

    loaded = [
        {"partner": "woonbron", "outcomes": [{"status": "loaded"}, {"status": "duplicate"}, {"status": "rejected"}]},
        None,  # a load that failed to the end: no result
        {"partner": "sdd", "outcomes": [{"status": "duplicate"}]},
        {"partner": "trivire", "outcomes": [{"status": "loaded"}, {"status": "loaded"}]},
    ]
    assert tasks.announce(loaded) == {"trivire": {"loaded": 2, "rejected": 0}, "woonbron": {"loaded": 1, "rejected": 1}}
    with pytest.raises(AirflowSkipException):
        nothing_new = [
            None,
            {"partner": "sdd", "outcomes": [{"status": "duplicate"}]},
            {"partner": "x", "outcomes": []},
        ]
        tasks.announce(nothing_new)


def test_deadlines_on_scheduled_runs_and_off_for_dags_test(monkeypatch) -> None:
    bag = DagBag(dag_folder=str(DAGS))
    assert bag.dags["publish_referrals"].deadline is not None
    assert bag.dags["retention"].deadline is not None
    assert bag.dags["partner_intake"].deadline is not None
    monkeypatch.setenv("EVICTION_PREVENTION_DAG_DEADLINES", "off")
    assert DagBag(dag_folder=str(DAGS)).dags["publish_referrals"].deadline in (None, [])


def test_every_dag_takes_the_shared_defaults() -> None:
    from eviction_prevention.operate import alerts
    from eviction_prevention.orchestration.dag_defaults import START_DATE

    bag = DagBag(dag_folder=str(DAGS))
    stages = {"partner_intake": "intake", "publish_referrals": "publish", "retention": "retention"}
    for dag_id, stage in stages.items():
        dag = bag.dags[dag_id]
        assert dag.start_date == START_DATE and dag.catchup is False and dag.max_active_runs == 1
        assert set(dag.tags) == {"eviction-prevention", stage}
        assert dag.default_args["on_failure_callback"] is alerts.on_task_failure
        assert dag.doc_md == Path(dag.fileloc).read_text().split('"""')[1]  # the DAG file's docstring
