"""Persons: the connected components of the links over every record, each with a stable pseudonymous
``person_id`` taken from its anchor (the record seen first), for ``int_persons``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.engine import Connection

from eviction_prevention import warehouse
from eviction_prevention.link import encoding
from eviction_prevention.link.model import ArrayLike


@dataclass(frozen=True)
class RecordNodes:
    """The records of all sources as graph nodes numbered in the order of their ids (so node numbers
    compare like the ids), each with its source kind; ``numbers[kind]``: the node of each input record."""

    ids: pa.Array
    kinds: np.ndarray
    numbers: dict[str, np.ndarray]


def record_nodes(records: Mapping[str, ArrayLike]) -> RecordNodes:
    """The nodes of ``records`` (source kind -> record ids); an id given twice is one node, of the last kind."""
    arrays = [encoding.arrow_text(ids) for ids in records.values()]
    sizes = [len(a) for a in arrays]
    all_ids = pa.chunked_array([c for a in arrays for c in a.chunks], pa.large_string())
    order = pc.sort_indices(all_ids).to_numpy()  # stable: of equal ids the last given comes last
    ordered = all_ids.take(order).combine_chunks()
    first = np.ones(len(order), dtype=bool)  # first of a run of equal ids
    if len(order) > 1:
        first[1:] = pc.not_equal(ordered.slice(1), ordered.slice(0, len(order) - 1)).to_numpy(zero_copy_only=False)
    number = np.empty(len(order), dtype=np.int64)
    number[order] = np.cumsum(first) - 1
    last = np.ones(len(order), dtype=bool)  # last of a run of equal ids
    last[:-1] = first[1:]
    kinds = np.repeat(np.array(list(records), dtype=object), sizes)[order[last]]
    bounds = np.cumsum([0, *sizes])
    numbers = {kind: number[bounds[i] : bounds[i + 1]] for i, kind in enumerate(records)}
    return RecordNodes(ordered.filter(pa.array(first)), kinds, numbers)


def _edge_nodes(nodes: RecordNodes, links: Sequence[pd.DataFrame]) -> tuple[np.ndarray, np.ndarray]:
    """Links between record ids as node numbers (links to ids that are not nodes left out)."""
    frames = [f for f in links if len(f)]
    if not frames:
        return np.empty(0, np.int64), np.empty(0, np.int64)

    def lookup(column: str) -> np.ndarray:
        ids = pa.chunked_array([c for f in frames for c in encoding.arrow_text(f[column]).chunks], pa.large_string())
        return pc.fill_null(pc.index_in(ids, value_set=nodes.ids), -1).to_numpy()

    a, b = lookup("left_id"), lookup("right_id")
    known = (a >= 0) & (b >= 0)
    return a[known], b[known]


def _component_labels(n_nodes: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each node the smallest node of its connected component (edges ``a[i] - b[i]``).

    Min-label propagation over the edges with pointer jumping, vectorised: a node's label is always a node
    of its component and only decreases, and at the fixed point the component's smallest node labels
    itself and so every node (person components are small: a few rounds)."""
    label = np.arange(n_nodes)
    while True:
        low = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]
        if np.array_equal(new, label):
            return label
        label = new


def components(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Connected components, each sorted, in order of their smallest member (edges to unknown nodes ignored)."""
    graph = record_nodes({"": list(nodes)})
    links = pd.DataFrame(list(edges), columns=["left_id", "right_id"], dtype=object)
    labels = _component_labels(len(graph.kinds), *_edge_nodes(graph, [links]))
    ids = np.array(graph.ids.to_pylist(), dtype=object)
    order = np.lexsort((np.arange(len(ids)), labels))
    starts = np.flatnonzero(np.diff(labels[order], prepend=-1))
    return [list(group) for group in np.split(ids[order], starts[1:])] if len(ids) else []


def anchor_person_id(anchor: str) -> str:
    """The person id of a person anchored on the record ``anchor`` (record ids are pseudonyms, so is this)."""
    return _anchor_person_ids([anchor])[0]


def _anchor_person_ids(anchors: Iterable[str]) -> list[str]:
    """``anchor_person_id`` of many anchors at once."""
    sha256 = hashlib.sha256
    return ["p" + sha256(b"person\x1f" + rid.encode()).hexdigest()[:20] for rid in anchors]


def _anchors(labels: np.ndarray, days: np.ndarray) -> np.ndarray:
    """For each node the anchor of its component (``labels``: the component's smallest node): the member
    with the smallest (first_seen day, node number), node numbers comparing like the record ids."""
    nodes = np.arange(len(labels))
    order = np.lexsort((nodes, days, labels))  # by component, then first seen, then record id
    first = order[np.flatnonzero(np.diff(labels[order], prepend=-1))]
    anchor = np.empty(len(labels), dtype=np.int64)
    anchor[labels[first]] = first
    return anchor[labels]


def _epoch_days(dates: ArrayLike) -> pa.Array:
    """Dates (``datetime.date`` objects or datetime64) as int32 days since the epoch, missing as null."""
    values = pa.array(dates, from_pandas=True)
    if not pa.types.is_date32(values.type):
        values = pc.cast(values, pa.date32())
    return values.cast(pa.int32())


def _first_seen_days(nodes: RecordNodes, first_seen: Mapping[str, object] | pd.Series) -> np.ndarray:
    """Each node's first-seen date as days since the epoch; every node needs one."""
    if not isinstance(first_seen, pd.Series):
        first_seen = pd.Series(first_seen, dtype=object)
    at = pc.index_in(nodes.ids, value_set=encoding.arrow_text(first_seen.index).combine_chunks())
    days = _epoch_days(first_seen.array).take(at)  # null: not given, or no date
    missing = days.null_count
    if missing:  # a count only: record ids are pseudonyms, never logged
        raise ValueError(f"{missing} record(s) without a first-seen date")
    return days.to_numpy().astype(np.int64)


def persons_frame(
    nodes: RecordNodes, a: np.ndarray, b: np.ndarray, first_seen: Mapping[str, object] | pd.Series
) -> pd.DataFrame:
    """int_persons rows: each node with its person (the connected component of the edges ``a - b``), the
    person id given by the component's anchor (``_anchors``), and the node's first-seen date."""
    days = _first_seen_days(nodes, first_seen)
    anchor = _anchors(_component_labels(len(nodes.kinds), a, b), days)
    anchors, position = np.unique(anchor, return_inverse=True)
    person = np.asarray(_anchor_person_ids(nodes.ids.take(anchors).to_pylist()), dtype=object)[position]
    return pd.DataFrame(
        {
            "record_id": pd.Series(nodes.ids, dtype="str"),
            "source_kind": nodes.kinds,
            "person_id": person,
            "first_seen": days.astype("datetime64[D]"),
        }
    )


def person_table(
    records: Mapping[str, ArrayLike], links: Sequence[pd.DataFrame], first_seen: Mapping[str, object] | pd.Series
) -> pd.DataFrame:
    """int_persons rows: every record (``records``: source kind -> ids) with its person id, the person
    being the connected component of ``links`` (frames with left_id, right_id) and its id that of its anchor,
    the member first seen earliest (``first_seen``: record id -> date; ties: the smallest record id).
    Sorted by record id."""
    nodes = record_nodes(records)
    return persons_frame(nodes, *_edge_nodes(nodes, links), first_seen)


def _first_seen_sql(table: str, date_column: str) -> str:
    """Each record's earliest as-of date in ``table``, over the rows of every file that was loaded (also the
    files a correction superseded later: what was once delivered stays seen, whatever came after)."""
    return (
        f"SELECT s.partner || ':' || s.record_key AS record_id, s.{date_column} AS first_seen FROM {table} AS s "
        "JOIN meta_file_ledger AS l ON l.partner = s.partner AND l.file_id = s.file_id "
        "WHERE l.status IN ('loaded', 'superseded')"
    )


def record_first_seen(conn: Connection) -> pd.Series:
    """record id -> the earliest date the record was seen: its first snapshot (tenancy) or export (social-team
    case, SDD record) in the staging rows, or the first_seen stored in int_persons by an earlier publish if
    that is earlier (retention deletes old staging rows; an int_persons without the column has none)."""
    sources = [
        _first_seen_sql("stg_arrears_snapshots", "snapshot_date"),
        _first_seen_sql("stg_social_team_cases", "export_date"),
        _first_seen_sql("stg_sdd_records", "export_date"),
    ]
    if "first_seen" in warehouse.table_columns(conn, "int_persons"):
        sources.append("SELECT record_id, first_seen FROM int_persons")
    union = " UNION ALL ".join(sources)
    frame = warehouse.read_frame(
        conn, f"SELECT record_id, min(first_seen) AS first_seen FROM ({union}) AS seen GROUP BY record_id"
    )
    return pd.Series(frame["first_seen"].array, index=frame["record_id"], dtype=object)
