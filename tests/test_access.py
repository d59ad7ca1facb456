"""Roles on the PostgreSQL warehouse: what engineers, analysts and partner coordinators can read.

Builds the scenario warehouse in a fresh database, then connects as login roles of each group role.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from eviction_prevention.operate import access

from tests.conftest import PG_BASE_URL, unavailable
from tests.test_scenarios import load_scenario

LOGINS = {
    "eng_test": "ep_engineer",
    "analyst_test": "ep_analyst",
    "coord_trivire": "ep_partner_coordinator",
    "coord_st_zwijndrecht": "ep_partner_coordinator",
}


@pytest.fixture(scope="module")
def access_db(tmp_path_factory) -> Iterator[str]:
    name = f"ep_access_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as exc:
        admin.dispose()
        unavailable(f"PostgreSQL not reachable: {exc.__class__.__name__}")
    url = PG_BASE_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        load_scenario(tmp_path_factory.mktemp("access"), url, b"access-test-key", [("2024-05-31", True)])
        with admin.connect() as conn:
            for login, group in LOGINS.items():
                conn.exec_driver_sql(
                    f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{login}') THEN "
                    f"CREATE ROLE {login} LOGIN; END IF; END $$"
                )
                conn.exec_driver_sql(f"GRANT {group} TO {login}")
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def query(url: str, login: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(url.replace("postgres@", f"{login}@"))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def denied(url: str, login: str, sql: str) -> bool:
    try:
        query(url, login, sql)
    except sa.exc.ProgrammingError as exc:
        return "permission denied" in str(exc.orig)
    return False


def test_engineer_reads_every_layer(access_db: str) -> None:
    assert query(access_db, "eng_test", "SELECT count(*) FROM marts.mart_referrals") == [(10,)]
    assert query(access_db, "eng_test", "SELECT count(*) FROM staging.stg_arrears_snapshots")[0][0] > 0
    assert query(access_db, "eng_test", "SELECT count(*) FROM intermediate.int_links")[0][0] > 0


def test_analyst_reads_marts_only(access_db: str) -> None:
    assert query(access_db, "analyst_test", "SELECT count(*) FROM marts.mart_referrals") == [(10,)]
    assert query(access_db, "analyst_test", "SELECT count(*) FROM marts.mart_compliance_monthly") == [(6,)]
    assert denied(access_db, "analyst_test", "SELECT count(*) FROM staging.stg_arrears_snapshots")
    assert denied(access_db, "analyst_test", "SELECT count(*) FROM public.stg_arrears_snapshots")
    assert denied(access_db, "analyst_test", "SELECT count(*) FROM intermediate.int_links")
    assert denied(access_db, "analyst_test", "SELECT count(*) FROM public.int_links")


def test_partner_coordinators_see_only_their_own_rows(access_db: str) -> None:
    trivire = query(access_db, "coord_trivire", "SELECT DISTINCT corporation FROM marts.mart_referrals")
    assert trivire == [("trivire",)]
    assert query(access_db, "coord_trivire", "SELECT count(*) FROM marts.mart_referrals") == [(9,)]
    assert query(access_db, "coord_trivire", "SELECT count(*) FROM public.mart_worklist_overdue") == [(3,)]
    zwijndrecht = "SELECT DISTINCT team, count(*) FROM marts.mart_referrals GROUP BY team"
    assert query(access_db, "coord_st_zwijndrecht", zwijndrecht) == [("Sociaal Team Zwijndrecht", 2)]
    assert query(
        access_db, "coord_st_zwijndrecht", "SELECT deadline, count(*) FROM marts.mart_worklist_overdue GROUP BY 1"
    ) == [("analysis", 2)]
    assert denied(access_db, "coord_trivire", "SELECT count(*) FROM marts.mart_compliance_monthly")
    assert denied(access_db, "coord_trivire", "SELECT count(*) FROM staging.stg_arrears_snapshots")


def test_unmapped_coordinator_sees_nothing(access_db: str) -> None:
    admin = sa.create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'coord_unmapped') THEN "
            "CREATE ROLE coord_unmapped LOGIN; END IF; END $$"
        )
        conn.exec_driver_sql("GRANT ep_partner_coordinator TO coord_unmapped")
    admin.dispose()
    assert query(access_db, "coord_unmapped", "SELECT count(*) FROM marts.mart_referrals") == [(0,)]


def test_statements_cover_every_layer() -> None:
    sql = access.statements("public", ["stg_a", "int_b", "mart_referrals", "ref_c", "meta_d"])
    views = [s for s in sql if s.startswith("CREATE OR REPLACE VIEW")]
    assert [v.split()[4] for v in views] == [
        "staging.stg_a",
        "intermediate.int_b",
        "marts.mart_referrals",
        "reference.ref_c",
        "meta.meta_d",
    ]
    assert "GRANT SELECT ON public.int_b, intermediate.int_b TO ep_engineer" in sql
    assert (
        "GRANT SELECT ON public.mart_referrals, marts.mart_referrals TO ep_engineer, ep_analyst, ep_partner_coordinator"
        in sql
    )


def test_no_role_reads_the_identity_vault(access_db: str) -> None:
    """The sealed references sit in public_vault: the pipeline's role wrote them, no group role may read them."""
    admin = sa.create_engine(access_db)
    with admin.connect() as conn:
        sealed = conn.exec_driver_sql("SELECT count(*) FROM public_vault.partner_references").scalar_one()
        staged = conn.exec_driver_sql("SELECT count(*) FROM public.stg_arrears_snapshots").scalar_one()
    admin.dispose()
    assert sealed >= staged > 0
    for login in LOGINS:
        assert denied(access_db, login, "SELECT count(*) FROM public_vault.partner_references"), login


def test_two_warehouses_of_one_database_take_turns_on_the_access_layer(access_db: str) -> None:
    """The layer schemas are database-wide: a second publish's access step waits for the first to commit (it
    deadlocked with it before)."""
    import threading
    import time

    engine = sa.create_engine(access_db)
    done: list[float] = []
    try:
        with engine.connect() as first:
            first.begin()
            assert access.apply_access(first) > 0  # holds the access lock until this transaction ends

            def second() -> None:
                with engine.begin() as conn:
                    access.apply_access(conn)
                done.append(time.monotonic())

            thread = threading.Thread(target=second)
            thread.start()
            thread.join(timeout=3)
            assert done == [] and thread.is_alive()  # waiting on the first publish's lock
            committed = time.monotonic()
            first.commit()
        thread.join(timeout=60)
        assert len(done) == 1 and done[0] >= committed
    finally:
        engine.dispose()
    assert query(access_db, "analyst_test", "SELECT count(*) FROM marts.mart_referrals") == [(10,)]
