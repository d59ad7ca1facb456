"""The cyclic garbage collector, tuned for the two stages that allocate most: ingest and dbt.

Ingest (``fewer_collections``): parsing and pseudonymising allocate millions of short-lived Python objects (a
string per value, hashed and dropped). CPython's cyclic collector runs a generation-0 pass every 700 net
allocations and, with the heap the ingest builds, each pass walks many live containers: at 1M arrears rows the
collector took 2.8-2.9 s in 4,650 passes inside pseudonymise alone. These objects are freed by reference
counting (they hold no cycles), so the collector finds almost nothing. Raising the generation-0 threshold
while ingesting cut the CPU time of parse + validate + pseudonymise by 13-22% in two A/B pairs at 1M in a
profiling harness, and a whole in-process ingest of the bench files (load included) took 0.94x the wall time
at 300k (3 pairs) and 0.95x at 1M (2 pairs; farm-bench, issue 14's note). The previous thresholds come back
afterwards, also on error.

dbt (``old_objects_set_aside``): a dbt invocation allocates enough per node to set off full collections, and
each walks every object of the process: the task's own data and the parsed project. In ``make bench``'s
process at 100k rows they took 0.24 s of a 1.0 s marts build and 0.41 s of the intermediate one; with the
process's objects set aside, none and 0.15 s (issue 19). The objects that exist before the invocation are
set aside for its length (``gc.freeze``; reference counting still frees them) and given back to the collector
after (``gc.unfreeze``).
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


@contextmanager
def old_objects_set_aside() -> Iterator[None]:
    """Run the block with every object that exists before it left out of the collector's passes; give them back
    after, unless the process had frozen objects of its own before (then they all stay frozen, as it chose)."""
    frozen_before = gc.get_freeze_count()
    gc.freeze()
    try:
        yield
    finally:
        if not frozen_before:
            gc.unfreeze()
