"""The collector's thresholds are raised only while files are ingested, and restored after, also on error; objects
set aside while dbt runs are given back after, unless the process had frozen its own."""

from __future__ import annotations

import gc

import pytest
from eviction_prevention import gc_tuning


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


def test_objects_set_aside_only_inside_and_given_back_after_also_on_error() -> None:
    assert gc.get_freeze_count() == 0
    with gc_tuning.old_objects_set_aside():
        assert gc.get_freeze_count() > 0  # every object that existed before the block
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), gc_tuning.old_objects_set_aside():
        raise RuntimeError("dbt failed")
    assert gc.get_freeze_count() == 0


def test_objects_frozen_by_the_process_stay_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with pytest.raises(RuntimeError), gc_tuning.old_objects_set_aside():
            raise RuntimeError("dbt failed")
        assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
