"""Test helpers: pseudonymised frames with their seal opened into the pseudonym columns (in memory only)."""

from __future__ import annotations

import pandas as pd
from eviction_prevention.pseudonymise.frames import pseudonymise_frame
from eviction_prevention.pseudonymise.keys import KeyChain
from eviction_prevention.pseudonymise.sealing import SEAL_COLUMN, unseal


def opened(out: pd.DataFrame, kind: str, key: bytes | KeyChain) -> pd.DataFrame:
    """``out`` (as ``pseudonymise_frame`` returns it) with ``person_seal`` replaced by the pseudonym columns,
    as ``person_pseudonyms`` gives them (objects, missing as ``None``)."""
    tokens = unseal(out[SEAL_COLUMN], out["record_key"], out["key_version"], kind, key)
    columns = {
        c: pd.Series([v if isinstance(v, str) else None for v in tokens[c]], index=out.index, dtype=object)
        for c in tokens.columns
    }
    return pd.concat([out.drop(columns=SEAL_COLUMN), pd.DataFrame(columns, index=out.index)], axis=1)


def pseudonymised(df: pd.DataFrame, kind: str, key: bytes | KeyChain) -> pd.DataFrame:
    """``pseudonymise_frame`` with the seal opened: the columns the linkage reads."""
    return opened(pseudonymise_frame(df, kind, key), kind, key)
