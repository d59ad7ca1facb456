"""Partner intake: per partner, fetch new files over SFTP, validate, pseudonymise, load, settle; then announce.

Each partner is one mapped instance of the ``partner`` task group (fetch -> load -> settle): a partner's
settle waits only for its own load, so one slow or failed partner never holds back another's receipts.
fetch, load and settle are retried with exponential backoff on infrastructure errors (SFTP or warehouse
connection lost, a worker lost mid-task); a changed host key or refused login fails at once. Validation
problems are never raised, so never retried: they are reported in the partner's receipt and the file is
quarantined. load also logs a warning for every missed delivery window.

``announce`` runs once every partner's load has ended (loaded, failed or retried to the end) and emits the
staging Asset events that start ``publish_referrals``, so a publish never builds on a partner batch that
is still in flight; with no new or rejected file it emits nothing, and nothing is published.
Each task holds the partner's lock while it runs (two runs of one partner take turns) and is safe to clear
and rerun after any failure: see RECOVERY in the README.
"""

from __future__ import annotations

from airflow.sdk import TriggerRule, XComArg, task, task_group
from eviction_prevention.orchestration import tasks
from eviction_prevention.orchestration.assets import STAGING
from eviction_prevention.orchestration.dag_defaults import RETRY_ON_INFRASTRUCTURE_ERRORS, pipeline_dag
from eviction_prevention.orchestration.tasks import PARTNER


@pipeline_dag("partner_intake", "0 * * * 1-5", "intake", __doc__)
def partner_intake() -> None:
    @task
    def partners() -> list[str]:
        return tasks.partner_codes()

    @task(map_index_template=PARTNER, **RETRY_ON_INFRASTRUCTURE_ERRORS)
    def fetch(partner: str) -> dict:
        tasks.name_map_index(partner)
        return tasks.fetch(partner)

    @task(map_index_template=PARTNER, **RETRY_ON_INFRASTRUCTURE_ERRORS)
    def load(fetched: dict) -> dict:
        tasks.name_map_index(fetched["partner"])
        return tasks.load(fetched)

    @task(map_index_template=PARTNER, **RETRY_ON_INFRASTRUCTURE_ERRORS)
    def settle(loaded: dict) -> dict:
        tasks.name_map_index(loaded["partner"])
        return tasks.settle(loaded)

    @task_group(group_id="partner")
    def per_partner(partner: str) -> XComArg:  # the load task's output, which announce takes
        loaded = load(fetch(partner))
        settle(loaded)
        return loaded

    @task(outlets=STAGING, trigger_rule=TriggerRule.ALL_DONE)
    def announce(loaded: list[dict | None]) -> dict[str, dict[str, int]]:
        return tasks.announce(loaded)

    announce(per_partner.expand(partner=partners()))


partner_intake()
