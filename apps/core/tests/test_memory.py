"""A worker's start-up objects are frozen out of the collector's walks; garbage made afterwards is still freed."""

import gc
import weakref

from apps.core.memory import freeze_startup_objects


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_start_up_objects_are_frozen_and_later_cycles_still_collected():
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 10_000  # Django, the apps and the URLconf at least
        first, second = Node(), Node()
        first.other, second.other = second, first  # a cycle: only the collector can free it
        gone = weakref.ref(first)
        del first, second
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()  # the test process goes on as before
