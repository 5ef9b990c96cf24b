"""The hub's garbage-collector settings: raised thresholds, frozen start-up objects, and a
rare thaw that still finds reference cycles among frozen objects."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from smdh.entrypoints import gc_tuning


@pytest.fixture(autouse=True)
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_tuning_freezes_what_exists_and_raises_the_thresholds() -> None:
    gc_tuning.tune_for_server(10_000, 15, 30)
    assert gc.get_threshold() == (10_000, 15, 30)
    assert gc.get_freeze_count() > 0
    with pytest.raises(ValueError, match="positive"):
        gc_tuning.tune_for_server(0)


def test_a_cycle_among_frozen_objects_is_only_collected_by_the_thaw() -> None:
    a, b = Node(), Node()
    a.other, b.other = b, a
    alive = weakref.ref(a)
    gc_tuning.freeze_survivors()
    del a, b
    gc.collect()
    assert alive() is not None  # frozen: a full collection skips it
    pause = gc_tuning.thaw_and_collect()
    assert alive() is None and pause >= 0
    assert gc.get_freeze_count() > 0  # frozen again afterwards
