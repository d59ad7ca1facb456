"""Link records across sources on pseudonyms and write ``int_links`` and ``int_persons``.

Person-level scores come from :mod:`eviction_prevention.link.predict` (Fellegi-Sunter); this module turns them
into the links the marts use: arrears case -> social-team case, tenancy -> SDD record, social-team case
-> SDD record. The warehouse holds each row's person pseudonyms sealed (``person_seal``); the read functions
open them in memory (``sealing.unseal``, with the pseudonymisation key) right after reading, and nothing
here writes, logs or returns them.

Evidence from the third source counts too: a tenancy whose social-team case matches an SDD record (say
on the BSN pseudonym, which corporations do not have) is linked to that record with probability
p(tenancy~case) * p(case~SDD), a lower bound of the probability that both links hold; records of one
source that share a BSN pseudonym are one person. The link probability is the best of the direct and
these two-step paths, accepted at LINK_THRESHOLD.

``int_persons`` gives every tenancy, social-team case and SDD record a pseudonymous ``person_id``: the
connected components of the accepted links. The id is a function of the data, with no memory of which
deliveries were published when (a publish on partial data, say between two batches of a backfill, leaves
no trace): each record's ``first_seen`` is its earliest snapshot date (tenancy) or export date
(social-team case, SDD record) over every file loaded (also one a correction superseded later): a
minimum over a set of rows that only grows, so the same whatever the batching. A person's *anchor* is its
member with the smallest (first_seen, record id), and its id is ``"p" + sha256("person" 0x1F anchor
record id)[:20]``. So a record first seen later joins a person without changing its id (a backfill of
older records can move the anchor); when two
persons merge, the one seen first keeps its id; a part split off gets the id of its own anchor.
``first_seen`` is stored in ``int_persons`` and each publish takes the earlier of the stored and the
current date: retention deletes old staging rows, which would otherwise make a record look newer (a
minimum of minima is still order-independent). Only a person whose anchor record is deleted altogether
(no staging rows left) changes id: to that of its next anchor. Person ids derive from record pseudonyms,
so a key rotation of the stored pseudonyms (``frames.rotate_frame``) changes every one of them, as it
should (the old key no longer reproduces them); ``int_persons.record_id`` must then be rotated like the
staging tables' ``record_key`` for the stored first_seen to be found again.

Scale (a million arrears rows: over a million records, millions of candidate pairs): the sources are
read and encoded for linkage one at a time (``encoding.Encoder``), scored as row numbers two pairs of
sources at a time, and assembled on node numbers ordered like the record ids; ids are attached only to
what can become a link. Everything per record or per pair is vectorised.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.engine import Connection

from eviction_prevention import settings, warehouse
from eviction_prevention.link import blocking, clustering, encoding, predict
from eviction_prevention.link.model import ArrayLike
from eviction_prevention.pseudonymise import keys, sealing
from eviction_prevention.pseudonymise.pseudonymiser import PERSON_PSEUDONYMS
from eviction_prevention.validate.closed_values import corporation_codes

log = logging.getLogger(__name__)

# Person pseudonyms every source has (phone and e-mail only come from corporations).
PERSON_KEYS = [c for c in PERSON_PSEUDONYMS if c not in ("pk_phone", "pk_email")]
# A social-team case belongs to an arrears case when it was received this close to the corporation's report.
REPORT_MATCH_WINDOW_DAYS = 31
LINK_THRESHOLD = 0.9
# Direct links kept as steps of two-step paths (a path needs both steps; the product decides).
PATH_STEP_THRESHOLD = LINK_THRESHOLD
# Person links kept as candidates for two-step paths and person groups (those need LINK_THRESHOLD anyway).
CASE_CANDIDATE_THRESHOLD = 0.01
REPORT_DATE_CLOSE_DAYS = 3
# Assumed m-probabilities of the report-date levels: a social team registers a report within 3 days.
REPORT_DATE_M = {"close": 0.95, "window": 0.05}
# What a row's person pseudonyms are read from: the seal and its associated data (``sealing``), kept in
# staging only; the intermediate models point at their staging row (partner, file_id, source_row).
SEALED = ("record_key", "key_version", sealing.SEAL_COLUMN)


@dataclass(frozen=True)
class _Source:
    """One source as read for linkage: its other columns (``frame``), and its rows' person pseudonyms,
    opened in memory (``tokens``: raw bytes). They stay inside the linkage step: never written, logged or
    returned."""

    frame: pd.DataFrame
    tokens: sealing.Opened


def _sealed_rows(model: str, staging: str, columns: str, where: str = "") -> str:
    """The rows of an intermediate model with the seal of each (from its staging row)."""
    sealed = ", ".join(f"s.{c}" for c in SEALED)
    return (
        f"SELECT {columns}, {sealed} FROM {model} AS m JOIN {staging} AS s "
        f"ON s.partner = m.partner AND s.file_id = m.file_id AND s.source_row = m.source_row {where}"
    )


def _read_source(conn: Connection, kind: str, chain: keys.KeyChain) -> _Source:
    """The records of one source kind (``SOURCE_QUERIES``) with their seals opened. The query is read as a
    stream and each batch's seals opened as it comes, so the seals' text is never all in memory."""
    sql = SOURCE_QUERIES[kind]
    n = int(warehouse.read_frame(conn, f"SELECT count(*) AS n FROM ({sql}) AS q")["n"].iloc[0])
    if not n:  # the columns, without rows
        frame = warehouse.read_frame(conn, f"SELECT * FROM ({sql}) AS q WHERE 1 = 0").drop(columns=list(SEALED))
        return _Source(frame, sealing.open_seals([], [], [], kind, chain))
    kept: list[pa.RecordBatch] = []

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in warehouse.read_arrow_batches(conn, sql):
            kept.append(batch.drop_columns(list(SEALED)))
            yield batch

    tokens = sealing.open_seal_batches(batches(), n, kind, chain)
    frame = warehouse.frame_from_arrow(pa.Table.from_batches(kept))
    if kind == "social_team":
        # a corporation as reporter names the tenancy's corporation; a self-report, a GP or none says nothing
        frame = frame.assign(reporter=corporation_codes(frame["reporter"]))
    return _Source(frame, tokens)


# Per source kind, its records with their seals: the tenant of each tenancy as last delivered (ties: the
# latest file, then the first row), the current state of each social-team case and SDD record.
SOURCE_QUERIES = {
    "corporation": _sealed_rows(
        """(
        SELECT partner, file_id, source_row, record_key,
               row_number() OVER (PARTITION BY partner, record_key
                                  ORDER BY snapshot_date DESC, file_id, source_row) AS rn
        FROM int_arrears_snapshots
    )""",
        "stg_arrears_snapshots",
        "m.partner || ':' || m.record_key AS id",
        "WHERE m.rn = 1",
    ),
    "social_team": _sealed_rows(
        "int_social_team_cases",
        "stg_social_team_cases",
        "m.social_team_case_id AS id, m.reporter, m.report_received_date",
    ),
    "sdd": _sealed_rows("int_sdd_records", "stg_sdd_records", "m.sdd_record_id AS id"),
}


def read_sources(conn: Connection, chain: keys.KeyChain, kinds: Sequence[str]) -> Iterator[_Source]:
    """The sources ``kinds`` one after the other (``_read_source``): only one is open at a time."""
    for kind in kinds:
        yield _read_source(conn, kind, chain)


def arrears_cases(conn: Connection) -> pd.DataFrame:
    """Every arrears case with what bounds its social-team case: the corporation's report date (if any),
    the episode's first snapshot, its closing date and the closing date of the tenancy's previous case."""
    return warehouse.read_frame(
        conn,
        "SELECT case_id, corporation, corporation || ':' || tenancy_key AS tenancy_id, reported_date, first_seen, "
        "closed_date, previous_closed_date FROM int_arrears_cases",
    )


def _days(dates: pd.Series) -> np.ndarray:
    """Dates as whole days since the epoch (int64)."""
    return pd.to_datetime(dates).to_numpy().astype("datetime64[D]").astype(np.int64)


def _gap_days(reported: pd.Series, received: pd.Series) -> pd.Series:
    return (pd.to_datetime(received) - pd.to_datetime(reported)).dt.days.abs()


def _pairs_within(days: np.ndarray, case_days: np.ndarray, width: int) -> int:
    """How many (case day, day) pairs lie at most ``width`` days apart (``days`` sorted)."""
    upper = np.searchsorted(days, case_days + width, "right")
    return int((upper - np.searchsorted(days, case_days - width)).sum())


def report_date_evidence(cases: pd.DataFrame, st_cases: pd.DataFrame) -> dict[str, float]:
    """Prior and u-probabilities for case links, estimated from the data (no ground truth).

    Candidate space: pairs (reported arrears case, social-team case of the same reporter) received within
    REPORT_MATCH_WINDOW_DAYS of the report. ``prior`` = reported cases / candidate pairs (each reported
    case has at most one social-team case); ``u_close`` / ``u_far`` = share of candidate pairs received
    within REPORT_DATE_CLOSE_DAYS / further away.
    """
    reported = cases[cases["reported_date"].notna()]
    received = st_cases[st_cases["report_received_date"].notna()]
    received_days = _days(received["report_received_date"])
    close = window = 0
    for corporation, group in reported.groupby("corporation"):
        own = (received["reporter"].isna() | (received["reporter"] == corporation)).to_numpy()
        days = np.sort(received_days[own])
        case_days = _days(group["reported_date"])
        close += _pairs_within(days, case_days, REPORT_DATE_CLOSE_DAYS)
        window += _pairs_within(days, case_days, REPORT_MATCH_WINDOW_DAYS)
    window = max(window, 1)
    return {
        "prior": min(0.5, max(len(reported), 1) / window),
        "u_close": max(close, 1) / window,
        "u_far": max(window - close, 1) / window,
    }


def _report_date_log2_lr(evidence: dict[str, float]) -> tuple[float, float]:
    """log2 likelihood ratios of a social-team case received close to / further from the report."""
    return (
        float(np.log2(REPORT_DATE_M["close"] / evidence["u_close"])),
        float(np.log2(REPORT_DATE_M["window"] / evidence["u_far"])),
    )


def min_case_weight(evidence: dict[str, float]) -> float:
    """The smallest person match weight (log2) with which a case link can reach LINK_THRESHOLD: the
    posterior rises with the weight, so pairs below it are left out before any join (slack for rounding)."""
    prior_log2_odds = np.log2(evidence["prior"] / (1 - evidence["prior"]))
    needed = np.log2(LINK_THRESHOLD / (1 - LINK_THRESHOLD))
    return float(needed - prior_log2_odds - max(*_report_date_log2_lr(evidence), 0.0)) - 1e-6


def _in_case_window(pairs: pd.DataFrame) -> pd.Series:
    """Whether a social-team case can answer the arrears case of a pair (rows: case and social-team fields).

    A report belongs to the episode it was made in: never received on or before the closing date of the
    tenancy's previous case. With a corporation report date: received within REPORT_MATCH_WINDOW_DAYS of
    it. Without one (the report may then come from the social team's registration): received during the
    episode, from REPORT_MATCH_WINDOW_DAYS before its first snapshot up to its closing date."""
    received = pd.to_datetime(pairs["report_received_date"])
    after_previous = pairs["previous_closed_date"].isna() | (received > pd.to_datetime(pairs["previous_closed_date"]))
    reported = pairs["reported_date"].notna()
    near_report = pairs["gap"] <= REPORT_MATCH_WINDOW_DAYS
    window = pd.Timedelta(days=REPORT_MATCH_WINDOW_DAYS)
    during = (received >= pd.to_datetime(pairs["first_seen"]) - window) & (
        pairs["closed_date"].isna() | (received <= pd.to_datetime(pairs["closed_date"]))
    )
    return after_previous & np.where(reported, near_report, during)


def assign_cases(
    person_pairs: pd.DataFrame, cases: pd.DataFrame, st_cases: pd.DataFrame, evidence: dict[str, float] | None = None
) -> pd.DataFrame:
    """From scored tenancy <-> social-team-case pairs to arrears case <-> social-team case, one to one.

    A social-team case can only answer an arrears case that no other corporation reported
    (``closed_values.corporation_codes``), received in the case's window (``_in_case_window``). Within that
    candidate space (Fellegi-Sunter): posterior odds = prior odds x person Bayes factor (2 ** match_weight from
    the person model) x report-date likelihood ratio (m assumed in REPORT_DATE_M, u and prior estimated from the
    data by report_date_evidence; 1 for a case without a corporation report date, which has no date to
    agree with). Then greedy one to one by probability, then date gap.
    """
    columns = ["left_key", "right_key", "match_probability"]
    if person_pairs.empty or cases.empty:
        return pd.DataFrame(columns=columns)
    evidence = evidence or report_date_evidence(cases, st_cases)
    pairs = person_pairs[person_pairs["match_weight"].to_numpy(dtype=float) >= min_case_weight(evidence)]
    pairs = pairs.merge(cases, left_on="left_id", right_on="tenancy_id")
    pairs = pairs.merge(st_cases[["id", "reporter", "report_received_date"]], left_on="right_id", right_on="id")
    pairs = pairs[pairs["report_received_date"].notna()]
    anchor = pairs["reported_date"].where(pairs["reported_date"].notna(), pairs["first_seen"])
    pairs = pairs.assign(gap=_gap_days(anchor, pairs["report_received_date"]))
    reporter_ok = pairs["reporter"].isna() | (pairs["reporter"] == pairs["corporation"])  # another corporation: no
    pairs = pairs[reporter_ok & _in_case_window(pairs)].copy()
    log2_close, log2_far = _report_date_log2_lr(evidence)
    reported = pairs["reported_date"].notna().to_numpy()
    log2_date = np.where(
        reported, np.where(pairs["gap"].to_numpy() <= REPORT_DATE_CLOSE_DAYS, log2_close, log2_far), 0.0
    )
    log2_odds = np.log2(evidence["prior"] / (1 - evidence["prior"])) + pairs["match_weight"].to_numpy() + log2_date
    pairs["match_probability"] = 1 / (1 + np.exp2(-np.clip(log2_odds, -60, 60)))
    pairs = pairs[pairs["match_probability"] >= LINK_THRESHOLD]
    pairs = pairs.sort_values(["match_probability", "gap", "case_id", "right_id"], ascending=[False, True, True, True])
    chosen = pairs.iloc[clustering.greedy_one_to_one(pairs["case_id"], pairs["right_id"])]
    return pd.DataFrame(
        {
            "left_key": chosen["case_id"],
            "right_key": chosen["right_id"],
            "match_probability": chosen["match_probability"],
        }
    ).reset_index(drop=True)


def _as_links(pairs: pd.DataFrame, link_type: str) -> pd.DataFrame:
    out = pairs.rename(columns={"left_id": "left_key", "right_id": "right_key"})[
        ["left_key", "right_key", "match_probability"]
    ].copy()
    out.insert(0, "link_type", link_type)
    return out


PAIR_COLUMNS = ["left_id", "right_id", "match_probability"]


def _pairs(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[PAIR_COLUMNS].reset_index(drop=True) if len(frame) else pd.DataFrame(columns=PAIR_COLUMNS)


def reverse(pairs: pd.DataFrame) -> pd.DataFrame:
    """The same links seen from the other side."""
    return _pairs(pairs.rename(columns={"left_id": "right_id", "right_id": "left_id"}))


def two_step(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """Paths left -(first)-> middle -(second)-> right, with probability the product of both steps."""
    if first.empty or second.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    path = first.merge(second, left_on="right_id", right_on="left_id", suffixes=("", "_2"))
    path["match_probability"] = path["match_probability"].astype(float) * path["match_probability_2"].astype(float)
    return _pairs(path[["left_id", "right_id_2", "match_probability"]].rename(columns={"right_id_2": "right_id"}))


def best_links(candidates: Iterable[pd.DataFrame], threshold: float) -> pd.DataFrame:
    """Per (left, right) the highest probability among the candidate sets, kept at ``threshold``."""
    frames = [_pairs(f) for f in candidates if len(f)]
    if not frames:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    pairs = pd.concat(frames, ignore_index=True)
    pairs["match_probability"] = pairs["match_probability"].astype(float)
    pairs = pairs[pairs["match_probability"] >= threshold]
    pairs = pairs.sort_values("match_probability", ascending=False, kind="mergesort")
    pairs = pairs.drop_duplicates(["left_id", "right_id"])
    return _pairs(pairs.sort_values(["left_id", "right_id"], kind="mergesort"))


def same_bsn(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Pairs of records that carry the same BSN pseudonym (probability 1; a record is not paired with itself)."""
    codes = pd.factorize(pd.concat([left["pk_bsn"], right["pk_bsn"]], ignore_index=True))[0].astype(np.int64)
    li, ri, _ = blocking.block_pairs(codes[: len(left)], codes[len(left) :])
    lids = np.asarray(left["id"].array.take(li))
    rids = np.asarray(right["id"].array.take(ri))
    keep = lids != rids
    pairs = pd.DataFrame({"left_id": lids[keep], "right_id": rids[keep], "match_probability": 1.0})
    return _pairs(pairs.sort_values(["left_id", "right_id"], kind="mergesort"))


def _person_links(
    left: encoding.Records, right: encoding.Records, left_ids: ArrayLike, right_ids: ArrayLike,
    threshold: float = CASE_CANDIDATE_THRESHOLD,
) -> pd.DataFrame:  # fmt: skip
    """Person links at ``threshold``, each pair scored on its own (one record may link to several)."""
    scored = predict.score_records(left, right, exclusive=False)
    return _pairs(predict.with_ids(scored[scored["match_probability"] >= threshold], left_ids, right_ids))


@dataclass(frozen=True)
class _Nodes:
    """The records of all sources as graph nodes numbered in the order of their ids (so node numbers
    compare like the ids), each with its source kind; ``numbers[kind]``: the node of each input record."""

    ids: pa.Array
    kinds: np.ndarray
    numbers: dict[str, np.ndarray]


def _nodes(records: Mapping[str, ArrayLike]) -> _Nodes:
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
    return _Nodes(ordered.filter(pa.array(first)), kinds, numbers)


def _edge_nodes(nodes: _Nodes, links: Sequence[pd.DataFrame]) -> tuple[np.ndarray, np.ndarray]:
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
    graph = _nodes({"": list(nodes)})
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


def _first_seen_days(nodes: _Nodes, first_seen: Mapping[str, object] | pd.Series) -> np.ndarray:
    """Each node's first-seen date as days since the epoch; every node needs one."""
    if not isinstance(first_seen, pd.Series):
        first_seen = pd.Series(first_seen, dtype=object)
    at = pc.index_in(nodes.ids, value_set=encoding.arrow_text(first_seen.index).combine_chunks())
    days = _epoch_days(first_seen.array).take(at)  # null: not given, or no date
    missing = days.null_count
    if missing:  # a count only: record ids are pseudonyms, never logged
        raise ValueError(f"{missing} record(s) without a first-seen date")
    return days.to_numpy().astype(np.int64)


def _persons(nodes: _Nodes, a: np.ndarray, b: np.ndarray, first_seen: Mapping[str, object] | pd.Series) -> pd.DataFrame:
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
    nodes = _nodes(records)
    return _persons(nodes, *_edge_nodes(nodes, links), first_seen)


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


def _encoded(
    encoder: encoding.Encoder, sources: Iterator[_Source], keep: list[str]
) -> tuple[encoding.Records, pd.DataFrame]:
    """The next of ``sources`` encoded for linkage, and its ``keep`` columns (``pk_bsn``: the BSN pseudonym's code in
    the encoder's code space, NaN if missing; no token is kept), both in order of record id: the order the
    linkage draws its random samples in, whatever order the rows came.

    Every kept column is copied (``take`` per array): a column the query result shares memory with keeps
    the whole result alive."""
    source = next(sources)  # taken here, so that nothing else holds it once it is encoded
    frame = source.frame
    records = encoder.raw_records(frame["id"], source.tokens.present, source.tokens.raw)
    del source  # the opened tokens are encoded: their memory is free before the records are reordered
    order = pc.sort_indices(encoding.arrow_text(frame["id"])).to_numpy()
    bsn = records.codes["pk_bsn"]
    columns = {"pk_bsn": np.where(bsn >= 0, bsn, np.nan)} | {c: frame[c].array for c in keep if c != "pk_bsn"}
    kept = pd.DataFrame({column: columns[column].take(order) for column in keep})
    return records.take(order), kept


@dataclass(frozen=True)
class _Scored:
    """What link assembly needs from the scoring: the case links, and the person links (at
    CASE_CANDIDATE_THRESHOLD, on node numbers) of each pair of sources."""

    nodes: _Nodes
    case_st: pd.DataFrame
    tenant_st: pd.DataFrame
    tenant_sdd: pd.DataFrame
    st_sdd: pd.DataFrame
    st_cases: pd.DataFrame  # id (node number), pk_bsn
    sdd: pd.DataFrame  # id (node number), pk_bsn


def _score_sources(conn: Connection, chain: keys.KeyChain) -> _Scored:
    """Read, unseal, encode and score the three sources, one pair of sources after the other. The encoded
    records stay inside: once scored, their memory is free for the assembly."""
    # One source at a time, so only one source's pseudonym text is in memory; the largest first, so the
    # memory its query leaves with DuckDB's allocator is reused by the others rather than added to.
    encoder = encoding.Encoder()
    sources = read_sources(conn, chain, ["sdd", "corporation", "social_team"])
    sdd_rec, sdd = _encoded(encoder, sources, ["id", "pk_bsn"])
    ten_rec, tenants = _encoded(encoder, sources, ["id"])
    st_rec, st_cases = _encoded(encoder, sources, ["id", "reporter", "report_received_date", "pk_bsn"])
    sources.close()
    del encoder
    nodes = _nodes({"corporation": tenants["id"], "social_team": st_cases["id"], "sdd": sdd["id"]})
    ten_n, st_n, sdd_n = nodes.numbers["corporation"], nodes.numbers["social_team"], nodes.numbers["sdd"]
    del tenants
    cases = arrears_cases(conn)
    evidence = report_date_evidence(cases, st_cases)
    scored = predict.score_records(ten_rec, st_rec, exclusive=False)
    case_candidates = scored[scored["match_weight"] >= min_case_weight(evidence)]
    case_st = assign_cases(predict.with_ids(case_candidates, ten_rec.ids, st_rec.ids), cases, st_cases, evidence)
    tenant_st = _pairs(predict.with_ids(scored[scored["match_probability"] >= CASE_CANDIDATE_THRESHOLD], ten_n, st_n))
    del scored, cases
    tenant_sdd = _person_links(ten_rec, sdd_rec, ten_n, sdd_n)
    st_sdd = _person_links(st_rec, sdd_rec, st_n, sdd_n)
    st_bsn, sdd_bsn = st_cases[["pk_bsn"]].assign(id=st_n), sdd[["pk_bsn"]].assign(id=sdd_n)
    return _Scored(nodes, case_st, tenant_st, tenant_sdd, st_sdd, st_bsn, sdd_bsn)


def link_sources(conn: Connection, key: bytes | keys.KeyChain | None = None) -> dict[str, int]:
    """Write int_links (case -> social-team case, tenancy -> SDD record, social-team case -> SDD record)
    and int_persons. ``key``: the pseudonymisation key chain that opens the seals (default
    ``settings.pseudonym_key``).

    Person links are assembled on node numbers (``_nodes``: ordered like the record ids, so every sort
    and tie-break is the one on ids) and turned into ids only when written."""
    scored = _score_sources(conn, keys.parse_key_chain(key if key is not None else settings.pseudonym_key()))
    nodes, tenant_st, tenant_sdd_direct, st_sdd_direct = (
        scored.nodes,
        scored.tenant_st,
        scored.tenant_sdd,
        scored.st_sdd,
    )
    sdd_same = same_bsn(scored.sdd, scored.sdd)

    def steps(pairs: pd.DataFrame) -> pd.DataFrame:
        return pairs[pairs["match_probability"] >= PATH_STEP_THRESHOLD]

    tenant_sdd = best_links(
        [
            tenant_sdd_direct,
            two_step(steps(tenant_st), steps(st_sdd_direct)),
            two_step(steps(tenant_sdd_direct), sdd_same),
        ],
        LINK_THRESHOLD,
    )
    st_sdd = best_links(
        [
            st_sdd_direct,
            two_step(reverse(steps(tenant_st)), steps(tenant_sdd_direct)),
            two_step(steps(st_sdd_direct), sdd_same),
            two_step(same_bsn(scored.st_cases, scored.st_cases), steps(st_sdd_direct)),
        ],
        LINK_THRESHOLD,
    )
    links = pd.concat(
        [
            scored.case_st.assign(link_type="case_social_team"),
            _as_links(_node_ids(tenant_sdd, nodes), "tenancy_sdd"),
            _as_links(_node_ids(st_sdd, nodes), "social_team_sdd"),
        ],
        ignore_index=True,
    )
    warehouse.recreate_table(conn, "int_links")
    warehouse.insert_rows(conn, "int_links", links)
    edges = [tenant_st[tenant_st["match_probability"] >= LINK_THRESHOLD], tenant_sdd, st_sdd, sdd_same]
    a = np.concatenate([f["left_id"].to_numpy(dtype=np.int64) for f in edges])
    b = np.concatenate([f["right_id"].to_numpy(dtype=np.int64) for f in edges])
    persons = _persons(nodes, a, b, record_first_seen(conn))
    warehouse.recreate_table(conn, "int_persons")
    warehouse.insert_rows(conn, "int_persons", persons)
    counts = links["link_type"].value_counts().to_dict()
    log.info("links written: %s; %d persons", counts, persons["person_id"].nunique())
    return {str(k): int(v) for k, v in counts.items()}


def _node_ids(pairs: pd.DataFrame, nodes: _Nodes) -> pd.DataFrame:
    """Pairs of node numbers as pairs of record ids."""
    return pairs.assign(
        left_id=pd.Series(nodes.ids.take(pairs["left_id"].to_numpy(dtype=np.int64)), dtype="str", index=pairs.index),
        right_id=pd.Series(nodes.ids.take(pairs["right_id"].to_numpy(dtype=np.int64)), dtype="str", index=pairs.index),
    )
