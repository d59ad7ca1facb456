"""Match weights: log2(m/u) per field level, and the term-frequency adjustment of exact agreement on surname,
given name and initials.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from eviction_prevention.link.encoding import Records
from eviction_prevention.link.model import FIELDS, Field


def log_ratio(
    gammas: dict[str, np.ndarray], m: dict[str, np.ndarray], u: dict[str, np.ndarray],
    fields: Iterable[Field] = FIELDS,
) -> np.ndarray:  # fmt: skip
    n = len(next(iter(gammas.values())))
    total = np.zeros(n)
    for f in fields:
        g = gammas[f.name]
        ok = g >= 0
        table = np.log(m[f.name]) - np.log(u[f.name])
        total[ok] += table[g[ok]]
    return total


# Levels of exact agreement that are term-frequency adjusted: (field, level, the column that holds the value).
TF_LEVELS = (("surname", 0, "pk_surname"), ("given_name", 0, "pk_given_name"), ("given_name", 6, "pk_initials"))


def log_term_frequency(
    left: Records, right: Records, li: np.ndarray, gamma: np.ndarray, level: int, column: str
) -> np.ndarray:
    """For pairs at ``level`` (exact agreement on ``column``): log of the value's share among the non-missing
    values of both sides (floored at one record); NaN for the other pairs."""
    lcodes, rcodes = left.codes[column], right.codes[column]
    allcodes = np.concatenate([lcodes, rcodes])
    allcodes = allcodes[allcodes >= 0]
    out = np.full(len(li), np.nan)
    if len(allcodes):
        freq = np.bincount(allcodes) / len(allcodes)
        exact = gamma == level
        out[exact] = np.log(np.maximum(freq[lcodes[li[exact]]], 1.0 / len(allcodes)))
    return out


def tf_adjustment(log_tf: np.ndarray, u_exact: float) -> np.ndarray:
    """Extra log-weight for exact agreement: log(u_exact / tf(value)), from ``log_term_frequency``.
    Agreeing on a rare surname or on the initials "MO" counts more than agreeing on "Jansen" or "J"."""
    return np.where(np.isnan(log_tf), 0.0, np.log(u_exact) - log_tf)
