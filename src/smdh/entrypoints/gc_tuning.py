"""Garbage-collector settings for the long-running hub (CPython 3.11).

Measured with ``benchmarks/bench_mqtt_end_to_end.py`` at 1,500 msg/s (docs/benchmarks.md):
with the default thresholds (700, 10, 10) a full collection ran every 2-3 s and stopped
the event loop for 300-800 ms, the whole tail of the publish -> durable latency. The cause
is the message rate: every in-flight message's objects live for the few tens of
milliseconds until their batch commits, long enough to survive two young collections at
700 allocations each, so they are promoted to the old generation, which then crosses the
collector's "25 % new" trigger every couple of seconds and is walked in full (well over a
million objects once 1,500 device sessions are connected).

So the hub (1) collects the young generation every ``young_threshold`` allocations instead
of 700, so short-lived message objects die young (reference counting frees them; the
collector never sees them again), and (2) moves what exists once start-up is over, and
then the long-lived objects of each ``freeze_every_s`` period, into the permanent
generation (``gc.freeze``), which full collections skip. Reference cycles among frozen
objects are only found when ``thaw_every_s`` elapses: everything is unfrozen and collected
once (one pause of the old length, by default once an hour), then frozen again.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time

log = logging.getLogger(__name__)

YOUNG_THRESHOLD = 50_000
MIDDLE_THRESHOLD = 20
OLD_THRESHOLD = 50
FREEZE_EVERY_S = 60.0
THAW_EVERY_S = 3600.0
# The event loop gives up the interpreter lock on every socket call and must win it back;
# while a worker thread computes (a rollup flush, a retention pass), each win waits up to
# the switch interval, 5 ms by default, thousands of times a second.
SWITCH_INTERVAL_S = 0.001


def tune_for_server(
    young_threshold: int = YOUNG_THRESHOLD,
    middle_threshold: int = MIDDLE_THRESHOLD,
    old_threshold: int = OLD_THRESHOLD,
    switch_interval_s: float = SWITCH_INTERVAL_S,
) -> None:
    """Collect once, freeze what start-up built, raise the thresholds, and hand the
    interpreter lock between threads more often."""
    if young_threshold < 1 or middle_threshold < 1 or old_threshold < 1:
        raise ValueError("garbage-collector thresholds must be positive")
    gc.collect()
    gc.freeze()
    gc.set_threshold(young_threshold, middle_threshold, old_threshold)
    sys.setswitchinterval(switch_interval_s)


def freeze_survivors() -> None:
    """Move every object the collector tracks out of future collections. No collection
    first: the young generations can hold a million objects by now, and walking them is
    the pause this module exists to avoid; their cycles are found at the next thaw."""
    gc.freeze()


def thaw_and_collect() -> float:
    """Unfreeze, collect everything (finds cycles among formerly frozen objects), refreeze;
    returns the pause in seconds."""
    began = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return time.perf_counter() - began


async def keep_frozen(
    freeze_every_s: float = FREEZE_EVERY_S, thaw_every_s: float = THAW_EVERY_S
) -> None:
    """Runs for the life of the hub: freeze survivors often, thaw and collect rarely."""
    last_thaw = time.monotonic()
    while True:
        await asyncio.sleep(freeze_every_s)
        if time.monotonic() - last_thaw >= thaw_every_s:
            pause = thaw_and_collect()
            last_thaw = time.monotonic()
            log.info("full garbage collection of frozen objects took %.0f ms", pause * 1000)
        else:
            freeze_survivors()
