"""Distinct inputs: each input column factorised once (``DistinctColumn``), combinations of columns
(``DistinctCombination``), so normalisation, HMACs and encodings run on the distinct values only and are spread
back over the rows.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from eviction_prevention.pseudonymise import normalize as nz
from eviction_prevention.pseudonymise.pseudonymiser import COLUMN_FIELD, Pseudonymiser


def _memo_key(value: Any) -> Hashable:
    """The memo key of a distinct input value: ``None`` when missing (blank text included), text as itself,
    anything else tagged with its type (1, 1.0 and True from different frames must not share an entry)."""
    if type(value) is str:
        return value if value.strip() else None
    return None if nz.is_missing(value) else (type(value), value)


@dataclass(frozen=True)
class DistinctColumn:
    """One input column as codes into its distinct values: row ``r`` holds distinct value ``codes[r]``.

    The last distinct value is the missing one: ``None``, as NA, NaN, NaT and blank text are too (their memo
    key is ``None``), so a normaliser gets exactly what the row-by-row code passed it."""

    codes: np.ndarray
    uniques: Any  # the distinct values as pd.factorize returns them (without the missing one); None if absent

    @classmethod
    def of(cls, df: pd.DataFrame, name: str) -> DistinctColumn:
        if name not in df.columns:
            return cls(np.zeros(len(df), dtype=np.intp), None)
        codes, uniques = pd.factorize(df[name])
        codes[codes < 0] = len(uniques)
        return cls(codes, uniques)

    @property
    def _dates(self) -> bool:  # keyed by integer value and built on demand: a Timestamp per value is slow
        return isinstance(self.uniques, pd.DatetimeIndex)

    @functools.cached_property
    def _known(self) -> list[Any]:
        """Every distinct value (``None`` for the missing ones); not built for datetimes."""
        if self.uniques is None:
            return [None]
        values = self.uniques.tolist()
        if isinstance(self.uniques.dtype, pd.StringDtype) or all(type(v) is str for v in values):
            blank = [i for i, v in enumerate(values) if not v.strip()]
        else:
            blank = [i for i, v in enumerate(values) if nz.is_missing(v)]
        for i in blank:
            values[i] = None
        return [*values, None]

    @functools.cached_property
    def keys(self) -> list[Hashable]:
        """Memo key per distinct value (``_memo_key``)."""
        if self._dates:
            tag = str(self.uniques.dtype)
            return [*((tag, v) for v in self.uniques.asi8.tolist()), None]
        return [v if type(v) is str else _memo_key(v) for v in self._known]

    def values(self, positions: list[int]) -> list[Any]:
        if not self._dates:
            known = self._known
            return [known[p] for p in positions]
        n = len(self.uniques)
        built = iter(self.uniques.take([p for p in positions if p < n]).tolist())
        return [next(built) if p < n else None for p in positions]

    def all_values(self) -> list[Any]:
        return self.values(list(range(len(self.uniques) + 1))) if self._dates else self._known

    def apply(self, func: Callable[[Any], Any], positions: list[int]) -> list[Any]:
        """``func`` of the distinct values at ``positions``."""
        return [func(v) for v in self.values(positions)]


def combine_codes(codes: Sequence[np.ndarray]) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Codes of the distinct combinations of several code arrays, and per combination each array's code."""
    combined, uniques = pd.factorize(codes[0])
    for more in codes[1:]:
        combined, uniques = pd.factorize(combined.astype(np.int64) * (int(more.max(initial=0)) + 1) + more)
    representative = np.empty(len(uniques), dtype=np.intp)
    representative[combined] = np.arange(len(combined), dtype=np.intp)
    return combined, tuple(c[representative] for c in codes)


@dataclass(frozen=True)
class DistinctCombination:
    """Distinct combinations of several columns' values (same interface as ``DistinctColumn``)."""

    codes: np.ndarray
    parts: tuple[np.ndarray, ...]  # per distinct combination, the distinct-value index in each column
    columns: tuple[DistinctColumn, ...]

    @classmethod
    def of(cls, *columns: DistinctColumn) -> DistinctCombination:
        codes, parts = combine_codes([c.codes for c in columns])
        return cls(codes, parts, columns)

    @property
    def keys(self) -> list[Hashable]:
        return list(zip(*(_pick(c.keys, p) for c, p in zip(self.columns, self.parts, strict=True)), strict=True))

    def apply(self, func: Callable[..., Any], positions: list[int]) -> list[Any]:
        """``func`` of the distinct combinations at ``positions`` (one argument per column)."""
        args = (c.values(p[positions].tolist()) for c, p in zip(self.columns, self.parts, strict=True))
        return list(itertools.starmap(func, zip(*args, strict=True)))


def _pick(values: list[Any], index: np.ndarray) -> list[Any]:
    return [values[i] for i in index.tolist()]


def object_array(values: Sequence[Any]) -> np.ndarray:
    table = np.empty(len(values), dtype=object)
    table[:] = values
    return table


def rows_of(values: Sequence[Any], codes: np.ndarray) -> np.ndarray:
    """Per-distinct values spread over the rows (an object array)."""
    return object_array(values)[codes]


def _unzip(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def keyed_values(
    pz: Pseudonymiser,
    func: Callable[..., tuple[str, ...]],
    columns: tuple[str | None, ...],
    inputs: DistinctColumn | DistinctCombination,
) -> list[list[Any]]:
    """Per returned value of ``func`` (normalised text), a list with one entry per distinct input: the pseudonym
    for the stored column named at that position in ``columns``, or (``None``) the normalised text itself.

    Memoised from raw input to the whole result, so an input seen in an earlier frame costs one lookup."""
    memo = pz._memo(f"keyed:{func.__module__}.{func.__qualname__}:{columns}")

    def compute(todo: list[int]) -> list[tuple[Any, ...]]:
        normalised = _unzip(inputs.apply(func, todo), len(columns))
        done = [v if c is None else pz.many(COLUMN_FIELD[c], v) for c, v in zip(columns, normalised, strict=True)]
        return list(zip(*done, strict=True))

    return _unzip(memo.fetch(inputs.keys, compute), len(columns))


def pseudonymised_column(
    pz: Pseudonymiser, field: str, func: Callable[[Any], str | None], inputs: DistinctColumn
) -> np.ndarray:
    """Per row, the pseudonym of ``func`` of the row's value, for identifiers nearly unique per person.

    Not memoised across frames: a lookup in a memo of a few hundred thousand such values misses the CPU caches
    and costs about as much as the normalising and hashing it saves (measured on the bench data, where a
    tenant's contact details recur in the next snapshots)."""
    return rows_of(pz._pseudonyms(field, [func(v) for v in inputs.all_values()]), inputs.codes)
