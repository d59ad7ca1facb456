"""Task bodies for the DAGs: thin wrappers that open Airflow hooks and call the domain modules.

Imports of heavy modules happen inside the functions so that DAG files parse fast.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from eviction_prevention.partners import get_partner, load_partners

log = logging.getLogger(__name__)


def partner_codes() -> list[str]:
    return [p.code for p in load_partners()]


@contextmanager
def sftp_client(conn_id: str):
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    hook = SFTPHook(ssh_conn_id=conn_id)
    with hook.get_managed_conn() as client:
        yield client


def fetch(partner_code: str) -> dict[str, Any]:
    from eviction_prevention import intake

    partner = get_partner(partner_code)
    with sftp_client(partner.sftp_conn_id) as client:
        files = intake.fetch_new_files(partner, client)
    return {"partner": partner_code, "files": [asdict(f) for f in files]}


def load(fetched: dict[str, Any]) -> dict[str, Any]:
    from eviction_prevention import intake, settings

    partner = get_partner(fetched["partner"])
    files = [intake.FetchedFile(**f) for f in fetched["files"]]
    outcomes = intake.ingest_files(partner, files, settings.pseudonym_key())
    return {"partner": partner.code, "outcomes": outcomes}


def settle(loaded: dict[str, Any]) -> dict[str, int]:
    from eviction_prevention import intake

    partner = get_partner(loaded["partner"])
    with sftp_client(partner.sftp_conn_id) as client:
        moved = intake.settle_files(partner, loaded["outcomes"], client)
    intake.discard_landing_tmp(partner.code)
    return moved


def publish() -> dict[str, Any]:
    from eviction_prevention import publish as publishing

    return publishing.publish()
