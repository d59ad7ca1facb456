"""dbt, in this process, on the pipeline's own warehouse: the SQL layer (``sql/``, a dbt project) is built
and tested by dbt-core with dbt-duckdb or dbt-postgres.

The profile (``sql/profiles.yml``) is filled from the warehouse URL for the length of one invocation
(``profile_environment``): the same database and schema as every other step, the password from the URL
(an Airflow connection or the environment), never from a file. The project is parsed once per process and
the manifest reused, so each invocation pays only for its own nodes. dbt prints errors only and keeps no log
file; each node's outcome is logged here (name, status, seconds): never a row.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from eviction_prevention import gc_tuning, settings, warehouse

log = logging.getLogger(__name__)

PROJECT_DIR = settings.SQL_DIR
ENV_PREFIX = "EVICTION_PREVENTION_DBT_"
_lock = threading.Lock()  # one dbt invocation at a time: the profile lives in the environment meanwhile
_manifests: dict[str, Any] = {}  # parsed projects by rendering and variables (both build slots of a warehouse)
MANIFESTS_KEPT = 4
COLUMN_RULES = "column_rules"  # the project's test of a table's column rules in one scan (sql/tests/generic)


class DbtError(RuntimeError):
    """A dbt invocation that failed: the nodes that errored or failed, by name (no data)."""


@dataclass(frozen=True)
class NodeResult:
    name: str
    kind: str  # model / test / unit_test
    status: str  # success / pass / error / fail / warn / skipped
    failures: int | None
    seconds: float


def profile_environment(url: str, schema: str) -> dict[str, str]:
    """The variables ``sql/profiles.yml`` reads, for the warehouse at ``url`` working in ``schema``."""
    parsed = sa.make_url(url)
    env = {f"{ENV_PREFIX}SCHEMA": schema}
    if parsed.get_backend_name() == "duckdb":
        env |= {
            f"{ENV_PREFIX}TARGET": "duckdb",
            f"{ENV_PREFIX}DUCKDB_PATH": str(parsed.database),
            f"{ENV_PREFIX}DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit(),
        }
        return env
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"dbt: unsupported warehouse {parsed.get_backend_name()}")
    return env | {
        f"{ENV_PREFIX}TARGET": "postgres",
        f"{ENV_PREFIX}HOST": parsed.host or "127.0.0.1",
        f"{ENV_PREFIX}PORT": str(parsed.port or 5432),
        f"{ENV_PREFIX}USER": parsed.username or "postgres",
        f"{ENV_PREFIX}PASSWORD": parsed.password or "",
        f"{ENV_PREFIX}DATABASE": parsed.database or "postgres",
    }


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _target_dir(slot: str = "parse") -> Path:
    """dbt's target folder for ``slot`` (a build schema: its parse is kept there between runs, so a run re-parses
    only what changed)."""
    return settings.home() / "dbt" / slot / "target"


def _paths(slot: str = "parse") -> list[str]:
    """Project, profile, and the target and log folders of ``slot``."""
    target = _target_dir(slot)
    return [
        "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
        "--target-path", str(target), "--log-path", str(target.parent / "logs"),
    ]  # fmt: skip


def _rendering(env: dict[str, str]) -> list[str]:
    """What of the profile the parsed project depends on: the adapter, the database's name and the schema
    (relation names are rendered at parse time). A DuckDB file elsewhere with the same name parses the same."""
    target = env[f"{ENV_PREFIX}TARGET"]
    database = env.get(f"{ENV_PREFIX}DATABASE") or Path(env[f"{ENV_PREFIX}DUCKDB_PATH"]).stem
    return [target, database, env[f"{ENV_PREFIX}SCHEMA"]]


def _manifest(env: dict[str, str], variables: str, slot: str = "parse") -> Any:
    """The project parsed for this profile and these variables (dbt renders schemas at parse time), once per
    process: the invocations of one publish run share it."""
    from dbt.cli.main import dbtRunner

    key = json.dumps([_rendering(env), variables])
    if key not in _manifests:
        # no manifest.json (~0.4 s): the parsed project stays in memory; the docs write their own
        result = dbtRunner().invoke(["parse", "--quiet", "--no-write-json", *_paths(slot), "--vars", variables])
        if not result.success:
            raise DbtError(f"dbt parse failed: {type(result.exception).__name__}")
        if len(_manifests) >= MANIFESTS_KEPT:
            _manifests.pop(next(iter(_manifests)))
        _manifests[key] = result.result
    return _manifests[key]


def manifest(url: str | None = None, schema: str = "main") -> Any:
    """The parsed project (dbt's ``Manifest``: models, sources, tests and their YAML documentation). Parsing
    opens no connection; the profile defaults to a DuckDB file under the state folder that is never created."""
    url = url or f"duckdb:///{settings.home() / 'dbt' / 'parse-only.duckdb'}"
    env = profile_environment(url, schema)
    with _lock, _environment(env):
        return _manifest(env, json.dumps({}))


def invoke(
    url: str, schema: str, command: str, args: Sequence[str] = (), variables: dict[str, str] | None = None
) -> list[NodeResult]:
    """Run ``dbt <command> <args>`` on the warehouse (``command``: e.g. ``build``, ``docs generate``); returns
    each node's outcome. Raises ``DbtError`` naming the nodes that errored or failed."""
    env = profile_environment(url, schema)
    encoded = json.dumps(variables or {}, sort_keys=True)
    slot = (variables or {}).get("build_schema") or "parse"
    with _lock, _environment(env), gc_tuning.old_objects_set_aside():
        parsed = _manifest(env, encoded, slot)  # the first one imports dbt
        from dbt.cli.main import dbtRunner

        runner = dbtRunner(manifest=parsed)
        # run results and manifest files only for the docs: they cost ~0.3 s per invocation
        json_files = ["--write-json"] if command.startswith("docs") else ["--no-write-json"]
        # errors only on the console, no dbt.log: the task's own log lines (below) say what ran
        cli = [*command.split(), "--quiet", "--log-level-file", "none", *_paths(slot), "--vars", encoded]
        cli += [*json_files, *args]
        try:
            result = runner.invoke(cli)
        finally:
            if env[f"{ENV_PREFIX}TARGET"] == "duckdb":
                _release_duckdb()
    raw = getattr(result.result, "results", None) or []
    nodes = [_node_result(r) for r in raw]
    broken = {r.node.name: _broken_rules(url, r.node) for r in raw if _is_failed_column_rules(r)}
    bad = [
        f"{n.kind} {n.name}: {n.status}" + (f" ({broken[n.name]})" if broken.get(n.name) else "")
        for n in nodes
        if n.status in ("error", "fail", "runtime error")
    ]
    if not result.success:
        detail = "; ".join(bad) or (type(result.exception).__name__ if result.exception else "no node failed")
        raise DbtError(f"dbt {command} failed: {detail}")
    for n in nodes:
        log.info("dbt %s %s: %s in %.2f s", n.kind, n.name, n.status, n.seconds)
    return nodes


def _is_failed_column_rules(result: Any) -> bool:
    metadata = getattr(result.node, "test_metadata", None)
    return str(result.status) == "fail" and metadata is not None and metadata.name == COLUMN_RULES


def _broken_rules(url: str, node: Any) -> str:
    """What a failed ``column_rules`` test found: each broken rule with its offending rows ("unique case_id: 2"),
    from its compiled query run once more. Rule names and counts only: that query returns no table row."""
    try:
        with warehouse.connect(url) as conn:
            rows = conn.exec_driver_sql(node.compiled_code).all()
    except Exception as exc:  # the failure itself is reported either way
        log.warning("column rules of %s not read back: %s", node.name, type(exc).__name__)
        return ""
    return ", ".join(f"{rule}: {failures}" for rule, failures in rows)


def docs_path() -> Path:
    """Where the dbt docs page goes: beside the compliance dashboard."""
    return settings.home() / "reports" / "dbt_docs.html"


def write_docs(url: str | None = None, out_path: Path | None = None) -> Path:
    """``dbt docs generate --static`` on the published warehouse: one self-contained HTML page (models, sources,
    columns with their descriptions and Dutch terms, tests, lineage, column types from the catalogue; no rows),
    written atomically to ``out_path`` (default ``docs_path``)."""
    import shutil

    url = url or settings.warehouse_url()
    with warehouse.connect(url) as conn:
        schema = warehouse.current_schema(conn)
    invoke(url, schema, "docs generate", ["--static"])
    out_path = Path(out_path or docs_path())
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_suffix(".html.partial")
    shutil.copyfile(_target_dir() / "static_index.html", partial)
    partial.replace(out_path)
    log.info("dbt docs written: %s", out_path.name)
    return out_path


def _release_duckdb() -> None:
    """Close dbt-duckdb's database handle: it stays open after an invocation, and the pipeline's own engine
    (other settings) cannot open the same file in this process while it is."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with contextlib.suppress(Exception):  # no environment yet: nothing is open
        DuckDBConnectionManager.env().close()
    DuckDBConnectionManager.close_all_connections()


def _node_result(result: Any) -> NodeResult:
    node = result.node
    return NodeResult(
        name=node.name,
        kind=str(node.resource_type),
        status=str(result.status),
        failures=result.failures,
        seconds=float(result.execution_time or 0.0),
    )
