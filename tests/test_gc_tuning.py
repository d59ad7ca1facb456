"""The collector's thresholds are raised only while files are ingested, and restored after, also on error."""

from __future__ import annotations

import gc

import pytest
from eviction_prevention.intake import gc_tuning


def test_thresholds_raised_inside_and_restored_after() -> None:
    before = gc.get_threshold()
    with gc_tuning.fewer_collections((50_000, 20, 30)):
        assert gc.get_threshold() == (50_000, 20, 30)
    assert gc.get_threshold() == before


def test_thresholds_restored_when_the_block_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), gc_tuning.fewer_collections():
        assert gc.get_threshold() == gc_tuning.INGEST_THRESHOLDS
        raise RuntimeError("a file failed")
    assert gc.get_threshold() == before
