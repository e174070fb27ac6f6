"""The API process's collector settings: frozen start-up heap, rarer young collections."""

from __future__ import annotations

import gc
import weakref

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


def test_a_cycle_made_while_serving_is_collected_unasked_once_enough_is_allocated():
    with frozen_start_up_heap():
        cycle = _Cycle()
        gone = weakref.ref(cycle)
        del cycle
        assert gone() is not None  # only the collector frees a cycle
        # The youngest generation is collected by allocation count: past its threshold.
        kept = [[] for _ in range(3 * SERVING_THRESHOLDS[0])]
        assert gone() is None
        assert len(kept) == 3 * SERVING_THRESHOLDS[0]
