"""``make production``: the demo's partner files through the production topology, run natively, checked.

Starts docker-compose.yml's services without Docker (``native_stack``), drops the synthetic world's files
into the partners' OpenSSH inboxes, unpauses the DAGs and triggers ``partner_intake`` through the REST
API, waits for the ``publish_referrals`` run it starts, and checks: the compliance mart equals the
generator's ground truth, every delivered file has its receipt in the partner's outbox, and tasks ran
on both Celery workers. Then the same deliveries again on an emptied warehouse, this time with one worker
killed (``kill -9`` of all its processes, as ``docker kill``) halfway through a partner's load: the marts
must end with the same checksums as the clean run, ``person_id`` included.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from eviction_prevention import settings, warehouse
from eviction_prevention.intake.files import RECEIPT_SUFFIX
from eviction_prevention.publish import models, write_audit_publish

from devtools import evaluation
from devtools.airflow_api import FINISHED, AirflowAPI
from devtools.native_stack import ADMIN_USER, NativeStack, start_stack, wait_for

log = logging.getLogger(__name__)

DAGS = ("partner_intake", "publish_referrals")
RUN_TIMEOUT = 1200.0
SFTP_FOLDERS = ("inbox", "outbox", "processed", "quarantine")


@dataclass
class RunResult:
    intake_run: str  # the triggered run (a scheduled tick may have done the work first)
    publish_run: str
    intake_state: str
    publish_state: str
    publish_runs: int  # publish_referrals runs this intake started (one, when nothing is published early)
    workers: dict[str, int]  # host name -> task instances it ran
    load_seconds: dict[str, float]  # partner -> duration of its load task
    load_tries: dict[str, int]  # partner -> attempts its load task took
    receipts: dict[str, int]  # partner -> receipts in its outbox
    delivered: dict[str, int]  # partner -> files dropped
    checksums: dict[str, str]  # mart -> checksum of its rows
    compliance_differences: int
    # bookkeeping rows to compare when checksums differ: no personal data (partner codes, dates, counts, states)
    bookkeeping: dict[str, list[str]] = field(default_factory=dict)
    analyst: dict[str, Any] = field(default_factory=dict)  # what an analyst's login role can read
    killed: dict[str, Any] = field(default_factory=dict)


def api_for(stack: NativeStack) -> AirflowAPI:
    return AirflowAPI(stack.api_url, ADMIN_USER, stack.secrets.admin_password)


def drop_files(stack: NativeStack, data_dir: Path) -> dict[str, int]:
    """Upload the world's files as each partner would (atomic rename, the delivery moment as mtime)."""
    from devtools.demo import simulated_delivery
    from devtools.sftp_server import upload

    host_key = (stack.paths.ssh / "host" / "ssh_host_ed25519_key.pub").read_text().split()
    delivered: dict[str, int] = {}
    for folder in sorted((data_dir / "partners").iterdir()):
        key = stack.paths.secrets / "sftp-client-keys" / f"{folder.name}_ed25519"
        for path in sorted(folder.iterdir()):
            upload("127.0.0.1", stack.ports.sftp, folder.name, key, " ".join(host_key[:2]), path,
                   mtime=simulated_delivery(path.name))  # fmt: skip
            delivered[folder.name] = delivered.get(folder.name, 0) + 1
    return delivered


def receipts(stack: NativeStack) -> dict[str, int]:
    return {
        code: len(list((stack.paths.sftp_root / code / "outbox").glob(f"*{RECEIPT_SUFFIX}")))
        for code in stack.partners
        if (stack.paths.sftp_root / code / "outbox").is_dir()
    }


def mart_checksums(url: str) -> dict[str, str]:
    """md5 of every mart's rows in a fixed order (PostgreSQL): equal checksums, equal marts."""
    with warehouse.connect(url) as conn:
        tables = models.model_names("marts")  # views of the warehouse's schema on the published build
        return {
            t: conn.execute(
                sa.text(f"SELECT md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) FROM {t} r")
            ).scalar_one()
            for t in tables
        }


BOOKKEEPING = {  # what mart_delivery_compliance reads, and the mart itself; columns without personal data
    "meta_file_ledger": "partner, kind, status, snapshot_date, received_on, delivery_seq, left(file_id, 12)",
    "ref_delivery_periods": "*",
    "mart_delivery_compliance": "*",
}


def bookkeeping(url: str) -> dict[str, list[str]]:
    """The rows of the ledger, the delivery periods and the delivery mart, as text in a fixed order: when a run's
    mart checksums differ from the clean run's, the difference between these says why (issue 19's note: the
    delivery mart differed once in about five killed runs)."""
    with warehouse.connect(url) as conn:
        return {
            table: sorted(str(tuple(row)) for row in conn.execute(sa.text(f"SELECT {columns} FROM {table}")))
            for table, columns in BOOKKEEPING.items()
        }


def bookkeeping_differences(clean: RunResult, other: RunResult) -> dict[str, dict[str, list[str]]]:
    """Per table, the rows only the clean run has and the rows only the other run has."""
    out = {}
    for table in BOOKKEEPING:
        a, b = set(clean.bookkeeping.get(table, [])), set(other.bookkeeping.get(table, []))
        if a != b:
            out[table] = {"clean only": sorted(a - b), "other only": sorted(b - a)}
    return out


def compliance_differences(url: str, truth_dir: Path) -> int:
    with warehouse.connect(url) as conn:
        published = evaluation.published_compliance(conn)
    return len(evaluation.compliance_differences(published, evaluation.truth_compliance(truth_dir)))


def analyst_access(stack: NativeStack) -> dict[str, Any]:
    """Log in as an analyst (a login role the DBA makes a member of ``ep_analyst``, README) over TCP with a
    password: the marts are readable, the staging layer is not."""
    password = secrets.token_urlsafe(12)
    with warehouse.connect(stack.secrets.superuser_url) as conn:
        conn.execute(sa.text("DROP ROLE IF EXISTS analyst_native_check"))
        conn.execute(sa.text(f"CREATE ROLE analyst_native_check LOGIN PASSWORD '{password}' IN ROLE ep_analyst"))
    url = f"postgresql+psycopg2://analyst_native_check:{password}@127.0.0.1:{stack.ports.postgres}/warehouse"
    out: dict[str, Any] = {}
    with warehouse.connect(url) as conn:
        out["mart_rows"] = conn.execute(sa.text("SELECT count(*) FROM marts.mart_referrals")).scalar_one()
    try:
        with warehouse.connect(url) as conn:
            conn.execute(sa.text("SELECT count(*) FROM staging.stg_arrears_snapshots")).scalar_one()
        out["staging_denied"] = False
    except sa.exc.ProgrammingError as exc:
        out["staging_denied"] = "permission denied" in str(exc.orig)
    return out


def reset(stack: NativeStack) -> None:
    """An empty warehouse, empty partner folders and no landed files: the state before the first delivery."""
    with warehouse.connect(stack.secrets.superuser_url.replace("/postgres?", "/warehouse?")) as conn:
        companions = ", ".join(write_audit_publish.companion_schemas("public"))
        layers = "staging, intermediate, marts, reference, meta"
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS public, {companions}, {layers} CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public AUTHORIZATION warehouse"))
    for code in stack.partners:
        for folder in SFTP_FOLDERS:
            for path in (stack.paths.sftp_root / code / folder).glob("*"):
                path.unlink()
    shutil.rmtree(stack.paths.home / "landing", ignore_errors=True)


def _seconds(ti: dict[str, Any]) -> float:
    from datetime import datetime

    if not ti.get("start_date") or not ti.get("end_date"):
        return 0.0
    return (datetime.fromisoformat(ti["end_date"]) - datetime.fromisoformat(ti["start_date"])).total_seconds()


def _partner_of(ti: dict[str, Any], partners: list[str]) -> str:
    rendered = ti.get("rendered_map_index")
    return rendered if rendered in partners else partners[ti["map_index"]]


class Runs:
    """The DAG runs created after a point in time: the triggered intake, and any the hourly schedule adds
    meanwhile (an unpaused DAG's tick may come between the drop and the trigger and take the files first)."""

    def __init__(self, api: AirflowAPI) -> None:
        self.api = api
        self.before = {dag_id: {r["dag_run_id"] for r in api.runs(dag_id)} for dag_id in DAGS}

    def new(self, dag_id: str) -> list[dict[str, Any]]:
        return [r for r in self.api.runs(dag_id) if r["dag_run_id"] not in self.before[dag_id]]

    def finished(self, dag_id: str) -> list[dict[str, Any]]:
        """The new runs once there is one and all have finished, else []."""
        new = self.new(dag_id)
        return new if new and all(r["state"] in FINISHED for r in new) else []

    def task_instances(self, dag_id: str) -> list[dict[str, Any]]:
        return [ti for r in self.new(dag_id) for ti in self.api.task_instances(dag_id, r["dag_run_id"])]


def kill_during_load(stack: NativeStack, runs: Runs, partner: str, after: float) -> dict[str, Any]:
    """Wait until ``partner``'s load has run ``after`` seconds, then kill -9 the worker running it."""

    def running_load() -> dict[str, Any] | None:
        for ti in runs.task_instances("partner_intake"):
            if ti["task_id"] == "partner.load" and _partner_of(ti, stack.partners) == partner:
                return ti if ti["state"] == "running" and ti.get("hostname") else None
        return None

    ti = wait_for(running_load, f"the load of {partner}", RUN_TIMEOUT, every=0.2)
    time.sleep(after)
    worker = stack.worker(ti["hostname"])
    pids = worker.pids()
    worker.kill(signal.SIGKILL)
    log.warning("killed %s (%d processes) %.1f s into the load of %s", ti["hostname"], len(pids), after, partner)
    return {"worker": ti["hostname"], "partner": partner, "after_seconds": round(after, 2), "processes": len(pids)}


def run_once(stack: NativeStack, data_dir: Path, kill: tuple[str, float] | None = None) -> RunResult:
    """Deliver the files, trigger the intake, wait until every file is settled and every run started since
    (intake and publish) has finished."""
    api = api_for(stack)
    runs = Runs(api)
    delivered = drop_files(stack, data_dir)
    run_id = api.trigger("partner_intake")
    killed: dict[str, Any] = {}
    if kill:
        killer = threading.Thread(target=lambda: killed.update(kill_during_load(stack, runs, *kill)))
        killer.start()
    wait_for(lambda: runs.finished("partner_intake") and receipts(stack) == delivered, "the intake", RUN_TIMEOUT, 2.0)
    if kill:
        killer.join()
    wait_for(lambda: runs.finished("publish_referrals"), "publish_referrals", RUN_TIMEOUT, every=2.0)
    time.sleep(5)  # a second publish, had one been started, would exist by now
    intakes = wait_for(lambda: runs.finished("partner_intake"), "the intake", RUN_TIMEOUT, 2.0)
    publishes = wait_for(lambda: runs.finished("publish_referrals"), "publish_referrals", RUN_TIMEOUT, 2.0)
    tis = runs.task_instances("partner_intake")
    workers: dict[str, int] = {}
    for ti in tis:
        if ti.get("hostname"):
            workers[ti["hostname"]] = workers.get(ti["hostname"], 0) + 1
    loads: dict[str, dict[str, Any]] = {}
    for ti in tis:  # per partner, the load that did the work: the longest
        if ti["task_id"] == "partner.load":
            partner = _partner_of(ti, stack.partners)
            if partner not in loads or _seconds(ti) > _seconds(loads[partner]):
                loads[partner] = ti
    url = stack.secrets.warehouse_url
    return RunResult(
        intake_run=run_id,
        publish_run=publishes[0]["dag_run_id"],  # newest first
        intake_state="success" if all(r["state"] == "success" for r in intakes) else "failed",
        publish_state="success" if all(r["state"] == "success" for r in publishes) else "failed",
        publish_runs=len(publishes),
        workers=dict(sorted(workers.items())),
        load_seconds={partner: _seconds(ti) for partner, ti in loads.items()},
        load_tries={partner: ti["try_number"] for partner, ti in loads.items()},
        receipts=receipts(stack),
        delivered=delivered,
        checksums=mart_checksums(url),
        bookkeeping=bookkeeping(url),
        compliance_differences=compliance_differences(url, data_dir / "ground_truth"),
        analyst=analyst_access(stack),
        killed=killed,
    )


def prepare(stack: NativeStack) -> None:
    """Unpause the DAGs (compose pauses them at creation) and let the run the schedule starts at once
    (the latest interval; catchup is off) finish before anything is delivered."""
    api = api_for(stack)
    wait_for(lambda: set(DAGS) <= set(api.dag_ids()), "the DAGs parsed", 180, every=2.0)
    runs = Runs(api)
    for dag_id in DAGS:
        api.unpause(dag_id)
    try:
        wait_for(lambda: runs.new("partner_intake"), "the first scheduled intake", 60, every=2.0)
    except TimeoutError:
        return  # no tick due
    wait_for(lambda: runs.finished("partner_intake"), "the first scheduled intake", RUN_TIMEOUT, every=2.0)


def run(
    state: Path, scale: float, seed: int, kill_check: bool = True, pseudonym_key: str | None = None
) -> tuple[RunResult, RunResult | None]:
    """The clean run and (``kill_check``) the run with a worker killed during the longest load.
    ``pseudonym_key``: a fixed key (default: a new one, as an operator makes)."""
    from devtools.synthetic import generate

    data_dir = state.parent / f"{state.name}-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    generate(data_dir, scale=scale, seed=seed)
    with start_stack(state, pseudonym_key=pseudonym_key) as stack:
        prepare(stack)
        clean = run_once(stack, data_dir)
        report("clean run", clean)
        if not kill_check:
            return clean, None
        partner, seconds = max(clean.load_seconds.items(), key=lambda kv: kv[1])
        reset(stack)
        killed = run_once(stack, data_dir, kill=(partner, seconds / 2))
        report("run with a worker killed during a load", killed)
        return clean, killed


def report(title: str, result: RunResult) -> None:
    print(f"\n== {title} ==", flush=True)
    print(f"partner_intake {result.intake_run}: {result.intake_state}; "
          f"publish_referrals runs started: {result.publish_runs}, last {result.publish_state}")  # fmt: skip
    print(f"task instances per worker: {result.workers}")
    print(f"receipts / files delivered: {result.receipts} / {result.delivered}")
    print(f"compliance equals ground truth: {'yes' if result.compliance_differences == 0 else 'NO'}")
    print(f"an analyst login reads {result.analyst['mart_rows']} rows of marts.mart_referrals; "
          f"staging {'denied' if result.analyst['staging_denied'] else 'READABLE'}")  # fmt: skip
    if result.killed:
        print(f"killed: {result.killed}")
    print("mart checksums: " + ", ".join(f"{t} {c[:12]}" for t, c in result.checksums.items()), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, default=settings.home() / "production")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-kill-check", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop every service on SIGTERM too
    clean, killed = run(args.state, args.scale, args.seed, kill_check=not args.no_kill_check)
    ok = clean.compliance_differences == 0 and clean.intake_state == clean.publish_state == "success"
    ok &= len(clean.workers) >= 2 and clean.receipts == clean.delivered
    ok &= clean.analyst["mart_rows"] > 0 and clean.analyst["staging_denied"]
    if killed is not None:
        ok &= killed.checksums == clean.checksums and killed.publish_state == "success"
        if killed.checksums != clean.checksums:
            print(f"bookkeeping differences: {bookkeeping_differences(clean, killed)}")
    print(f"\nproduction topology: {'OK' if ok else 'FAILED'} (logs in {args.state / 'logs'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
