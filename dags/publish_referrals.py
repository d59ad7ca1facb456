"""Publish: link arrears cases to social-team and SDD records, build referral and compliance marts.

After the marts: write the compliance dashboard (HTML), alert once per missed partner delivery window, and
write each partner's case feedback to its outbox (``feedback``; one mapped instance per partner, named by it).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task
from eviction_prevention import alerts, tasks
from eviction_prevention.assets import MARTS, STAGING
from eviction_prevention.tasks import PARTNER


@dag(
    dag_id="publish_referrals",
    schedule=STAGING[0] | STAGING[1] | STAGING[2],
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["eviction-prevention", "publish"],
    doc_md=__doc__,
    default_args={"on_failure_callback": alerts.on_task_failure},
    deadline=alerts.dag_deadline("publish_referrals"),
)
def publish_referrals() -> None:
    @task(outlets=MARTS)
    def publish() -> dict:
        return tasks.publish()

    @task
    def write_dashboard() -> dict:
        return tasks.write_dashboard()

    @task
    def alert_missed_deliveries() -> dict[str, int]:
        return tasks.alert_missed_deliveries()

    @task
    def feedback_partners() -> list[str]:
        return tasks.feedback_partner_codes()

    @task(map_index_template=PARTNER, retries=3, retry_delay=dt.timedelta(seconds=30))
    def send_feedback(partner: str) -> dict:
        tasks.name_map_index(partner)
        return tasks.send_feedback(partner)

    published = publish()
    published >> [write_dashboard(), alert_missed_deliveries()]
    published >> send_feedback.expand(partner=feedback_partners())


publish_referrals()
