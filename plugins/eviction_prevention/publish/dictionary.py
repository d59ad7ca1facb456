"""The analysts' data dictionary: sql/dictionary.yml rendered to docs/data_dictionary.md."""

from __future__ import annotations

from functools import lru_cache

import yaml
from sqlalchemy.engine import Connection

from eviction_prevention import settings, warehouse

DICTIONARY = settings.SQL_DIR / "dictionary.yml"
MARKDOWN = settings.REPO_ROOT / "docs" / "data_dictionary.md"
LAYER_ORDER = ["mart", "intermediate", "staging", "reference", "meta"]


@lru_cache(maxsize=1)
def load() -> dict:
    with open(DICTIONARY, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def table_columns(name: str) -> dict[str, list[str]]:
    """Documented columns of a table: its included groups, then its own columns."""
    spec = load()["tables"][name]
    columns: dict[str, list[str]] = {}
    for group in spec.get("include", []):
        columns.update(load()["groups"][group])
    columns.update(spec.get("columns") or {})
    malformed = [c for c, entry in columns.items() if len(entry) != 2]
    if malformed:
        raise ValueError(f"{name}: entries must be [English, Dutch] (quote texts with commas): {malformed}")
    return columns


def render_markdown() -> str:
    tables = load()["tables"]
    lines = [
        "# Data dictionary",
        "",
        "Generated from `sql/dictionary.yml` by `eviction-prevention docs`; do not edit by hand.",
        "Layers: `mart_*` for analysts, `int_*` intermediate, `stg_*` staging (pseudonymised deliveries),",
        "`ref_*` reference data, `meta_*` pipeline bookkeeping. Direct identifiers never reach the warehouse.",
    ]
    for layer in LAYER_ORDER:
        for name in sorted(n for n, spec in tables.items() if spec["layer"] == layer):
            lines += ["", f"## `{name}` ({layer})", "", tables[name]["description"], ""]
            lines += ["| column | description | Dutch term |", "|---|---|---|"]
            for column, (english, dutch) in table_columns(name).items():
                lines.append(f"| `{column}` | {english} | {dutch} |")
    return "\n".join(lines) + "\n"


def mismatches(conn: Connection) -> list[str]:
    """Differences between the dictionary and the warehouse's tables (empty when they agree)."""
    problems = []
    documented = set(load()["tables"])
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
