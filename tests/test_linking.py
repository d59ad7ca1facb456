"""Cross-source link assembly and stable person ids (pure functions of linking.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from eviction_prevention import warehouse
from eviction_prevention.linking import (
    assign_person_ids,
    best_links,
    components,
    new_person_id,
    person_table,
    reverse,
    same_bsn,
    two_step,
)


def _pairs(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["left_id", "right_id", "match_probability"])


def test_two_step_multiplies_the_probabilities():
    first = _pairs([("t1", "c1", 0.99), ("t2", "c2", 0.95)])
    second = _pairs([("c1", "s1", 0.98), ("c3", "s3", 1.0)])
    path = two_step(first, second)
    assert list(zip(path["left_id"], path["right_id"], strict=True)) == [("t1", "s1")]
    assert path["match_probability"].tolist() == pytest.approx([0.99 * 0.98])
    assert two_step(first, _pairs([])).empty


def test_best_links_keeps_the_best_evidence_at_the_threshold():
    direct = _pairs([("t1", "s1", 0.40), ("t2", "s2", 0.95), ("t3", "s3", 0.2)])
    path = _pairs([("t1", "s1", 0.97), ("t3", "s3", 0.5)])
    links = best_links([direct, path], 0.9)
    assert links.values.tolist() == [["t1", "s1", 0.97], ["t2", "s2", 0.95]]


def test_reverse_and_same_bsn():
    assert reverse(_pairs([("a", "b", 0.9)])).values.tolist() == [["b", "a", 0.9]]
    records = pd.DataFrame({"id": ["s1", "s2", "s3", "s4"], "pk_bsn": ["x", "x", None, "y"]})
    pairs = same_bsn(records, records)
    assert sorted(zip(pairs["left_id"], pairs["right_id"], strict=True)) == [("s1", "s2"), ("s2", "s1")]
    assert set(pairs["match_probability"]) == {1.0}


def test_components():
    groups = components(["a", "b", "c", "d", "e"], [("b", "a"), ("c", "b"), ("x", "d")])
    assert groups == [["a", "b", "c"], ["d"], ["e"]]


def test_new_person_ids_are_deterministic_and_keep_earlier_ids():
    first = assign_person_ids([["t1", "c1"], ["s9"]], {})
    assert first == {"t1": new_person_id(["c1", "t1"]), "c1": new_person_id(["t1", "c1"]), "s9": new_person_id(["s9"])}
    assert first["t1"].startswith("p") and len(first["t1"]) == 21
    # an SDD record arrives and links to the person: the person keeps the id
    second = assign_person_ids([["c1", "s1", "t1"], ["s9"]], first)
    assert second["s1"] == second["t1"] == first["t1"]
    assert second["s9"] == first["s9"]


def test_merged_and_split_persons():
    previous = {"a": "pA", "b": "pA", "c": "pC"}
    merged = assign_person_ids([["a", "b", "c"]], previous)
    assert set(merged.values()) == {"pA"}  # the id most members had
    split = assign_person_ids([["a"], ["b", "x"]], {"a": "pA", "b": "pA"})
    assert split["b"] == split["x"] == "pA"  # the larger group keeps the id
    assert split["a"] == new_person_id(["a"])


def test_person_table():
    table = person_table(
        {"corporation": ["t1", "t2"], "social_team": ["c1"], "sdd": ["s1"]},
        [_pairs([("t1", "c1", 0.99)]), _pairs([("c1", "s1", 0.95)])],
        {},
    )
    assert table["record_id"].tolist() == ["c1", "s1", "t1", "t2"]
    assert table["source_kind"].tolist() == ["social_team", "sdd", "corporation", "corporation"]
    ids = dict(zip(table["record_id"], table["person_id"], strict=True))
    assert ids["t1"] == ids["c1"] == ids["s1"] != ids["t2"]


def test_components_of_long_chains_and_many_nodes():
    nodes = [f"n{i:04d}" for i in range(1000)]
    chain = [(nodes[i + 1], nodes[i]) for i in range(0, 499)]  # one path of 500 nodes, listed backwards
    groups = components(nodes, [*chain, ("n0700", "n0900"), ("n0900", "n0800")])
    assert groups[0] == nodes[:500]
    assert ["n0700", "n0800", "n0900"] in groups
    assert len(groups) == 1 + 1 + (500 - 3)  # the path, the three, the rest alone


def test_person_table_keeps_the_kind_given_last_for_an_id_given_twice():
    table = person_table({"corporation": ["x", "t1"], "sdd": ["x"]}, [], {"t1": "pOLD"})
    assert table["record_id"].tolist() == ["t1", "x"]
    assert table["source_kind"].tolist() == ["corporation", "sdd"]
    assert table["person_id"].tolist() == ["pOLD", new_person_id(["x"])]


def test_read_frame_gives_the_dtypes_of_the_rows(duckdb_url):
    """On DuckDB read_frame comes through Arrow; the frame must be what the DB-API rows give."""
    with warehouse.connect(duckdb_url) as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE t AS SELECT * FROM (VALUES "
                "(1, 'a', TRUE, DATE '2024-01-31', 1.5, TIMESTAMP '2024-01-31 10:00', NULL, 7), "
                "(NULL, NULL, NULL, NULL, NULL, NULL, NULL, 8)) v(i, s, b, d, f, ts, n, k)"
            )
        )
        for sql in [
            "SELECT * FROM t",
            "SELECT * FROM t WHERE k = :k",
            "SELECT k, s FROM t WHERE k = 7",
            "SELECT * FROM t WHERE k < 0",
            "SELECT k, sum(k) AS total FROM t GROUP BY k",  # HUGEINT: not through Arrow
        ]:
            result = conn.execute(sa.text(sql), {"k": 8})
            rows = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
            frame = warehouse.read_frame(conn, sql, k=8)
            pd.testing.assert_frame_equal(frame, rows, check_exact=True)
            for column in frame.columns:
                if frame[column].dtype == object:
                    assert frame[column].map(type).tolist() == rows[column].map(type).tolist()


def _reference_person_ids(records: dict[str, list[str]], edges: list[tuple[str, str]], previous: dict) -> dict:
    """The rules of assign_person_ids, one record at a time (union-find, then claims in order)."""
    parent = {r: r for ids in records.values() for r in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges:
        if a in parent and b in parent:
            ra, rb = find(a), find(b)
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for r in sorted(parent):
        groups.setdefault(find(r), []).append(r)
    claims = []
    for members in groups.values():
        counts: dict[str, int] = {}
        for m in members:
            if m in previous:
                counts[previous[m]] = counts.get(previous[m], 0) + 1
        if counts:
            claims.append((-len(members), members[0], min(counts, key=lambda p: (-counts[p], p))))
    taken: dict[str, str] = {}
    for _, first, pid in sorted(claims):
        taken.setdefault(pid, first)
    owner = {first: pid for pid, first in taken.items()}
    return {m: owner.get(members[0]) or new_person_id(members) for members in groups.values() for m in members}


def test_person_ids_follow_the_rules_on_random_merges_and_splits():
    rng = np.random.default_rng(3)
    ids = [f"r{i:04d}" for i in range(600)]
    records = {"corporation": ids[:200], "social_team": ids[200:400], "sdd": ids[400:]}
    edges = list(zip(rng.choice(ids, 500).tolist(), rng.choice(ids, 500).tolist(), strict=True))
    previous = {r: f"p{rng.integers(0, 150):03d}" for r in rng.choice(ids, 400, replace=False).tolist()}
    table = person_table(records, [pd.DataFrame(edges, columns=["left_id", "right_id"])], previous)
    assert dict(zip(table["record_id"], table["person_id"], strict=True)) == _reference_person_ids(
        records, edges, previous
    )
