"""A worker's start-up objects are frozen out of the collector's walks; garbage made afterwards is still freed."""

import gc
import weakref

from apps.core.memory import YOUNG_THRESHOLD, freeze_startup_objects


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_start_up_objects_are_frozen_and_later_cycles_still_collected():
    thresholds = gc.get_threshold()
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 10_000  # Django, the apps and the URLconf at least
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *thresholds[1:])
        first, second = Node(), Node()
        first.other, second.other = second, first  # a cycle: only the collector can free it
        gone = weakref.ref(first)
        del first, second
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()  # the test process goes on as before
        gc.set_threshold(*thresholds)


def test_a_cycle_is_freed_by_the_young_collections_alone_within_the_threshold():
    thresholds = gc.get_threshold()
    try:
        gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
        gc.collect()  # counts from zero: no young collection moves the cycle on before it is garbage
        first, second = Node(), Node()
        first.other, second.other = second, first
        gone = weakref.ref(first)
        del first, second
        kept = [[] for _ in range(2 * YOUNG_THRESHOLD)]  # tracked allocations: set off at least one young collection
        assert gone() is None
        del kept
    finally:
        gc.set_threshold(*thresholds)
