"""The API process's collector settings: frozen start-up heap, rarer young collections."""

from __future__ import annotations

import gc

from app.infra.heap import SERVING_THRESHOLDS, frozen_start_up_heap


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_start_up_objects_are_frozen_and_thresholds_raised_then_both_undone():
    before = gc.get_threshold()
    built_at_start_up = _Cycle()
    with frozen_start_up_heap():
        assert gc.get_threshold() == SERVING_THRESHOLDS
        assert gc.get_freeze_count() > 0
        # Frozen: in no generation the collector walks.
        assert not any(o is built_at_start_up for o in gc.get_objects())
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert any(o is built_at_start_up for o in gc.get_objects())


def test_a_cycle_made_while_serving_is_still_collected():
    with frozen_start_up_heap():
        gc.collect()
        _Cycle()
        assert gc.collect() >= 1
