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

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from sqlalchemy.engine import Connection

from eviction_prevention import settings, warehouse
from eviction_prevention.link import encoding, predict
from eviction_prevention.link.case_assignment import arrears_cases, assign_cases, min_case_weight, report_date_evidence
from eviction_prevention.link.link_paths import (
    as_links,
    as_pairs,
    best_links,
    person_links,
    reverse,
    same_bsn,
    two_step,
)
from eviction_prevention.link.persons import RecordNodes, persons_frame, record_first_seen, record_nodes
from eviction_prevention.link.source_records import (
    CASE_CANDIDATE_THRESHOLD,
    LINK_THRESHOLD,
    PATH_STEP_THRESHOLD,
    SourceRecords,
    read_sources,
)
from eviction_prevention.pseudonymise import keys

log = logging.getLogger(__name__)


def _encoded(
    encoder: encoding.Encoder, sources: Iterator[SourceRecords], keep: list[str]
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

    nodes: RecordNodes
    case_st: pd.DataFrame
    tenant_st: pd.DataFrame
    tenant_sdd: pd.DataFrame
    st_sdd: pd.DataFrame
    st_cases: pd.DataFrame  # id (node number), pk_bsn
    sdd: pd.DataFrame  # id (node number), pk_bsn


def _score_sources(conn: Connection, chain: keys.KeyChain, models: str | None) -> _Scored:
    """Read, unseal, encode and score the three sources, one pair of sources after the other. The encoded
    records stay inside: once scored, their memory is free for the assembly."""
    # One source at a time, so only one source's pseudonym text is in memory; the largest first, so the
    # memory its query leaves with DuckDB's allocator is reused by the others rather than added to.
    encoder = encoding.Encoder()
    sources = read_sources(conn, chain, ["sdd", "corporation", "social_team"], models)
    sdd_rec, sdd = _encoded(encoder, sources, ["id", "pk_bsn"])
    ten_rec, tenants = _encoded(encoder, sources, ["id"])
    st_rec, st_cases = _encoded(encoder, sources, ["id", "reporter", "report_received_date", "pk_bsn"])
    sources.close()
    del encoder
    nodes = record_nodes({"corporation": tenants["id"], "social_team": st_cases["id"], "sdd": sdd["id"]})
    ten_n, st_n, sdd_n = nodes.numbers["corporation"], nodes.numbers["social_team"], nodes.numbers["sdd"]
    del tenants
    cases = arrears_cases(conn, models)
    evidence = report_date_evidence(cases, st_cases)
    scored = predict.score_records(ten_rec, st_rec, exclusive=False)
    case_candidates = scored[scored["match_weight"] >= min_case_weight(evidence)]
    case_st = assign_cases(predict.with_ids(case_candidates, ten_rec.ids, st_rec.ids), cases, st_cases, evidence)
    tenant_st = as_pairs(predict.with_ids(scored[scored["match_probability"] >= CASE_CANDIDATE_THRESHOLD], ten_n, st_n))
    del scored, cases
    tenant_sdd = person_links(ten_rec, sdd_rec, ten_n, sdd_n)
    st_sdd = person_links(st_rec, sdd_rec, st_n, sdd_n)
    st_bsn, sdd_bsn = st_cases[["pk_bsn"]].assign(id=st_n), sdd[["pk_bsn"]].assign(id=sdd_n)
    return _Scored(nodes, case_st, tenant_st, tenant_sdd, st_sdd, st_bsn, sdd_bsn)


def link_sources(
    conn: Connection, key: bytes | keys.KeyChain | None = None, models: str | None = None
) -> dict[str, int]:
    """Write int_links (case -> social-team case, tenancy -> SDD record, social-team case -> SDD record)
    and int_persons. ``key``: the pseudonymisation key chain that opens the seals (default
    ``settings.pseudonym_key``); ``models``: the schema of the intermediate models to link (a publish run's
    build; default: the connection's own schema).

    Person links are assembled on node numbers (``record_nodes``: ordered like the record ids, so every sort
    and tie-break is the one on ids) and turned into ids only when written."""
    scored = _score_sources(conn, keys.parse_key_chain(key if key is not None else settings.pseudonym_key()), models)
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
            as_links(_node_ids(tenant_sdd, nodes), "tenancy_sdd"),
            as_links(_node_ids(st_sdd, nodes), "social_team_sdd"),
        ],
        ignore_index=True,
    )
    warehouse.recreate_table(conn, "int_links")
    warehouse.insert_rows(conn, "int_links", links)
    edges = [tenant_st[tenant_st["match_probability"] >= LINK_THRESHOLD], tenant_sdd, st_sdd, sdd_same]
    a = np.concatenate([f["left_id"].to_numpy(dtype=np.int64) for f in edges])
    b = np.concatenate([f["right_id"].to_numpy(dtype=np.int64) for f in edges])
    persons = persons_frame(nodes, a, b, record_first_seen(conn))
    warehouse.recreate_table(conn, "int_persons")
    warehouse.insert_rows(conn, "int_persons", persons)
    counts = links["link_type"].value_counts().to_dict()
    log.info("links written: %s; %d persons", counts, persons["person_id"].nunique())
    return {str(k): int(v) for k, v in counts.items()}


def _node_ids(pairs: pd.DataFrame, nodes: RecordNodes) -> pd.DataFrame:
    """Pairs of node numbers as pairs of record ids."""
    return pairs.assign(
        left_id=pd.Series(nodes.ids.take(pairs["left_id"].to_numpy(dtype=np.int64)), dtype="str", index=pairs.index),
        right_id=pd.Series(nodes.ids.take(pairs["right_id"].to_numpy(dtype=np.int64)), dtype="str", index=pairs.index),
    )
