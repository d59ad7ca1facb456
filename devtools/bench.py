"""``make bench``: the pipeline at national scale on this machine, stage by stage, on DuckDB and PostgreSQL.

For each N (arrears rows, spread over six corporations, with proportionate social-team and SDD exports;
``bench_world``) a fresh subprocess runs the stages in-process on the real code path: download (from the
embedded SFTP server, ``fetch.fetch_new_files``), parse, validate, pseudonymise and load
(``ingest.ingest_files``), case building, linkage and publish (``rebuild.publish``). Stages are timed by
wrapping the functions the pipeline calls, so nothing is re-implemented here. Peak RSS is the child's
``ru_maxrss``. The smallest N also runs once through Airflow (``airflow dags test``) to show the
orchestration overhead: the DAG runs' durations as Airflow records them (created to end), and beside them
the commands' wall clock, which adds each ``airflow dags test`` process start. Baselines in the same run:
linkage against splink (DuckDB backend) on the same records in clear text, and parse + pseudonymise against
DuckDB's CSV reader on the same CSV files.

Each N runs on the embedded DuckDB file and (``--warehouse``, default both) on PostgreSQL: the database of
``EVICTION_PREVENTION_BENCH_PG_URL``, emptied of the pipeline's tables, else a fresh database on
127.0.0.1:5432 created for the run and dropped after. Results go to ``var/bench/results.json`` (every run
with its ``warehouse``); a table prints both side by side with PostgreSQL / DuckDB per stage and in total,
then each target with met / NOT MET. Logs hold counts and timings only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from eviction_prevention import settings

log = logging.getLogger(__name__)

STAGES = ("download", "parse", "validate", "pseudonymise", "load", "dbt_start", "case_building", "link", "publish")
DEFAULT_SIZES = (100_000, 300_000, 1_000_000)
BENCH_KEY = "bench-only-key-" + "0" * 48  # synthetic data only; never a production key
BENCH_VAULT_KEY = "bench-only-vault-key-" + "0" * 42
EXTRA_CORPORATION_SUFFIX = "_b"
WAREHOUSES = ("duckdb", "postgres")
PG_URL_ENV = "EVICTION_PREVENTION_BENCH_PG_URL"
PG_SERVER_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"  # a fresh database is made on it
TARGETS = {"total_seconds_1m": 60.0, "peak_rss_mb_1m": 3072.0, "linearity": 1.3, "pairs_per_record": 50.0,
           "dag_parse_seconds": 0.5, "postgres_over_duckdb_1m": 2.0, "csv_floor": 4.0,
           "airflow_over_in_process": 1.5}  # fmt: skip


def bench_home() -> Path:
    return settings.home() / "bench"


# ------------------------------------------------------------------------------------------- registry


def write_registry(target: Path, source: Path | None = None) -> Path:
    """The partner registry with six corporations: each shipped corporation plus a copy with its layout.

    Bench-only changes: no wait between completion polls, and a file size limit that admits a
    national SDD export (the shipped 50 MB limit would quarantine it unread)."""
    with open(source or settings.CONFIG_DIR / "partners.yaml", encoding="utf-8") as fh:
        registry = yaml.safe_load(fh)
    partners = []
    for entry in registry["partners"]:
        partners.append(entry)
        if entry["kind"] == "corporation":
            twin = dict(entry, code=entry["code"] + EXTRA_CORPORATION_SUFFIX, name=entry["name"] + " (bench)")
            twin["sftp_conn_id"] = "sftp_" + twin["code"]
            partners.append(twin)
    for entry in partners:
        entry["completion"] = {"rule": "stable", "polls": 2, "poll_seconds": 0}
        entry["max_file_bytes"] = 2 * 1024**3
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump({"partners": partners}, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return target


def data_dir(rows: int, seed: int) -> Path:
    return bench_home() / "data" / f"n{rows}-s{seed}"


def ensure_data(rows: int, seed: int) -> Path:
    """Generate the files once per (N, seed); later runs reuse them."""
    from eviction_prevention.partners import load_partners

    from devtools import bench_world

    folder = data_dir(rows, seed)
    done = folder / "summary.json"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    summary = bench_world.generate(folder, rows, list(load_partners()), seed)
    summary["generate_seconds"] = round(time.perf_counter() - started, 1)
    done.write_text(json.dumps(summary))
    log.info("generated %d arrears rows in %.1f s", rows, summary["generate_seconds"])
    return folder


# ------------------------------------------------------------------------------------------- timing


class StageClock:
    """Seconds per stage, accumulated by wrapping the pipeline's own functions."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.per_format: dict[str, float] = defaultdict(float)  # parse + pseudonymise, per file format

    @contextlib.contextmanager
    def wrap(self, owner: object, name: str, stage: Callable[..., str] | str) -> Iterator[None]:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                label = stage(*args, **kwargs) if callable(stage) else stage
                self.seconds[label] += time.perf_counter() - started

        setattr(owner, name, timed)
        try:
            yield
        finally:
            setattr(owner, name, original)


@contextlib.contextmanager
def instrumented(clock: StageClock) -> Iterator[None]:
    """Time parse (``sandbox.parse``: in the reader process, with the transfer of its result), check (parse +
    validate), to_staging, models per phase and linkage."""
    from eviction_prevention.intake import check, ingest
    from eviction_prevention.link import sources
    from eviction_prevention.parse import sandbox
    from eviction_prevention.publish import dbt_runner, rebuild

    with contextlib.ExitStack() as stack:  # each name where its caller looks it up
        stack.enter_context(clock.wrap(sandbox, "parse", "parse"))
        stack.enter_context(clock.wrap(ingest, "check", "_check"))
        stack.enter_context(clock.wrap(check, "to_staging", "pseudonymise"))
        stack.enter_context(clock.wrap(sources, "link_sources", "link"))
        stack.enter_context(clock.wrap(rebuild, "build_models", lambda _url, _build, layer: f"_models_{layer}"))
        stack.enter_context(clock.wrap(dbt_runner, "_manifest", "_dbt_start"))
        yield


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------------- one run


def drop_files(source: Path, sftp_root: Path) -> int:
    """Put every generated file in its partner's inbox (the partner's upload; not timed)."""
    count = 0
    for partner_dir in sorted((source / "partners").iterdir()):
        inbox = sftp_root / partner_dir.name / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        for path in sorted(partner_dir.iterdir()):
            shutil.copyfile(path, inbox / path.name)
            count += 1
    return count


def _ingest_partner(partner: Any, server: Any, url: str, clock: StageClock) -> list[dict]:
    from eviction_prevention.intake import fetch, ingest

    with server.session(partner.code) as sftp:
        started = time.perf_counter()
        fetched = fetch.fetch_new_files(partner, sftp, sleep=lambda _s: None)
        clock.seconds["download"] += time.perf_counter() - started
    before = {k: clock.seconds[k] for k in ("parse", "pseudonymise")}
    started = time.perf_counter()
    outcomes = ingest.ingest_files(partner, fetched, BENCH_KEY.encode(), url, vault_key=BENCH_VAULT_KEY.encode())
    clock.seconds["_ingest"] += time.perf_counter() - started
    spent = sum(clock.seconds[k] - before[k] for k in before)
    clock.per_format[partner.layout.format] += spent
    return outcomes


def run_stages(source: Path, home: Path, url: str | None = None) -> dict[str, Any]:
    """Download, ingest and publish everything under ``source`` into ``url`` (an empty warehouse), by
    default a fresh DuckDB file under ``home``."""
    from eviction_prevention.partners import load_partners
    from eviction_prevention.publish import rebuild

    from devtools.sftp_server import ServerProcess

    shutil.rmtree(home, ignore_errors=True)
    url = url or f"duckdb:///{home / 'warehouse.duckdb'}"
    partners = load_partners()
    drop_files(source, home / "sftp")
    clock = StageClock()
    outcomes: list[dict] = []
    # The partners' server runs in a process of its own, as it would in production: its CPU is not ours.
    with instrumented(clock), ServerProcess(home / "sftp", bench_home() / "keys", [p.code for p in partners]) as server:
        for partner in partners:
            outcomes += _ingest_partner(partner, server, url, clock)
        started = time.perf_counter()
        published = rebuild.publish(url, key=BENCH_KEY.encode())
        clock.seconds["_publish"] += time.perf_counter() - started
    rejected = [o["remote_name"] for o in outcomes if o["status"] != "loaded"]
    if rejected:
        raise RuntimeError(f"bench files not loaded: {rejected}")
    return {"clock": clock, "rows_loaded": sum(o["rows_loaded"] for o in outcomes), "published": published}


def stage_table(clock: StageClock, rows: int) -> dict[str, dict[str, float]]:
    s = clock.seconds
    seconds = {
        "download": s["download"],
        "parse": s["parse"],
        "validate": s["_check"] - s["parse"],
        "pseudonymise": s["pseudonymise"],
        "load": s["_ingest"] - s["_check"] - s["pseudonymise"],
        "dbt_start": s["_dbt_start"],
        "case_building": s["_models_intermediate"] - s["_dbt_start"],
        "link": s["link"],
        "publish": s["_publish"] - s["_models_intermediate"] - s["link"],
    }
    return {k: {"seconds": round(v, 3), "rows": rows} for k, v in seconds.items()}


def run_one(rows: int, seed: int, baselines: bool, pg_url: str | None = None) -> dict[str, Any]:
    """One N in this process, on DuckDB or (``pg_url``) PostgreSQL: stages, then (optionally) the
    baselines on the same files."""
    source = data_dir(rows, seed)
    summary = json.loads((source / "summary.json").read_text())
    delivered = summary["corporation"] + summary["social_team"] + summary["sdd"]
    warehouse = "postgres" if pg_url else "duckdb"
    result = run_stages(source, bench_home() / f"run-{warehouse}-{rows}", pg_url)
    clock: StageClock = result["clock"]
    stages = stage_table(clock, delivered)
    run: dict[str, Any] = {
        "warehouse": warehouse,
        "arrears_rows": rows,
        "delivered_rows": delivered,
        "rows_loaded": result["rows_loaded"],
        "stages": stages,
        "total_seconds": round(sum(v["seconds"] for v in stages.values()), 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "links": result["published"].get("links"),
        "parse_pseudonymise_seconds_by_format": {k: round(v, 3) for k, v in clock.per_format.items()},
    }
    if baselines:
        from devtools import bench_baselines

        run["baselines"] = bench_baselines.run_all(source, clock.per_format.get("csv", 0.0), BENCH_KEY.encode())
    return run


# ------------------------------------------------------------------------------------------- PostgreSQL


def _server_url(url: str, database: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).set(database=database).render_as_string(hide_password=False)


@contextlib.contextmanager
def pg_warehouse(rows: int) -> Iterator[str]:
    """An empty PostgreSQL warehouse for one run: ``EVICTION_PREVENTION_BENCH_PG_URL`` emptied of the
    pipeline's tables, else a fresh database on 127.0.0.1:5432, dropped after the run."""
    import sqlalchemy as sa
    from eviction_prevention import warehouse
    from eviction_prevention.publish import models, write_audit_publish

    given = os.environ.get(PG_URL_ENV)
    if given:
        with warehouse.connect(given) as conn:
            for table in warehouse.schema_tables():
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {table} CASCADE"))
            for view in models.model_names():
                conn.execute(sa.text(f"DROP VIEW IF EXISTS {view} CASCADE"))
            for schema in write_audit_publish.slot_schemas(warehouse.current_schema(conn)):
                conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        yield given
        return
    name = f"eviction_prevention_bench_{rows}_{os.getpid()}"
    admin = sa.create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        yield _server_url(PG_SERVER_URL, name)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


# ------------------------------------------------------------------------------------------- Airflow


def run_airflow(rows: int, seed: int) -> dict[str, Any]:
    """The same files through ``airflow dags test`` (partner_intake, then publish_referrals)."""
    from eviction_prevention.partners import load_partners

    from devtools import airflow_env
    from devtools.sftp_server import EmbeddedSFTPServer, ensure_keys

    home = bench_home() / f"airflow-{rows}"
    for sub in ("sftp", "landing", "logs", "warehouse.duckdb", "warehouse.duckdb.wal"):
        target = home / sub
        shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
    users = [p.code for p in load_partners()]
    keys = ensure_keys(bench_home() / "keys", users)
    drop_files(data_dir(rows, seed), home / "sftp")
    log_file = home / "logs" / "bench-airflow.log"
    with EmbeddedSFTPServer(home / "sftp", keys, users) as server:
        extra = {
            settings.KEY_ENV: BENCH_KEY,
            settings.VAULT_KEY_ENV: BENCH_VAULT_KEY,
            "EVICTION_PREVENTION_WAREHOUSE_URL": f"duckdb:///{home / 'warehouse.duckdb'}",
            "EVICTION_PREVENTION_PARTNERS": os.environ["EVICTION_PREVENTION_PARTNERS"],
            **airflow_env.sftp_connections("127.0.0.1", server.port, keys),
        }
        env = airflow_env.base_env(home, extra)
        airflow_env.migrate(env, log_file)
        cli_seconds = {}
        for dag_id in ("partner_intake", "publish_referrals"):
            started = time.perf_counter()
            airflow_env.dags_test(dag_id, env, log_file, "2026-11-02T06:00:00+00:00")
            cli_seconds[dag_id] = round(time.perf_counter() - started, 3)
    seconds = dag_run_seconds(home / "airflow" / "airflow.db")
    return {"arrears_rows": rows, "dags": seconds, "total_seconds": round(sum(seconds.values()), 3),
            "cli_seconds": cli_seconds, "cli_total_seconds": round(sum(cli_seconds.values()), 3)}  # fmt: skip


def dag_run_seconds(metadata_db: Path) -> dict[str, float]:
    """Per DAG, the last run's duration as Airflow records it: from the run's creation to its end.

    This is the pipeline's time through Airflow (its executor, task runner, XComs, Asset events). It leaves
    out what only the ``airflow dags test`` command pays before a run exists (starting Python, importing
    Airflow, parsing the DAG file: about 9 s per DAG here), which a running scheduler does not pay per run."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(metadata_db)) as db:
        rows = db.execute(
            "SELECT dag_id, created_at, end_date FROM dag_run AS r "
            "WHERE id = (SELECT max(id) FROM dag_run WHERE dag_id = r.dag_id)"
        ).fetchall()
    return {
        dag_id: round((dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(created)).total_seconds(), 3)
        for dag_id, created, end in sorted(rows)
    }


def dag_parse_seconds() -> dict[str, float]:
    """Seconds to execute each DAG file in a fresh interpreter that has imported Airflow's SDK already
    (as the DAG processor has)."""
    code = (
        "import sys, time, runpy, airflow.sdk\n"
        "t = time.perf_counter(); runpy.run_path(sys.argv[1]); print(time.perf_counter() - t)"
    )
    env = dict(os.environ, GX_ANALYTICS_ENABLED="False", AIRFLOW__CORE__LOAD_EXAMPLES="False")
    out = {}
    for path in sorted((settings.REPO_ROOT / "dags").glob("*.py")):
        proc = subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True,
                              check=True)  # fmt: skip
        out[path.name] = round(float(proc.stdout.strip().splitlines()[-1]), 3)
    return out


# ------------------------------------------------------------------------------------------- report


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def runs_on(results: dict[str, Any], warehouse: str) -> list[dict[str, Any]]:
    """The runs on one warehouse (a run without ``warehouse``, from before issue 14, is DuckDB's)."""
    return [r for r in results["runs"] if r.get("warehouse", "duckdb") == warehouse]


def linearity(runs: list[dict[str, Any]]) -> dict[str, float | None]:
    """Seconds per row of the largest N over that of the smallest N, per stage (runs on one warehouse)."""
    small, large = min(runs, key=lambda r: r["arrears_rows"]), max(runs, key=lambda r: r["arrears_rows"])
    out = {}
    for stage in STAGES:
        a, b = small["stages"][stage], large["stages"][stage]
        out[stage] = _ratio(b["seconds"] / b["rows"], a["seconds"] / a["rows"]) if a["seconds"] else None
    return out


def postgres_over_duckdb(results: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Per N run on both warehouses: PostgreSQL's seconds over DuckDB's, per stage and in total."""
    duck = {r["arrears_rows"]: r for r in runs_on(results, "duckdb")}
    out = {}
    for pg in runs_on(results, "postgres"):
        dd = duck.get(pg["arrears_rows"])
        if dd is None:
            continue
        ratios = {st: _ratio(pg["stages"][st]["seconds"], dd["stages"][st]["seconds"]) for st in STAGES}
        out[str(pg["arrears_rows"])] = {**ratios, "total": _ratio(pg["total_seconds"], dd["total_seconds"])}
    return out


def table(results: dict[str, Any]) -> str:
    """Stage seconds per N and warehouse side by side, with PostgreSQL / DuckDB per N run on both."""
    ratios = results.get("summary", {}).get("postgres_over_duckdb", {})
    columns: list[tuple[str, Callable[[str], str]]] = []
    for rows in sorted({r["arrears_rows"] for r in results["runs"]}):
        for run in sorted((r for r in results["runs"] if r["arrears_rows"] == rows), key=lambda r: r["warehouse"]):
            columns.append((f"{rows:,} {run['warehouse']}", _run_cells(run)))
        if str(rows) in ratios:
            columns.append((f"{rows:,} pg/duck", lambda key, r=ratios[str(rows)]: _cell(r.get(key), "x")))
    width = max([20] + [len(title) + 2 for title, _ in columns])
    lines = [f"{'':<14}" + "".join(f"{title:>{width}}" for title, _ in columns)]
    lines.append("-" * len(lines[0]))
    for key in (*STAGES, "total", "peak RSS MB", "rows (all)"):
        lines.append(f"{key:<14}" + "".join(f"{cell(key):>{width}}" for _, cell in columns))
    for key, value in results.get("summary", {}).items():
        lines.append(f"{key}: {json.dumps(value)}")
    return "\n".join(lines)


def _cell(value: float | None, unit: str) -> str:
    return "" if value is None else f"{value:.2f}{unit}"


def _run_cells(run: dict[str, Any]) -> Callable[[str], str]:
    """A column of the table: seconds and rows/s per stage, the run's totals."""

    def cell(key: str) -> str:
        if key == "total":
            return f"{run['total_seconds']:.2f} s"
        if key == "peak RSS MB":
            return f"{run['peak_rss_mb']:.0f}"
        if key == "rows (all)":
            return f"{run['delivered_rows']:,}"
        stage = run["stages"][key]
        rate = stage["rows"] / stage["seconds"] if stage["seconds"] else 0
        return f"{stage['seconds']:.2f} s {rate:>9,.0f}/s"

    return cell


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for warehouse in WAREHOUSES:
        runs = runs_on(results, warehouse)
        if not runs:
            continue
        largest = max(runs, key=lambda r: r["arrears_rows"])
        out[warehouse] = {
            "linearity_s_per_row_largest_over_smallest": linearity(runs) if len(runs) > 1 else {},
            "largest": {k: largest[k] for k in ("arrears_rows", "total_seconds", "peak_rss_mb")},
        }
    out["postgres_over_duckdb"] = postgres_over_duckdb(results)
    base = results.get("baselines", {})
    if "linkage" in base:
        out["linkage_ours_over_splink"] = base["linkage"].get("ours_over_splink")
        out["candidate_pairs_per_record"] = base["linkage"].get("ours", {}).get("pairs_per_record")
    if "csv_floor" in base:
        out["parse_pseudonymise_over_duckdb_csv"] = base["csv_floor"].get("ours_over_duckdb")
    duck = runs_on(results, "duckdb")
    if "airflow" in results and duck:
        small = min(duck, key=lambda r: r["arrears_rows"])
        out["airflow_over_in_process"] = _ratio(results["airflow"]["total_seconds"], small["total_seconds"])
        if "cli_total_seconds" in results["airflow"]:
            out["airflow_cli_over_in_process"] = _ratio(results["airflow"]["cli_total_seconds"], small["total_seconds"])
    return out


def target_checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issues 7 and 14 that this run measured: the value, the limit and whether it is met."""
    checks: list[dict[str, Any]] = []

    def check(target: str, value: float | None, limit: float) -> None:
        checks.append({"target": target, "value": value, "limit": limit, "met": value is not None and value <= limit})

    summary = results.get("summary", {})
    for warehouse in WAREHOUSES:
        million = [r for r in runs_on(results, warehouse) if r["arrears_rows"] == 1_000_000]
        if million and warehouse == "duckdb":
            check("duckdb 1M rows end to end, seconds", million[0]["total_seconds"], TARGETS["total_seconds_1m"])
        if million:
            check(f"{warehouse} 1M rows peak RSS, MB", million[0]["peak_rss_mb"], TARGETS["peak_rss_mb_1m"])
        linear = summary.get(warehouse, {}).get("linearity_s_per_row_largest_over_smallest", {})
        ratios = [v for v in linear.values() if v is not None]
        if ratios:
            check(f"{warehouse} s/row largest N over smallest, worst stage", max(ratios), TARGETS["linearity"])
    pg_1m = summary.get("postgres_over_duckdb", {}).get(str(1_000_000))
    if pg_1m:
        check("postgres 1M end to end over duckdb", pg_1m["total"], TARGETS["postgres_over_duckdb_1m"])
    if summary.get("parse_pseudonymise_over_duckdb_csv") is not None:
        check("parse + pseudonymise over DuckDB CSV read", summary["parse_pseudonymise_over_duckdb_csv"],
              TARGETS["csv_floor"])  # fmt: skip
    if summary.get("airflow_over_in_process") is not None:
        check("Airflow (DAG runs) over in-process, smallest N", summary["airflow_over_in_process"],
              TARGETS["airflow_over_in_process"])  # fmt: skip
    if summary.get("candidate_pairs_per_record") is not None:
        check("linkage candidate pairs per record", summary["candidate_pairs_per_record"], TARGETS["pairs_per_record"])
    if summary.get("linkage_ours_over_splink") is not None:
        check("linkage seconds, ours over splink", summary["linkage_ours_over_splink"], 1.0)
    if results.get("dag_parse_seconds"):
        check("DAG file parse, slowest file, seconds", max(results["dag_parse_seconds"].values()),
              TARGETS["dag_parse_seconds"])  # fmt: skip
    return checks


def targets_table(checks: list[dict[str, Any]]) -> str:
    lines = [f"{'target':<48}{'value':>10}{'limit':>10}  result"]
    for c in checks:
        lines.append(f"{c['target']:<48}{c['value']:>10}{c['limit']:>10}  {'met' if c['met'] else 'NOT MET'}")
    return "\n".join(lines)


def _child(rows: int, seed: int, baselines: bool, out: Path, pg_url: str | None) -> dict[str, Any]:
    args = [sys.executable, "-m", "devtools.bench", "--child", str(rows), "--seed", str(seed),
            "--out", str(out)] + (["--baselines"] if baselines else [])  # fmt: skip
    env = dict(os.environ, **({"EVICTION_PREVENTION_BENCH_CHILD_PG_URL": pg_url} if pg_url else {}))
    subprocess.run(args, check=True, env=env)
    return json.loads(out.read_text())


def run_child(rows: int, seed: int, baselines: bool, warehouse: str) -> dict[str, Any]:
    """One N on one warehouse in a fresh process (its own peak RSS)."""
    out = bench_home() / f"run-{warehouse}-{rows}.json"
    if warehouse == "duckdb":
        return _child(rows, seed, baselines, out, None)
    with pg_warehouse(rows) as url:
        return _child(rows, seed, baselines, out, url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Benchmark the pipeline stage by stage (see module doc).")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="arrears rows per run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--warehouse", choices=(*WAREHOUSES, "both"), default="both",
                        help=f"PostgreSQL: ${PG_URL_ENV}, else a fresh database on 127.0.0.1:5432")  # fmt: skip
    parser.add_argument("--no-airflow", action="store_true", help="skip the run through airflow dags test")
    parser.add_argument("--no-baselines", action="store_true", help="skip splink and the DuckDB CSV floor")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--baselines", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger(__name__).setLevel(logging.INFO)
    os.environ.setdefault("EVICTION_PREVENTION_PARTNERS", str(write_registry(bench_home() / "partners.yaml")))
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    if args.child:
        pg_url = os.environ.get("EVICTION_PREVENTION_BENCH_CHILD_PG_URL")
        args.out.write_text(json.dumps(run_one(args.child, args.seed, args.baselines, pg_url), indent=1))
        return
    sizes = sorted(int(s) for s in args.sizes.split(","))
    warehouses = WAREHOUSES if args.warehouse == "both" else (args.warehouse,)
    results: dict[str, Any] = {"runs": [], "baselines": {}, "machine": {"cpus": os.cpu_count()}}
    for rows in sizes:
        ensure_data(rows, args.seed)
        for warehouse in warehouses:
            baselines = not args.no_baselines and rows == sizes[-1] and warehouse == warehouses[0]
            run = run_child(rows, args.seed, baselines, warehouse)
            results["baselines"].update(run.pop("baselines", {}))
            results["runs"].append(run)
            log.info("N=%d on %s: %.1f s, peak %.0f MB", rows, warehouse, run["total_seconds"], run["peak_rss_mb"])
    if not args.no_airflow and "duckdb" in warehouses:
        results["airflow"] = run_airflow(sizes[0], args.seed)
    results["dag_parse_seconds"] = dag_parse_seconds()
    results["summary"] = summarise(results)
    results["targets"] = target_checks(results)
    (bench_home() / "results.json").write_text(json.dumps(results, indent=1))
    print(table(results))
    print(targets_table(results["targets"]))
    print(f"written to {bench_home() / 'results.json'}")


if __name__ == "__main__":
    main()
