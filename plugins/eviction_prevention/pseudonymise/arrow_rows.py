"""Rows of fixed-width bytes as one Arrow column, without a Python object per row.

The linkage and the seals hold tokens as a 2-D byte array (one row per record, zeros where a record has no
token) with a mask of the rows that have one. Arrow takes such a column as three buffers: validity bits,
offsets (every present row ``width`` bytes further) and the bytes of the present rows back to back.
"""

from __future__ import annotations

import binascii

import numpy as np
import pyarrow as pa


def fixed_rows_array(rows: np.ndarray, present: np.ndarray, as_hex: bool = False) -> pa.Array:
    """``rows`` (n x width bytes) as Arrow ``large_binary``, or as lowercase hex ``large_string`` when
    ``as_hex``; null where ``present`` is False."""
    n = len(present)
    kept = np.ascontiguousarray(rows if present.all() else rows[present])
    data = binascii.b2a_hex(kept.tobytes()) if as_hex else kept
    width = rows.shape[1] * (2 if as_hex else 1)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(present * width, out=offsets[1:])
    validity = pa.py_buffer(np.packbits(present, bitorder="little").tobytes())
    return pa.Array.from_buffers(
        pa.large_string() if as_hex else pa.large_binary(),
        n,
        [validity, pa.py_buffer(offsets), pa.py_buffer(data)],
        null_count=int(n - present.sum()),
    )
