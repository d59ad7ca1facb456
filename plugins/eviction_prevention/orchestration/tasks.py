"""Task bodies for the DAGs: thin wrappers that open Airflow hooks and call the domain modules.

Imports of heavy modules happen inside the functions so that DAG files parse fast.

Retries: network trouble (refused connection, timeout, dropped session) raises and the task is retried
with backoff. A changed host key or a refused login is not a network blip: it fails the task at once
(``AirflowFailException``, no retries) with a message saying what to check. Validation problems never
raise: the file is rejected with a receipt.

Serialisation: fetch, load and settle each hold the partner's lock (``locks.partner_lock``) while they run,
so two runs of one partner's intake (a manual run next to the scheduled one, a cleared task next to its
retry) take turns; other partners run in parallel.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from eviction_prevention.partners import Partner, get_partner, load_partners

log = logging.getLogger(__name__)


PARTNER = "{{ partner_code }}"  # map_index_template: mapped task instances are named by their partner


def partner_codes() -> list[str]:
    return [p.code for p in load_partners()]


def name_map_index(partner_code: str) -> None:
    """Name the running mapped task instance by its partner (the ``PARTNER`` map_index_template)."""
    from airflow.sdk import get_current_context

    get_current_context()["partner_code"] = partner_code  # type: ignore[typeddict-unknown-key]


@contextmanager
def sftp_client(conn_id: str) -> Iterator[Any]:
    """A paramiko SFTP client from the Airflow connection; security failures fail loudly without retry."""
    import paramiko
    from airflow.providers.sftp.hooks.sftp import SFTPHook
    from airflow.sdk.exceptions import AirflowFailException

    hook = SFTPHook(ssh_conn_id=conn_id)
    try:
        with hook.get_managed_conn() as client:
            yield client
    except paramiko.BadHostKeyException as exc:
        raise AirflowFailException(
            f"SFTP connection {conn_id}: the server's host key does not match the pinned key "
            f"(got {exc.key.get_name()} {exc.key.fingerprint}); refusing to connect. Check with the partner "
            "whether the server was rebuilt before updating the connection's host_key."
        ) from exc
    except paramiko.AuthenticationException as exc:
        raise AirflowFailException(f"SFTP connection {conn_id}: login refused ({exc.__class__.__name__})") from exc
    except paramiko.SSHException as exc:
        if "host key" in str(exc).lower():
            raise AirflowFailException(f"SFTP connection {conn_id}: host key check failed: {exc}") from exc
        raise


def fetch(partner_code: str) -> dict[str, Any]:
    from eviction_prevention.intake.locks import partner_lock

    partner = get_partner(partner_code)
    with partner_lock(partner.code), sftp_client(partner.sftp_conn_id) as client:
        return fetch_with(partner, client)


def fetch_with(partner: Partner, client: Any, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """The fetch step with an open SFTP client (the caller holds the partner lock)."""
    from eviction_prevention.intake import fetch as intake_fetch

    files = intake_fetch.fetch_new_files(partner, client, sleep)
    return {"partner": partner.code, "files": [asdict(f) for f in files]}


def load(fetched: dict[str, Any]) -> dict[str, Any]:
    """Ingest the fetched files (one transaction per file) under the partner lock."""
    from eviction_prevention import settings
    from eviction_prevention.intake import delivery_windows, ingest
    from eviction_prevention.intake import files as intake_files
    from eviction_prevention.intake.locks import partner_lock

    partner = get_partner(fetched["partner"])
    files = [intake_files.FetchedFile(**f) for f in fetched["files"]]
    with partner_lock(partner.code):
        outcomes = ingest.ingest_files(partner, files, settings.pseudonym_key(), data_docs=True)
        missed = delivery_windows.check_delivery_windows(partner)
    return {"partner": partner.code, "outcomes": outcomes, "missed_periods": [str(m["period_start"]) for m in missed]}


def staged_changes(loaded: Iterable[dict[str, Any] | None]) -> dict[str, dict[str, int]]:
    """Per partner, how many files its load loaded or rejected (the files that change the warehouse).

    ``loaded``: the results of every partner's load; a load that failed to the end has none (``None``).
    Duplicates change nothing and are not counted; partners without changes are left out."""
    changes: dict[str, dict[str, int]] = {}
    for result in loaded:
        for outcome in (result or {}).get("outcomes", []):
            if outcome["status"] in ("loaded", "rejected"):
                counts = changes.setdefault(result["partner"], {"loaded": 0, "rejected": 0})
                counts[outcome["status"]] += 1
    return dict(sorted(changes.items()))


def skip_unless_staging_changed(changed: bool, reason: str) -> None:
    """A task with the staging outlets emits their Asset events by returning; when it changed nothing it skips
    instead (``reason``, Dutch), so ``publish_referrals`` does not run for nothing."""
    from airflow.sdk.exceptions import AirflowSkipException

    if not changed:
        raise AirflowSkipException(reason)


def announce(loaded: Iterable[dict[str, Any] | None]) -> dict[str, dict[str, int]]:
    """The intake's staging Asset events: only when a load loaded or rejected a file."""
    changes = staged_changes(loaded)
    skip_unless_staging_changed(bool(changes), "geen nieuwe of afgewezen bestanden: niets te publiceren")
    log.info("staging changed: %s", changes)
    return changes


def settle(loaded: dict[str, Any]) -> dict[str, int]:
    from eviction_prevention.intake.locks import partner_lock

    partner = get_partner(loaded["partner"])
    with partner_lock(partner.code), sftp_client(partner.sftp_conn_id) as client:
        return settle_with(partner, loaded, client)


def settle_with(partner: Partner, loaded: dict[str, Any], client: Any) -> dict[str, int]:
    """The settle step with an open SFTP client (the caller holds the partner lock)."""
    from eviction_prevention.intake import landing
    from eviction_prevention.intake import settle as intake_settle

    moved = intake_settle.settle_files(partner, loaded["outcomes"], client)
    landing.discard_landing_tmp(partner.code)
    moved["landing_purged"] = landing.purge_landing(partner)
    return moved


def prepare_build() -> dict[str, Any]:
    """Reference data, reference date and a fresh build schema (``rebuild.prepare``): the build, for XCom."""
    from eviction_prevention.publish import rebuild

    return rebuild.prepare().to_dict()


def build_models(build: dict[str, Any], layer: str) -> dict[str, int]:
    """dbt builds and tests the models of ``layer`` in the run's build schema; row counts per model."""
    from eviction_prevention.publish import rebuild

    return rebuild.build_models(None, rebuild.Build(**build), layer)


def link(build: dict[str, Any]) -> dict[str, int]:
    from eviction_prevention.publish import rebuild

    return rebuild.link(None, rebuild.Build(**build))


def publish_build(build: dict[str, Any]) -> dict[str, Any]:
    """The audited build becomes what analysts query (views and access layer, one transaction)."""
    from eviction_prevention.publish import rebuild

    statements = rebuild.publish_build(None, rebuild.Build(**build))
    return {"build_schema": build["build_schema"], "access_statements": statements}


def feedback_partner_codes() -> list[str]:
    from eviction_prevention.publish import feedback

    return [p.code for p in feedback.receiving_partners()]


def send_feedback(partner_code: str) -> dict[str, object]:
    """The partner's case feedback to its outbox, after a publish (``feedback``), under the partner's lock."""
    from airflow.sdk import get_current_context

    from eviction_prevention import settings
    from eviction_prevention.intake.locks import partner_lock
    from eviction_prevention.publish import feedback

    partner = get_partner(partner_code)
    run_id = str(get_current_context()["run_id"])
    with partner_lock(partner.code), sftp_client(partner.sftp_conn_id) as client:
        return feedback.send(partner, client, None, run_id, settings.vault_key())


def write_dashboard() -> dict[str, object]:
    from eviction_prevention.operate import dashboard

    return dashboard.write_dashboard()


def write_dbt_docs() -> dict[str, str]:
    """The dbt project's documentation (``dbt docs generate --static``) beside the dashboard."""
    from eviction_prevention.publish import dbt_runner

    return {"docs": dbt_runner.write_docs().name}


def alert_missed_deliveries() -> dict[str, int]:
    from eviction_prevention.operate import alerts

    return alerts.alert_missed_deliveries()


def purge_landing_files() -> dict[str, int]:
    from eviction_prevention.operate import retention

    return retention.purge_landing_files()


def purge_warehouse() -> dict[str, int]:
    """Retention's staging Asset events: only when staging rows were deleted (the marts must lose them too)."""
    from eviction_prevention.operate import retention

    counts = retention.purge_warehouse()  # it logs the rows deleted per table
    skip_unless_staging_changed(retention.staging_changed(counts), "niets verwijderd: niets te publiceren")
    return counts
