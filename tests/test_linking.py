"""Cross-source link assembly and stable person ids (pure functions of link/sources.py)."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from eviction_prevention import warehouse
from eviction_prevention.link.link_paths import best_links, reverse, same_bsn, two_step
from eviction_prevention.link.persons import anchor_person_id, components, person_table


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


def test_components_of_long_chains_and_many_nodes():
    nodes = [f"n{i:04d}" for i in range(1000)]
    chain = [(nodes[i + 1], nodes[i]) for i in range(0, 499)]  # one path of 500 nodes, listed backwards
    groups = components(nodes, [*chain, ("n0700", "n0900"), ("n0900", "n0800")])
    assert groups[0] == nodes[:500]
    assert ["n0700", "n0800", "n0900"] in groups
    assert len(groups) == 1 + 1 + (500 - 3)  # the path, the three, the rest alone


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


D = dt.date.fromisoformat


def _sha_id(anchor: str) -> str:
    """The person id format, computed here on its own: "p" + 20 hex of sha256("person" 0x1F anchor)."""
    return "p" + hashlib.sha256(("person\x1f" + anchor).encode()).hexdigest()[:20]


def _ids(table: pd.DataFrame) -> dict[str, str]:
    return dict(zip(table["record_id"], table["person_id"], strict=True))


def _links(edges: list[tuple[str, str]]) -> list[pd.DataFrame]:
    return [pd.DataFrame(edges, columns=["left_id", "right_id"], dtype=object)]


def test_anchor_person_id_format():
    assert anchor_person_id("trivire:abc") == _sha_id("trivire:abc")
    assert anchor_person_id("x").startswith("p") and len(anchor_person_id("x")) == 21


def test_person_table():
    seen = {"t1": D("2024-01-31"), "t2": D("2024-01-31"), "c1": D("2024-03-31"), "s1": D("2024-02-29")}
    table = person_table(
        {"corporation": ["t1", "t2"], "social_team": ["c1"], "sdd": ["s1"]},
        [_pairs([("t1", "c1", 0.99)]), _pairs([("c1", "s1", 0.95)])],
        seen,
    )
    assert table["record_id"].tolist() == ["c1", "s1", "t1", "t2"]
    assert table["source_kind"].tolist() == ["social_team", "sdd", "corporation", "corporation"]
    # the person of t1, c1 and s1 is anchored on t1 (first seen), though c1 has the smallest id
    assert _ids(table) == {"t1": _sha_id("t1"), "c1": _sha_id("t1"), "s1": _sha_id("t1"), "t2": _sha_id("t2")}
    assert [warehouse.as_date(d) for d in table["first_seen"]] == [seen[r] for r in table["record_id"]]


def test_person_table_keeps_the_kind_given_last_for_an_id_given_twice():
    table = person_table({"corporation": ["x", "t1"], "sdd": ["x"]}, [], {"t1": D("2024-01-01"), "x": D("2024-01-01")})
    assert table["record_id"].tolist() == ["t1", "x"]
    assert table["source_kind"].tolist() == ["corporation", "sdd"]
    assert table["person_id"].tolist() == [_sha_id("t1"), _sha_id("x")]


def test_every_record_needs_a_first_seen_date():
    with pytest.raises(ValueError, match="1 record"):
        person_table({"corporation": ["t1", "t2"]}, [], {"t1": D("2024-01-01")})
    with pytest.raises(ValueError, match="1 record"):
        person_table({"corporation": ["t1", "t2"]}, [], {"t1": D("2024-01-01"), "t2": None})


def test_a_record_arriving_later_keeps_the_persons_id():
    """(2) a new record joins a person: the person's id does not change, even when the newcomer has the
    smallest record id."""
    before = person_table(
        {"corporation": ["t5"], "social_team": ["c7"]},
        _links([("t5", "c7")]),
        {"t5": D("2024-01-31"), "c7": D("2024-02-29")},
    )
    assert set(_ids(before).values()) == {_sha_id("t5")}
    after = person_table(
        {"corporation": ["t5"], "social_team": ["c7"], "sdd": ["a1"]},
        _links([("t5", "c7"), ("a1", "c7")]),
        {"t5": D("2024-01-31"), "c7": D("2024-02-29"), "a1": D("2024-05-31")},
    )
    assert _ids(after) == {"t5": _sha_id("t5"), "c7": _sha_id("t5"), "a1": _sha_id("t5")}


def test_merged_persons_keep_the_id_of_the_one_seen_first():
    """(3) two persons merge: the person with the earlier anchor keeps its id, whatever the record ids."""
    seen = {"b": D("2024-01-31"), "z": D("2024-02-29"), "a": D("2024-03-31"), "c": D("2024-03-31")}
    records = {"corporation": ["b", "z"], "social_team": ["a", "c"]}
    apart = _ids(person_table(records, _links([("b", "z"), ("a", "c")]), seen))
    assert apart == {"b": _sha_id("b"), "z": _sha_id("b"), "a": _sha_id("a"), "c": _sha_id("a")}
    merged = _ids(person_table(records, _links([("b", "z"), ("a", "c"), ("z", "c")]), seen))
    assert set(merged.values()) == {_sha_id("b")}
    # first seen on the same day: the smallest record id is the anchor
    tie = _ids(
        person_table({"corporation": ["q", "r"]}, _links([("r", "q")]), {"q": D("2024-01-01"), "r": D("2024-01-01")})
    )
    assert set(tie.values()) == {_sha_id("q")}


def test_a_split_part_gets_the_id_of_its_own_anchor():
    """(4) a person splits: the part with the anchor keeps the id, the other part is anchored on its own
    earliest member."""
    seen = {"t1": D("2024-01-31"), "c1": D("2024-02-29"), "s1": D("2024-03-31"), "s0": D("2024-04-30")}
    records = {"corporation": ["t1"], "social_team": ["c1"], "sdd": ["s0", "s1"]}
    whole = _ids(person_table(records, _links([("t1", "c1"), ("c1", "s1"), ("s1", "s0")]), seen))
    assert set(whole.values()) == {_sha_id("t1")}
    split = _ids(person_table(records, _links([("t1", "c1"), ("s1", "s0")]), seen))
    assert split == {"t1": _sha_id("t1"), "c1": _sha_id("t1"), "s1": _sha_id("s1"), "s0": _sha_id("s1")}


def _publish(rows: dict[str, list[dt.date]], edges: list[tuple[str, str]], stored: pd.DataFrame | None) -> pd.DataFrame:
    """One publish as link_sources does it: the records present, first seen = min(their rows, stored)."""
    seen = {r: min(days) for r, days in rows.items() if days}
    if stored is not None:
        for record, day in zip(stored["record_id"], stored["first_seen"], strict=True):
            if record in seen:
                seen[record] = min(seen[record], warehouse.as_date(day))
    present = sorted(seen)
    return person_table({"corporation": present}, _links([e for e in edges if set(e) <= set(present)]), seen)


# record -> its rows' dates, delivered in two batches
BATCH_1 = {"t1": [D("2024-03-31")], "c1": [D("2024-04-30")], "s1": [D("2024-02-29")]}
BATCH_2 = {"t1": [D("2024-01-31")], "c2": [D("2024-01-31")], "s2": [D("2024-05-31")]}
FINAL_EDGES = [("t1", "c1"), ("c1", "s1"), ("c2", "s2")]


def _union(*batches: dict[str, list[dt.date]]) -> dict[str, list[dt.date]]:
    return {r: [d for b in batches for d in b.get(r, [])] for b in batches for r in b}


def test_person_ids_do_not_depend_on_how_deliveries_were_batched():
    """(1) the same final data in one publish, or in two publishes in either order (the first on partial
    data, with a spurious link the full data no longer has): identical int_persons."""
    one = _publish(_union(BATCH_1, BATCH_2), FINAL_EDGES, None)
    assert _ids(one) == {
        "t1": _sha_id("t1"),
        "c1": _sha_id("t1"),
        "s1": _sha_id("t1"),
        "c2": _sha_id("c2"),
        "s2": _sha_id("c2"),
    }
    for first, second in [(BATCH_1, BATCH_2), (BATCH_2, BATCH_1)]:
        partial = _publish(first, [("t1", "s2"), ("c1", "s1")], None)
        final = _publish(_union(first, second), FINAL_EDGES, partial)
        pd.testing.assert_frame_equal(final, one)


def test_first_seen_memory_survives_a_retention_purge():
    """(5) retention deletes the anchor's oldest rows: the stored first_seen keeps it the anchor."""
    rows = {"t1": [D("2024-01-31"), D("2024-04-30")], "c1": [D("2024-03-31")]}
    before = _publish(rows, [("t1", "c1")], None)
    assert set(_ids(before).values()) == {_sha_id("t1")}
    purged = {"t1": [D("2024-04-30")], "c1": [D("2024-03-31")]}  # rows before 2024-04-01 deleted, but c1's
    after = _publish(purged, [("t1", "c1")], before)
    pd.testing.assert_frame_equal(after, before)
    # without the memory the anchor would move to c1: the memory is what keeps the id
    assert set(_ids(_publish(purged, [("t1", "c1")], None)).values()) == {_sha_id("c1")}
    # and an earlier stored date of a record whose rows are all gone does not count
    gone = _publish({"c1": [D("2024-03-31")]}, [], before)
    assert _ids(gone) == {"c1": _sha_id("c1")}


def _reference_person_ids(records: dict[str, list[str]], edges: list[tuple[str, str]], seen: dict) -> dict:
    """The rules of person_table, one record at a time: union-find, then per group the member with the
    smallest (first seen, record id) names the person."""
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
    out = {}
    for members in groups.values():
        anchor = min(members, key=lambda m: (seen[m], m))
        out |= {m: _sha_id(anchor) for m in members}
    return out


def test_person_ids_follow_the_rules_on_random_graphs():
    rng = np.random.default_rng(3)
    ids = [f"r{i:04d}" for i in range(600)]
    records = {"corporation": ids[:200], "social_team": ids[200:400], "sdd": ids[400:]}
    edges = list(zip(rng.choice(ids, 500).tolist(), rng.choice(ids, 500).tolist(), strict=True))
    edges += [(rng.choice(ids), "unknown")]  # a link to a record that is not a node is left out
    days = rng.integers(0, 40, len(ids))  # many ties: the record id decides them
    seen = {r: D("2024-01-01") + dt.timedelta(days=int(d)) for r, d in zip(ids, days, strict=True)}
    table = person_table(records, _links(edges), pd.Series(seen))
    assert _ids(table) == _reference_person_ids(records, edges, seen)
    assert table["person_id"].nunique() < len(ids) / 2  # the graph merged many records


def test_a_reporter_naming_a_corporation_becomes_its_code_whatever_the_spelling():
    from eviction_prevention.validate.closed_values import corporation_codes

    reporters = pd.Series(["Trivire", " trivire ", "TABLIS  WONEN", "tablis", "woonbron", "huisarts", None, "anders"])
    assert corporation_codes(reporters).tolist() == [
        "trivire", "trivire", "tablis", "tablis", "woonbron", None, None, None,
    ]  # fmt: skip
