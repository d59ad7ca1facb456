"""Fewer garbage-collector passes while files are ingested.

Parsing and pseudonymising allocate millions of short-lived Python objects (a string per value, hashed
and dropped). CPython's cyclic collector runs a generation-0 pass every 700 net allocations and, with the
heap the ingest builds, each pass walks many live containers: at 1M arrears rows the collector took 2.8-2.9 s
in 4,650 passes inside pseudonymise alone. These objects are freed by reference counting (they hold no
cycles), so the collector finds almost nothing. Raising the generation-0 threshold while ingesting cut the
CPU time of parse + validate + pseudonymise by 13-22% in two A/B pairs at 1M in a profiling harness, and a
whole in-process ingest of the bench files (load included) took 0.94x the wall time at 300k (3 pairs) and
0.95x at 1M (2 pairs; farm-bench, issue 14's note). The previous thresholds come back afterwards, also on
error.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

INGEST_THRESHOLDS = (100_000, 50, 100)


@contextmanager
def fewer_collections(thresholds: tuple[int, int, int] = INGEST_THRESHOLDS) -> Iterator[None]:
    """Run the block with the collector's thresholds raised; restore the previous ones after."""
    previous = gc.get_threshold()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
