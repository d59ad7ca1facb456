"""Write-audit-publish: what analysts query changes only to a complete, tested build.

Each publish run builds every model into a fresh schema (write), runs the models' dbt tests on it (audit),
then, in one transaction, points the warehouse schema's views ``int_*`` and ``mart_*`` at it (publish). Two
build schemas take turns beside the warehouse schema, ``<schema>_build_a`` and ``<schema>_build_b``: a run
drops and recreates the one not published and builds there, so the published build is never touched until
the switch. A run that fails before the switch leaves the previous build visible, whole. (Fixed names
also keep dbt's parse of each slot valid between runs: dbt renders schema names when it parses.)

``meta_published_build`` records the build the views show. On PostgreSQL the views are ``security_invoker``,
so the row-level security on the build's tables (``operate.access``) applies to whoever queries.

A run's steps are separate processes (Airflow tasks), so no lock spans the run. Instead ``start_build`` claims
the build for the run (``meta_build_claim``: build schema and a random run id), every later step first checks
the claim (``check_claim``), and each step runs under the publish lock (``publish.rebuild``). Two runs that
overlap (a scheduled run and one by hand) therefore never write one build together: the later run's
``start_build`` takes the claim over, and the earlier run's next step stops with ``BuildSuperseded`` before
it publishes anything. A step rerun after its build was published writes nothing (the build is live).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eviction_prevention import dutch_time

log = logging.getLogger(__name__)

BUILD_INFIX = "_build_"
SLOTS = ("a", "b")


class BuildSuperseded(RuntimeError):
    """The run no longer holds its build: a later publish run has started one of its own."""


def slot_schemas(schema: str) -> list[str]:
    """The two build schemas of the warehouse schema ``schema``."""
    return [f"{schema}{BUILD_INFIX}{slot}" for slot in SLOTS]


def companion_schemas(schema: str) -> list[str]:
    """The schemas that belong to the warehouse schema ``schema``: its identity vault and its build slots
    (what to drop with it)."""
    from eviction_prevention import warehouse

    return [warehouse.vault_schema_of(schema), *slot_schemas(schema)]


def next_build_schema(schema: str, published: str | None) -> str:
    """The build schema the next run writes to: the slot of ``schema`` that is not ``published``."""
    slots = slot_schemas(schema)
    return slots[1] if published == slots[0] else slots[0]


def published_build(conn: Connection) -> str | None:
    """The build schema the warehouse's views show (none before the first publish)."""
    return conn.execute(sa.text("SELECT max(schema_name) FROM meta_published_build")).scalar()


def build_schemas(conn: Connection, schema: str) -> list[str]:
    """Every build schema of the warehouse ``schema``, published or not."""
    rows = conn.execute(sa.text("SELECT schema_name FROM information_schema.schemata"))
    return sorted({r[0] for r in rows if r[0].startswith(f"{schema}{BUILD_INFIX}")})


def _relation_types(conn: Connection, schema: str) -> dict[str, str]:
    rows = conn.execute(
        sa.text("SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = :s"), {"s": schema}
    )
    return {name: kind for name, kind in rows}


def start_build(conn: Connection, schema: str) -> tuple[str, str]:
    """A fresh build schema, claimed for a new run: every build schema but the published one is dropped (an
    earlier build, or an unfinished one of a run that failed or was superseded), and the next slot created
    empty. Returns the build schema and the run id that holds it."""
    published = published_build(conn)
    for stale in build_schemas(conn, schema):
        if stale != published:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{stale}" CASCADE'))
    build = next_build_schema(schema, published)
    conn.execute(sa.text(f'CREATE SCHEMA "{build}"'))
    run_id = uuid.uuid4().hex
    conn.execute(sa.text("DELETE FROM meta_build_claim"))
    conn.execute(
        sa.text("INSERT INTO meta_build_claim (schema_name, run_id, claimed_at) VALUES (:s, :r, :t)"),
        {"s": build, "r": run_id, "t": dutch_time.utcnow()},
    )
    return build, run_id


def check_claim(conn: Connection, build: str, run_id: str) -> bool:
    """Whether the run ``run_id``, which holds ``build``, has published it already; raises ``BuildSuperseded``
    when the run no longer holds it."""
    row = conn.execute(sa.text("SELECT schema_name, run_id, published_at FROM meta_build_claim")).first()
    if row is None or (row.schema_name, row.run_id) != (build, run_id):
        raise BuildSuperseded(
            f"build {build} of publish run {run_id[:8]} was taken over by a later publish run; "
            "this run stops without publishing (the later run publishes)"
        )
    return row.published_at is not None


def switch_statements(
    schema: str, build: str, models: Sequence[str], existing: dict[str, str], postgres: bool
) -> list[str]:
    """The statements that point ``schema``'s views for ``models`` at ``build`` (pure: testable without a
    database). ``existing``: the relations of ``schema`` by name with their type (a warehouse from before
    write-audit-publish holds the models as tables)."""
    invoker = " WITH (security_invoker = true)" if postgres else ""
    statements = []
    for model in models:
        kind = existing.get(model)
        if kind is not None:
            what = "VIEW" if kind == "VIEW" else "TABLE"
            statements.append(f'DROP {what} IF EXISTS "{schema}"."{model}" CASCADE')
        statements.append(f'CREATE VIEW "{schema}"."{model}"{invoker} AS SELECT * FROM "{build}"."{model}"')
    return statements


def switch(conn: Connection, schema: str, build: str, models: Sequence[str]) -> str | None:
    """Publish ``build``: the views of ``schema`` show its models from now on; the build they showed before is
    dropped (the next run recreates it), and the claim on ``build`` is marked published. In the caller's
    transaction (which checked the claim); returns the replaced build schema."""
    previous = published_build(conn)
    now = dutch_time.utcnow()
    postgres = conn.dialect.name == "postgresql"
    for statement in switch_statements(schema, build, models, _relation_types(conn, schema), postgres):
        conn.execute(sa.text(statement))
    conn.execute(sa.text("DELETE FROM meta_published_build"))
    conn.execute(
        sa.text("INSERT INTO meta_published_build (schema_name, published_at) VALUES (:s, :t)"), {"s": build, "t": now}
    )
    claimed = sa.text("UPDATE meta_build_claim SET published_at = :t WHERE schema_name = :s")
    conn.execute(claimed, {"s": build, "t": now})
    if previous and previous != build:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{previous}" CASCADE'))
    log.info("published build %s (%d models), replaced %s", build, len(models), previous)
    return previous
