"""Publish: build the intermediate models, link arrears cases to social-team and SDD records, build the
referral and compliance marts, and publish them once their tests pass (write-audit-publish).

The dbt steps are tasks of their own (one per selection of the dbt project in ``sql/``): a failed model or
test stops the run before ``publish``, and analysts keep the previous build. After the marts: write the
compliance dashboard (HTML) and the dbt docs beside it, alert once per missed partner delivery window, and
write each partner's case feedback to its outbox (``feedback``; one mapped instance per partner, named by it).
"""

from __future__ import annotations

from airflow.sdk import task
from eviction_prevention.orchestration import tasks
from eviction_prevention.orchestration.assets import MARTS, STAGING
from eviction_prevention.orchestration.dag_defaults import RETRY_ON_INFRASTRUCTURE_ERRORS, pipeline_dag
from eviction_prevention.orchestration.tasks import PARTNER


@pipeline_dag("publish_referrals", STAGING[0] | STAGING[1] | STAGING[2], "publish", __doc__)
def publish_referrals() -> None:
    @task
    def prepare() -> dict:
        return tasks.prepare_build()

    @task
    def build_intermediate(build: dict) -> dict:
        return tasks.build_models(build, "intermediate")

    @task
    def link(build: dict) -> dict:
        return tasks.link(build)

    @task
    def build_marts(build: dict) -> dict:
        return tasks.build_models(build, "marts")

    @task(outlets=MARTS)
    def publish(build: dict) -> dict:
        return tasks.publish_build(build)

    @task
    def write_dashboard() -> dict:
        return tasks.write_dashboard()

    @task
    def write_dbt_docs() -> dict:
        return tasks.write_dbt_docs()

    @task
    def alert_missed_deliveries() -> dict[str, int]:
        return tasks.alert_missed_deliveries()

    @task
    def feedback_partners() -> list[str]:
        return tasks.feedback_partner_codes()

    @task(map_index_template=PARTNER, **RETRY_ON_INFRASTRUCTURE_ERRORS)
    def send_feedback(partner: str) -> dict:
        tasks.name_map_index(partner)
        return tasks.send_feedback(partner)

    build = prepare()
    published = publish(build)
    build_intermediate(build) >> link(build) >> build_marts(build) >> published
    published >> [write_dashboard(), write_dbt_docs(), alert_missed_deliveries()]
    published >> send_feedback.expand(partner=feedback_partners())


publish_referrals()
