"""The analysts' data dictionary: the dbt project's documentation (the models' and sources' YAML, English with
the Dutch term in ``config.meta.dutch_term``), read from dbt's manifest and rendered to docs/data_dictionary.md."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy.engine import Connection

from eviction_prevention import settings, warehouse

MARKDOWN = settings.REPO_ROOT / "docs" / "data_dictionary.md"
LAYER_ORDER = ["mart", "intermediate", "staging", "reference", "meta"]
LAYER_OF_PREFIX = {"mart_": "mart", "int_": "intermediate", "stg_": "staging", "ref_": "reference", "meta_": "meta"}


@dataclass(frozen=True)
class Table:
    name: str
    layer: str
    description: str
    columns: dict[str, tuple[str, str]]  # column -> (English description, Dutch term)


def _layer(name: str) -> str:
    return next(layer for prefix, layer in LAYER_OF_PREFIX.items() if name.startswith(prefix))


def _table(node: object) -> Table:
    columns = {}
    for name, column in node.columns.items():  # type: ignore[attr-defined]
        meta = column.config.meta or column.meta
        if "dutch_term" not in meta:
            raise ValueError(f"{node.name}.{name}: no Dutch term (config.meta.dutch_term)")  # type: ignore[attr-defined]
        columns[name] = (column.description, meta["dutch_term"])
    return Table(node.name, _layer(node.name), node.description, columns)  # type: ignore[attr-defined]


@lru_cache(maxsize=1)
def tables() -> dict[str, Table]:
    """Every documented table: the dbt project's sources and models, by name."""
    from eviction_prevention.publish import dbt_runner

    parsed = dbt_runner.manifest()
    nodes = list(parsed.sources.values()) + [n for n in parsed.nodes.values() if n.resource_type == "model"]
    return {t.name: t for t in map(_table, nodes)}


def table_columns(name: str) -> dict[str, tuple[str, str]]:
    """Documented columns of a table, in their YAML order."""
    return tables()[name].columns


def render_markdown() -> str:
    documented = tables()
    lines = [
        "# Data dictionary",
        "",
        "Generated from the dbt project's YAML (`sql/models/**/_*.yml`) by `eviction-prevention docs`; do not edit",
        "by hand. Layers: `mart_*` for analysts, `int_*` intermediate, `stg_*` staging (pseudonymised deliveries),",
        "`ref_*` reference data, `meta_*` pipeline bookkeeping. Direct identifiers never reach the warehouse.",
    ]
    for layer in LAYER_ORDER:
        for name in sorted(n for n, t in documented.items() if t.layer == layer):
            table = documented[name]
            lines += ["", f"## `{name}` ({layer})", "", table.description, ""]
            lines += ["| column | description | Dutch term |", "|---|---|---|"]
            for column, (english, dutch) in table.columns.items():
                lines.append(f"| `{column}` | {english} | {dutch} |")
    return "\n".join(lines) + "\n"


def mismatches(conn: Connection) -> list[str]:
    """Differences between the dictionary and the warehouse's tables and views (empty when they agree)."""
    problems = []
    documented = set(tables())
    actual = {r[0] for r in conn.exec_driver_sql("SELECT table_name FROM information_schema.tables")}
    actual = {t for t in actual if t.split("_", 1)[0] in {"mart", "int", "stg", "ref", "meta"}}
    problems += [f"table {t} is not documented" for t in sorted(actual - documented)]
    problems += [f"documented table {t} does not exist" for t in sorted(documented - actual)]
    for table in sorted(actual & documented):
        have = set(warehouse.table_columns(conn, table))
        described = set(table_columns(table))
        problems += [f"{table}.{c} is not documented" for c in sorted(have - described)]
        problems += [f"{table}.{c} is documented but does not exist" for c in sorted(described - have)]
    return problems
