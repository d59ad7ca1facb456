"""The data dictionary documents exactly the tables and columns the SQL builds, and the docs are current."""

from __future__ import annotations

import re

import sqlalchemy as sa
from eviction_prevention import warehouse
from eviction_prevention.publish import dbt_runner, dictionary

from tests.test_scenarios import load_scenario


def test_dictionary_matches_warehouse(tmp_path, warehouse_url, key) -> None:
    load_scenario(tmp_path, warehouse_url, key, [("2024-05-31", True)])
    with warehouse.connect(warehouse_url) as conn:
        assert dictionary.mismatches(conn) == []


def test_markdown_is_generated_from_the_dictionary() -> None:
    assert dictionary.MARKDOWN.read_text(encoding="utf-8") == dictionary.render_markdown(), (
        "docs/data_dictionary.md is stale: run `eviction-prevention docs`"
    )


def test_dbt_docs_are_written_beside_the_dashboard(tmp_path, warehouse_url, key) -> None:
    """``dbt docs generate --static`` on the published warehouse: the models with their descriptions and Dutch
    terms, their columns' types from the warehouse's catalogue, and neither rows nor the connection's secrets."""
    load_scenario(tmp_path, warehouse_url, key, [("2024-05-31", True)])
    page = dbt_runner.write_docs(warehouse_url).read_text(encoding="utf-8")
    assert '"dutch_term": "casus-id huurachterstand"' in page  # mart_referrals.case_id, from the models' YAML
    # the catalogue: what analysts query (the view in the warehouse's schema) with its columns' types
    assert re.search(r'"model\.eviction_prevention\.mart_referrals": \{"metadata": \{"type": "VIEW"', page)
    assert re.search(r'"case_id": \{"type": "(VARCHAR|character varying|text)"', page)
    url = sa.make_url(warehouse_url)
    if url.password:
        assert url.password not in page
    with warehouse.connect(warehouse_url) as conn:
        tenancy_keys = [r[0] for r in conn.execute(sa.text("SELECT tenancy_key FROM mart_referrals")).fetchall()]
    assert tenancy_keys and not [k for k in tenancy_keys if k in page]
