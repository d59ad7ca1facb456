"""Access control on the PostgreSQL warehouse: a schema of views per layer, roles, row-level security.

Applied at the end of every publish run (in its transaction), because the marts are rebuilt then.
Tables stay in the pipeline's schema; each layer is exposed as a schema of ``security_invoker`` views,
so table grants and row-level security apply to whoever queries. The models (``int_*``, ``mart_*``) are views
of the pipeline's schema on the published build's tables (``publish.write_audit_publish``): their grants and
row-level security are on those tables. DuckDB has no roles: nothing to do.

* engineer: every table and view, every row.
* analyst: marts and reference tables only (no staging or linkage data: no route from pseudonym to person).
* partner coordinator: ``mart_referrals`` and ``mart_worklist_overdue``, only rows of its own organisation
  (corporation code or social team), as mapped in ``ref_partner_access``.
* nobody but the pipeline's own role: the identity vault's schema (``<schema>_vault``, ``identity_vault``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eviction_prevention import settings, warehouse
from eviction_prevention.publish import models, write_audit_publish

log = logging.getLogger(__name__)

COORDINATOR_TABLES = ("mart_referrals", "mart_worklist_overdue")
ANALYST_LAYERS = ("marts", "reference")


@lru_cache(maxsize=1)
def config() -> dict:
    return settings.read_yaml(settings.CONFIG_DIR / "access.yaml")


def seed_partner_access(conn: Connection) -> None:
    rows = pd.DataFrame(
        [{"role_name": e["role"], "organisation": e["organisation"]} for e in config()["partner_access"]]
    )
    conn.execute(sa.text("DELETE FROM ref_partner_access"))
    warehouse.insert_rows(conn, "ref_partner_access", rows)


def layer_of(table: str) -> str | None:
    for layer, prefix in config()["layers"].items():
        if table.startswith(prefix):
            return layer
    return None


def _tables(conn: Connection, schema: str) -> list[str]:
    """The tables of ``schema`` and its views on the published build."""
    rows = conn.execute(
        sa.text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :s "
            "AND table_type IN ('BASE TABLE', 'VIEW')"
        ),
        {"s": schema},
    )
    return sorted(r[0] for r in rows)


def statements(base_schema: str, tables: list[str], build: str | None = None, models: Iterable[str] = ()) -> list[str]:
    """The grants, views and policies for the given tables (pure: testable without a database). ``models``:
    those of ``tables`` that are views on the tables of the published build ``build``; they get the grants
    on both, and their row-level security on the build's table."""
    roles = config()["group_roles"]
    engineer, analyst, coordinator = roles["engineer"], roles["analyst"], roles["partner_coordinator"]
    layers = list(config()["layers"])
    sql = [f"CREATE SCHEMA IF NOT EXISTS {layer}" for layer in layers]
    sql += [f"GRANT USAGE ON SCHEMA {base_schema} TO {engineer}, {analyst}, {coordinator}"]
    sql += [f"GRANT USAGE ON SCHEMA {layer} TO {engineer}" for layer in layers]
    sql += [f"GRANT USAGE ON SCHEMA {layer} TO {analyst}" for layer in ANALYST_LAYERS]
    sql += [f"GRANT USAGE ON SCHEMA marts TO {coordinator}"]
    built = {m for m in models if m in tables} if build else set()
    if built:
        sql += [f"GRANT USAGE ON SCHEMA {build} TO {engineer}, {analyst}, {coordinator}"]
    for table in tables:
        layer = layer_of(table)
        if layer is None:
            continue
        sql.append(
            f"CREATE OR REPLACE VIEW {layer}.{table} WITH (security_invoker = true) "
            f"AS SELECT * FROM {base_schema}.{table}"
        )
        readers = [engineer] + ([analyst] if layer in ANALYST_LAYERS else [])
        readers += [coordinator] if table in COORDINATOR_TABLES or table == "ref_partner_access" else []
        granted = [f"{base_schema}.{table}", f"{layer}.{table}"] + ([f"{build}.{table}"] if table in built else [])
        sql.append(f"GRANT SELECT ON {', '.join(granted)} TO {', '.join(readers)}")
    own_rows = (
        "(corporation IN (SELECT organisation FROM ref_partner_access WHERE role_name = current_user) "
        "OR team IN (SELECT organisation FROM ref_partner_access WHERE role_name = current_user))"
    )
    vault = warehouse.vault_schema_of(base_schema)
    sql.append(f"REVOKE ALL ON SCHEMA {vault} FROM PUBLIC, {engineer}, {analyst}, {coordinator}")
    for table in COORDINATOR_TABLES:
        if table not in tables:
            continue
        rows_of = f"{build}.{table}" if table in built else f"{base_schema}.{table}"
        sql += [
            f"ALTER TABLE {rows_of} ENABLE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS all_rows ON {rows_of}",
            f"CREATE POLICY all_rows ON {rows_of} FOR SELECT TO {engineer}, {analyst} USING (true)",
            f"DROP POLICY IF EXISTS own_organisation ON {rows_of}",
            f"CREATE POLICY own_organisation ON {rows_of} FOR SELECT TO {coordinator} USING {own_rows}",
        ]
    return sql


ACCESS_LOCK_NAME = "eviction_prevention:access-layers"


def apply_access(conn: Connection) -> int:
    """Create roles, layer schemas with views, grants and row-level security. Returns statements run.

    The roles and the layer schemas (``staging``, ``marts``, ...) are database-wide, so publishes take turns
    here until their transaction ends: two warehouses of one database publishing at once replaced the same
    views and deadlocked on them."""
    from eviction_prevention.intake.locks import transaction_lock

    if conn.dialect.name != "postgresql":
        return 0
    transaction_lock(conn, ACCESS_LOCK_NAME)
    seed_partner_access(conn)
    conn.exec_driver_sql((settings.SQL_DIR / "postgres" / "access_roles.sql").read_text(encoding="utf-8"))
    base = warehouse.current_schema(conn)
    todo = statements(base, _tables(conn, base), write_audit_publish.published_build(conn), models.model_names())
    for statement in todo:
        conn.exec_driver_sql(statement)
    log.info("access applied: %d statements on schema %s", len(todo), base)
    return len(todo)
