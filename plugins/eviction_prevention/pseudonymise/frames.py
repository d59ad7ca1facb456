"""A canonical frame pseudonymised for staging (``pseudonymise_frame``: the references keyed, the person
tokens computed, every identifier dropped), and a staged frame carried to a new key version without clear
text (``rotate_frame``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from eviction_prevention.parse.layouts import attribute_columns, identifier_columns
from eviction_prevention.pseudonymise import keys
from eviction_prevention.pseudonymise import normalize as nz
from eviction_prevention.pseudonymise.distinct_inputs import DistinctColumn, pseudonymised_column
from eviction_prevention.pseudonymise.person_tokens import person_pseudonyms
from eviction_prevention.pseudonymise.pseudonymiser import (
    COLUMN_FIELD,
    PERSON_PSEUDONYMS,
    REFERENCE_COLUMN,
    TOKEN_BYTES,
    column_field,
    permute_columns,
    shared_pseudonymiser,
    to_hex,
)


def pseudonymise_frame(
    df: pd.DataFrame,
    kind: str,
    key: bytes | keys.KeyChain,
    *,
    namespace: str | None = None,
    keep: Iterable[str] = (),
    bloom: bool = True,
) -> pd.DataFrame:
    """Replace the identifiers of a canonical ``kind`` frame by keyed pseudonyms, sealed.

    The result has, in this order: ``record_key``, ``key_version``, every attribute column of ``kind`` that is present
    in ``df`` (unchanged, same dtype), the columns named in ``keep`` (non-personal extras such as a
    partner code or a source file name; identifier columns are refused), and ``person_seal``: the row's person
    pseudonyms (``person_pseudonyms``; phone and e-mail only for corporations) sealed under the current key
    version (``sealing``). The pseudonyms themselves are not returned: their frequencies would survive at rest.
    No identifier column survives; columns not in the schema are dropped unless kept.

    ``record_key`` is the pseudonym of the kind's reference column; references are only unique within
    one partner, so pass the partner code as ``namespace`` when several partners share a table.
    """
    from eviction_prevention.pseudonymise import sealing

    if kind not in REFERENCE_COLUMN:
        raise ValueError(f"unknown source kind {kind!r}")
    identifiers = set(identifier_columns(kind))
    keep = list(keep)
    bad = [c for c in keep if c in identifiers or c in ("given_name", "bsn", "phone", "email")]
    if bad:
        raise ValueError(f"refusing to keep identifier columns {bad}")
    pz = shared_pseudonymiser(key)
    ref_field = REFERENCE_COLUMN[kind]

    def reference(ref: Any) -> str | None:
        if ref is None:
            return None
        text = nz.as_text(ref).strip()
        return f"{namespace}\x1f{text}" if namespace else text

    record_key = pseudonymised_column(pz, ref_field, reference, DistinctColumn.of(df, ref_field))
    persons = person_pseudonyms(df, pz, bloom=bloom)
    if kind != "corporation":
        persons["pk_phone"] = None
        persons["pk_email"] = None
    seals = sealing.seal(persons, record_key, pz.key_version, kind, pz.chain)
    del persons
    attrs = [c for c in attribute_columns(kind) if c in df.columns]
    extras = [c for c in keep if c in df.columns and c not in attrs]
    out = pd.concat(
        [
            pd.DataFrame(
                {
                    "record_key": pd.Series(record_key, index=df.index, dtype=object),
                    "key_version": pd.Series(pz.key_version, index=df.index, dtype=object),
                }
            ),
            df[attrs + extras],
            seals.to_frame(sealing.SEAL_COLUMN),
        ],
        axis=1,
    )
    leaked = identifiers.intersection(out.columns)
    if leaked:  # cannot happen by construction; a hard stop rather than an assert that -O removes
        raise RuntimeError(f"identifier columns in pseudonymised output: {sorted(leaked)}")
    return out


def rotate_frame(frame: pd.DataFrame, kind: str, chain: bytes | keys.KeyChain, version: str) -> pd.DataFrame:
    """Carry stored rows to key version ``version`` of the key chain ``chain`` without clear text (see ``keys``).

    For a row at an earlier version (``key_version``; missing counts as the chain's first), every version after
    its own up to ``version`` is applied in turn: ``record_key`` (kind ``kind``) and every ``pk_*`` pseudonym
    become ``HMAC(key, root/version/field 0x1F stored)``, every ``bf_*`` encoding gets the version's bit
    permutation. In a stored frame the pseudonyms are in ``person_seal``: unsealed under the row's version,
    rotated, and sealed again under ``version`` (bound to the new record_key); a frame of pseudonym columns
    (in memory) is rotated as it is. ``key_version`` is set. Rows already at ``version`` are left as they are,
    so an interrupted rotation can be rerun."""
    from eviction_prevention.pseudonymise import sealing

    chain = keys.parse_key_chain(chain)
    order = [v for v, _ in chain.versions]
    if version not in order:
        raise ValueError(f"key version {version!r} is not in the key chain")
    out = frame.copy()
    stored = out["key_version"] if "key_version" in out.columns else pd.Series(None, index=out.index, dtype=object)
    stored = stored.astype(object).where(stored.notna(), order[0])
    sealed = sealing.SEAL_COLUMN in out.columns
    columns = [c for c in out.columns if c in PERSON_PSEUDONYMS]
    for start in pd.unique(stored).tolist():
        if start == version:
            continue
        if start not in order or order.index(start) > order.index(version):
            raise ValueError(f"rows at key version {start!r} cannot be rotated to {version!r}")
        rows = (stored == start).to_numpy()
        part = out.loc[rows]
        if sealed:
            tokens = sealing.unseal(part[sealing.SEAL_COLUMN], part["record_key"], start, kind, chain)
        else:
            tokens = part[columns]
        record_key = part["record_key"] if "record_key" in part.columns else None
        for step in order[order.index(start) + 1 : order.index(version) + 1]:
            tokens, record_key = _rotated(tokens, record_key, kind, dict(chain.versions)[step], step)
        if record_key is not None:
            out.loc[rows, "record_key"] = record_key.to_numpy()
        if sealed:
            seals = sealing.seal(tokens, record_key, version, kind, chain)
            out.loc[rows, sealing.SEAL_COLUMN] = seals.to_numpy()
        else:
            for column in columns:
                out.loc[rows, column] = tokens[column].to_numpy()
    out["key_version"] = pd.Series(version, index=out.index, dtype=object)
    return out


def _rotated(
    tokens: pd.DataFrame, record_key: pd.Series | None, kind: str, key: bytes, version: str
) -> tuple[pd.DataFrame, pd.Series | None]:
    """One rotation step (to ``version``, whose key is ``key``) of pseudonym columns and record keys."""

    def values(series: pd.Series) -> list[str | None]:
        return [v if isinstance(v, str) else None for v in series.astype(object).tolist()]

    def chained(series: pd.Series, field: str) -> pd.Series:
        rotated = [keys.rotate_pseudonym(key, version, field, v) for v in values(series)]
        return pd.Series(rotated, index=series.index, dtype=object)

    out = {}
    for column in tokens.columns:
        if column in COLUMN_FIELD:
            out[column] = chained(tokens[column], column_field(column, kind))
        elif column.startswith("bf_"):
            order = keys.bloom_permutation(key, version, 8 * TOKEN_BYTES[column])
            permuted = [_permute_hex(v, order) if v else v for v in values(tokens[column])]
            out[column] = pd.Series(permuted, index=tokens.index, dtype=object)
        else:
            out[column] = tokens[column]
    rotated_keys = chained(record_key, column_field("record_key", kind)) if record_key is not None else None
    return pd.DataFrame(out, index=tokens.index), rotated_keys


def _permute_hex(value: str, order: list[int]) -> str:
    """A hex encoding of ``len(order)`` bits with bit j moved to position order[j]."""
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(value.zfill(len(order) // 4)), dtype=np.uint8))[None, :]
    return to_hex(permute_columns(bits.astype(bool), order))[0]
