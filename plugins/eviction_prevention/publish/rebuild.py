"""Publish: build the intermediate models, link people across sources, build the marts, audit, switch.

Everything is rebuilt from the staging tables on each run, so a rerun gives the same warehouse. The steps
(each an Airflow task of the publish DAG, and together ``publish``):

1. ``prepare``: reference data, the reference date, delivery periods; a fresh build schema
   (``write_audit_publish``).
2. ``build_models("intermediate")``: fresh PostgreSQL statistics of what they read, then dbt builds and tests
   the intermediate models in the build schema.
3. ``link``: the linkage (Python) reads them and writes ``int_links`` and ``int_persons``.
4. ``build_models("marts")``: dbt builds and tests the marts in the build schema (the audit).
5. ``publish_build``: in one transaction the warehouse's views switch to the build, and the access layer
   follows. Until then analysts see the previous build, whole.

Each step holds the publish lock while it runs and goes on only while its run holds the build
(``write_audit_publish.check_claim``): two runs that overlap never write one build, the earlier one stops
before publishing. A step rerun after the build was published writes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eviction_prevention import dutch_time, settings, warehouse
from eviction_prevention.intake import delivery_windows, locks
from eviction_prevention.link import sources
from eviction_prevention.operate import access
from eviction_prevention.partners import load_partners
from eviction_prevention.pseudonymise import keys, seal_migration
from eviction_prevention.publish import dbt_runner, models, statutory_calendar
from eviction_prevention.publish import write_audit_publish as wap

log = logging.getLogger(__name__)

PUBLISH_LOCK = "publish"
LINKAGE_TABLES = ("int_links", "int_persons")  # written by ``link``, between the two dbt steps
# What each dbt step builds and tests: the intermediate models with the tests of the sources loaded before the
# run; the marts with the tests of the linkage's output and every test that joins a mart to an intermediate
# model. Each test runs in exactly one step (tests/test_marts.py checks it). The dbt unit tests test the SQL,
# not the data: they run in the test suite, not in a publish run.
SELECTIONS = {
    "intermediate": [
        "--select", "tag:intermediate", "source:staging", "source:meta", "source:reference",
        "--indirect-selection", "cautious", "--exclude-resource-type", "unit_test",
    ],
    "marts": [
        "--select", "tag:marts", "source:linkage", "--indirect-selection", "buildable",
        "--exclude", "source:staging", "source:meta", "source:reference", "--exclude-resource-type", "unit_test",
    ],
}  # fmt: skip


@dataclass(frozen=True)
class Build:
    """One publish run's build: the warehouse's schema (sources; the views analysts query), the schema the
    run's models go to, the reference date they are computed as of, and the run's random id (its claim on the
    build schema). Names, a date and an id only: safe in XCom."""

    schema: str
    build_schema: str
    reference_date: str | None
    run_id: str

    def dbt_vars(self) -> dict[str, str]:
        return {"warehouse_schema": self.schema, "build_schema": self.build_schema}

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)


def seed_reference_data(conn: Connection) -> None:
    rows = pd.DataFrame(
        [
            {
                "municipality": name,
                "social_team": entry["social_team"],
                "no_eviction_families_with_children": bool(
                    (entry.get("policy") or {}).get("no_eviction_families_with_children", False)
                ),
            }
            for name, entry in settings.municipalities().items()
        ]
    )
    conn.execute(sa.text("DELETE FROM ref_municipalities"))
    warehouse.insert_rows(conn, "ref_municipalities", rows)


def seed_calendar(conn: Connection, rules: statutory_calendar.RuleSet | None = None) -> None:
    """Load the working-day calendar of the Algemene termijnenwet rule set into ``ref_calendar``; skipped
    when the stored calendar has the same days and the same working days (fingerprint)."""
    calendar = statutory_calendar.working_day_calendar(rules)
    stored = conn.execute(sa.text("SELECT count(*), sum(working_day_no) FROM ref_calendar")).one()
    if (stored[0], stored[1]) == (len(calendar), int(calendar["working_day_no"].sum())):
        return
    conn.execute(sa.text("DELETE FROM ref_calendar"))
    warehouse.insert_rows(conn, "ref_calendar", calendar)


def set_reference_date(conn: Connection, override: dt.date | None = None) -> dt.date | None:
    """The one reference date of a publish: ``override`` (``--reference-date``), else
    ``EVICTION_PREVENTION_REFERENCE_DATE``, else the latest snapshot date. Deadline states, delivery states
    and every "overdue now" are computed as of this date."""
    configured = settings.reference_date_override()
    if override is not None:
        reference: dt.date | None = override
    elif configured:
        reference = dt.date.fromisoformat(configured)
    else:
        reference = warehouse.as_date(
            conn.execute(
                sa.text(
                    "SELECT max(snapshot_date) FROM meta_file_ledger WHERE kind = 'corporation' AND status = 'loaded'"
                )
            ).scalar()
        )
    conn.execute(sa.text("DELETE FROM meta_parameters WHERE name = 'reference_date'"))
    conn.execute(
        sa.text("INSERT INTO meta_parameters (name, value_date) VALUES ('reference_date', :d)"), {"d": reference}
    )
    return reference


def refresh_delivery_periods(conn: Connection, reference: dt.date) -> None:
    """Every partner's expected delivery periods, evaluated as of the reference date."""
    for partner in load_partners():
        delivery_windows.refresh_delivery_periods(conn, partner, reference)


def _key_chain(key: bytes | keys.KeyChain | None) -> keys.KeyChain:
    return keys.parse_key_chain(key if key is not None else settings.pseudonym_key())


def prepare(
    url: str | None = None, reference_date: dt.date | None = None, key: bytes | keys.KeyChain | None = None
) -> Build:
    """Everything the models read besides the deliveries, as of one reference date, and a fresh build schema.

    A warehouse made before sealing is migrated first (``seal_migration``: it needs the pseudonymisation key,
    by default ``settings.pseudonym_key``). The build is claimed for this run: a run still going loses it."""
    url = url or settings.warehouse_url()
    with locks.named_lock(PUBLISH_LOCK, url), warehouse.connect(url) as conn:
        warehouse.ensure_schema(conn)
        seal_migration.migrate(conn, _key_chain(key))
        seed_reference_data(conn)
        rules = statutory_calendar.load_rules()
        seed_calendar(conn, rules)
        delivery_windows.fill_received_on(conn)
        reference = set_reference_date(conn, reference_date)
        statutory_calendar.warn_if_uncovered(reference, rules)
        refresh_delivery_periods(conn, reference or dutch_time.today())
        schema = warehouse.current_schema(conn)
        build_schema, run_id = wap.start_build(conn, schema)
    return Build(schema, build_schema, reference.isoformat() if reference else None, run_id)


def analyzed_before(layer: str) -> list[str]:
    """The tables whose PostgreSQL statistics a dbt step refreshes before it builds: for the intermediate models,
    everything loaded by the intake and by ``prepare`` (the linkage's tables get theirs from ``link``, which
    rewrites them; the marts read those and the intermediate models, which dbt analyses as it builds them)."""
    return [t for t in warehouse.schema_tables() if t not in LINKAGE_TABLES] if layer == "intermediate" else []


@contextlib.contextmanager
def step(url: str, build: Build, name: str) -> Iterator[bool]:
    """One step of ``build``'s run: holds the publish lock, checks the run still holds its build (raises
    ``write_audit_publish.BuildSuperseded`` otherwise) and yields whether the build is published already."""
    with locks.named_lock(PUBLISH_LOCK, url):
        with warehouse.connect(url) as conn:
            published = wap.check_claim(conn, build.build_schema, build.run_id)
        if published:
            log.info("%s: build %s is published already; nothing to write", name, build.build_schema)
        yield published


def build_models(url: str | None, build: Build, layer: str) -> dict[str, int]:
    """dbt builds the models of ``layer`` (intermediate, marts) in the run's build schema and runs their tests;
    a failed test fails the run before anything is published. Returns row counts per model."""
    url = url or settings.warehouse_url()
    counts: dict[str, int] = {}
    with step(url, build, f"build {layer}") as published:
        if not published:
            if tables := analyzed_before(layer):
                with warehouse.connect(url) as conn:
                    warehouse.analyze_tables(conn, tables)
            dbt_runner.invoke(url, build.schema, "build", SELECTIONS[layer], build.dbt_vars())
        with warehouse.connect(url) as conn:
            for name in models.model_names(layer):
                counts[name] = conn.execute(sa.text(f'SELECT count(*) FROM "{build.build_schema}".{name}')).scalar_one()
                log.info("model %s: %d rows", name, counts[name])
    return counts


def link(url: str | None, build: Build, key: bytes | keys.KeyChain | None = None) -> dict[str, int]:
    """The linkage of the build's intermediate models: ``int_links`` and ``int_persons``; links per type."""
    url = url or settings.warehouse_url()
    with step(url, build, "link") as published, warehouse.connect(url) as conn:
        if published:
            rows = conn.execute(sa.text("SELECT link_type, count(*) FROM int_links GROUP BY link_type")).all()
            return {str(kind): int(n) for kind, n in rows}
        counts = sources.link_sources(conn, _key_chain(key), models=build.build_schema)
        warehouse.analyze_tables(conn, LINKAGE_TABLES)  # the marts join them
    return counts


def publish_build(url: str | None, build: Build) -> int:
    """Switch the warehouse's views to the build and apply the access layer, in one transaction; returns the
    access statements run (none on DuckDB). A rerun switches to the same build again."""
    url = url or settings.warehouse_url()
    with locks.named_lock(PUBLISH_LOCK, url), warehouse.connect(url) as conn:
        wap.check_claim(conn, build.build_schema, build.run_id)
        wap.switch(conn, build.schema, build.build_schema, models.model_names())
        return access.apply_access(conn)


def publish(
    url: str | None = None, reference_date: dt.date | None = None, key: bytes | keys.KeyChain | None = None
) -> dict[str, object]:
    """Every step of a publish run, in order, as one caller (the CLI, the demo)."""
    url = url or settings.warehouse_url()
    build = prepare(url, reference_date, key)
    counts: dict[str, object] = dict(build_models(url, build, "intermediate"))
    counts["links"] = link(url, build, key)
    counts.update(build_models(url, build, "marts"))
    publish_build(url, build)
    counts["reference_date"] = build.reference_date
    return counts
