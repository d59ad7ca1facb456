"""The production topology of docker-compose.yml, run natively (``make production``): PostgreSQL (metadata
and warehouse, initialised by docker/postgres/init-databases.sh), Redis, OpenSSH through
docker/sftp/entrypoint.sh, airflow-init, the API server, scheduler, DAG processor, triggerer and two
Celery workers, every setting read from the compose file. The demo's partner files go in over SFTP, the
intake is triggered through the REST API, and the published marts are checked against the generator's
ground truth. Then the same deliveries on an emptied warehouse with one worker killed (kill -9 of all its
processes) halfway through the longest partner load: the marts end with the same checksums.

Each defect the compose file had is covered by this run: the Celery provider, celery and redis in the lock
(the workers start), the FAB auth manager (the REST API logs in as the admin airflow-init created),
secrets written with a trailing newline (every secret file here ends in one), the partner accounts not
locked (files are dropped and fetched over OpenSSH), the warehouse's group roles created by the init
script (publish applies the access grants as the non-superuser `warehouse` role), settle per partner and
publish only after every load has ended (one publish run, equal checksums after the kill).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import unavailable

pytestmark = [pytest.mark.airflow, pytest.mark.postgres, pytest.mark.sftp]


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "the production topology needs root (partner accounts, chroot, the postgres system user)"
    for binary in ("/usr/sbin/sshd", shutil.which("redis-server") or "redis-server", shutil.which("ssh-keyscan") or ""):
        if not Path(binary).exists():
            return f"{binary or 'ssh-keyscan'} not installed (.ci/run installs openssh-server and redis-server)"
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return "PostgreSQL server binaries not installed"
    return None


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    if reason := _missing():
        unavailable(reason)
    from devtools import production

    # a fixed key: the exact comparison with the ground truth depends on the key (see test_end_to_end's demo_run)
    key = hashlib.sha256(b"end-to-end test key").hexdigest()
    state = tmp_path_factory.mktemp("production") / "state"
    return production.run(state, scale=0.3, seed=7, kill_check=True, pseudonym_key=key)


def test_clean_run_through_celery_equals_the_ground_truth(runs) -> None:
    clean, _ = runs
    assert (clean.intake_state, clean.publish_state) == ("success", "success")
    assert clean.publish_runs == 1  # one publish for the intake, after every partner's load
    assert clean.compliance_differences == 0
    assert clean.receipts == clean.delivered and sum(clean.delivered.values()) > 6
    assert {"airflow-worker-1", "airflow-worker-2"} <= set(clean.workers)
    assert all(clean.workers[w] > 0 for w in ("airflow-worker-1", "airflow-worker-2"))
    assert {"mart_referrals", "mart_compliance_monthly"} <= set(clean.checksums)
    # the group roles exist and may connect: an analyst's login role reads the marts, not staging
    assert clean.analyst["mart_rows"] > 0 and clean.analyst["staging_denied"] is True


def test_a_worker_killed_during_a_load_ends_with_the_clean_marts(runs) -> None:
    from devtools import production

    clean, killed = runs
    assert killed.killed["worker"] in ("airflow-worker-1", "airflow-worker-2")
    assert killed.killed["processes"] >= 2  # the worker and the task it was running
    assert killed.load_tries[killed.killed["partner"]] >= 2  # failed on the lost heartbeat, then retried
    assert (killed.intake_state, killed.publish_state) == ("success", "success")
    assert killed.publish_runs == 1  # nothing was published while the killed partner's load was pending
    assert killed.receipts == killed.delivered
    # person_id included; on a difference, the bookkeeping rows that differ (no personal data) say why
    assert killed.checksums == clean.checksums, production.bookkeeping_differences(clean, killed)
