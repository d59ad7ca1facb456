"""The dbt project's models (``sql/models/<layer>/<name>.sql``): their names by layer, and a model's SQL over
the warehouse's own tables for the one check that reads a model without building it (the intake's missed
delivery windows, ``intake.delivery_windows``)."""

from __future__ import annotations

import jinja2

from eviction_prevention import settings

MODELS_DIR = settings.SQL_DIR / "models"
LAYERS = ("intermediate", "marts")


def model_names(layer: str | None = None) -> list[str]:
    """The models of ``layer`` (intermediate, marts), or of every layer; by name."""
    layers = [layer] if layer else list(LAYERS)
    return sorted(p.stem for name in layers for p in (MODELS_DIR / name).glob("*.sql"))


def plain_sql(name: str) -> str:
    """The model's SELECT with ``source()`` and ``ref()`` resolved to unqualified table names (the connection's
    schema). Only for models that use no macro."""
    (path,) = MODELS_DIR.glob(f"*/{name}.sql")
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(path.read_text(encoding="utf-8"))
    return template.render(source=lambda _source, table: table, ref=lambda model: model).strip().rstrip(";")
