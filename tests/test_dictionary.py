"""The data dictionary documents exactly the tables and columns the SQL builds, and the docs are current."""

from __future__ import annotations

from eviction_prevention import warehouse
from eviction_prevention.publish import dictionary

from tests.test_scenarios import load_scenario


def test_dictionary_matches_warehouse(tmp_path, warehouse_url, key) -> None:
    load_scenario(tmp_path, warehouse_url, key, [("2024-05-31", True)])
    with warehouse.connect(warehouse_url) as conn:
        assert dictionary.mismatches(conn) == []


def test_markdown_is_generated_from_the_dictionary() -> None:
    assert dictionary.MARKDOWN.read_text(encoding="utf-8") == dictionary.render_markdown(), (
        "docs/data_dictionary.md is stale: run `eviction-prevention docs`"
    )
