"""The hub's rollup store flushes in its own thread: ingest never runs a flush, readers
still see every stored sample, concurrent ingest during flushes loses no mark, and closing
flushes what is marked."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from smdh.adapters.embedded.rollups import SqliteRollupStore
from smdh.adapters.embedded.telemetry_store import FILE_NAME, SqliteTelemetryStore
from smdh.adapters.memory.rollups import InMemoryRollupStore
from smdh.domain.sensors import default_registry
from tests.integration.analytics.test_rollups import T0, assert_same, machine

pytestmark = pytest.mark.integration


def test_ingest_does_not_flush_and_concurrent_flushes_lose_nothing(tmp_path: Path) -> None:
    registry = default_registry()
    telemetry = SqliteTelemetryStore(tmp_path / FILE_NAME, registry)
    rollups = SqliteRollupStore(
        tmp_path / FILE_NAME, registry, flush_interval_s=0.01, background=True
    )
    flushed_in: set[str] = set()
    recompute = rollups._recompute

    def recording(dirty: dict[int, set[int]]) -> int:
        flushed_in.add(threading.current_thread().name)
        return recompute(dirty)

    rollups._recompute = recording  # type: ignore[method-assign]
    rng = random.Random(11)
    times = sorted(T0 + rng.uniform(0, 3 * 3600) for _ in range(4000))
    try:
        for i in range(0, len(times), 100):
            batch = [machine(ts, rng) for ts in times[i : i + 100]]
            telemetry.write(batch)
            rollups.on_stored(batch)  # the after-store hook, as the pipeline calls it
            time.sleep(0.002)  # let the flusher run between batches, as under live ingest
        assert flushed_in == {"smdh-rollups"}, "the ingest thread must never flush"
        assert_same(rollups, InMemoryRollupStore(telemetry, registry))  # reads flush first
    finally:
        rollups.close()
        telemetry.close()


def test_close_flushes_the_marks_left(tmp_path: Path) -> None:
    registry = default_registry()
    path = tmp_path / FILE_NAME
    telemetry = SqliteTelemetryStore(path, registry)
    rollups = SqliteRollupStore(path, registry, flush_interval_s=3600.0, background=True)
    batch = [machine(T0 + n, random.Random(n)) for n in range(120)]
    telemetry.write(batch)
    rollups.on_stored(batch)
    rollups.close()  # nothing has flushed yet: the interval is an hour
    reopened = SqliteRollupStore(path, registry, flush_interval_s=3600.0)
    try:
        # a fresh store has no marks, so what it reads was written by close()
        minutes = reopened.buckets("acme", "m1", "cycle_count", T0, T0 + 120, 60)
        assert sum(b.count for b in minutes) == sum("cycle_count" in s.values for s in batch)
    finally:
        reopened.close()
        telemetry.close()


def test_retention_flushes_only_the_marks_that_reach_before_its_cutoff(tmp_path: Path) -> None:
    registry = default_registry()
    path = tmp_path / FILE_NAME
    telemetry = SqliteTelemetryStore(path, registry)
    rollups = SqliteRollupStore(path, registry, flush_interval_s=3600.0)
    old = [machine(T0 + n, random.Random(n)) for n in range(0, 60, 5)]
    new = [machine(T0 + 7200 + n, random.Random(n)) for n in range(0, 60, 5)]
    table = rollups.tables()["machine"].names[60]
    try:
        for batch in (old, new):
            telemetry.write(batch)
            rollups.on_stored(batch)
        every = f"SELECT bucket FROM {table}"  # noqa: S608 - a registry table name
        # what a retention pass with that cutoff holds while it deletes
        with rollups.paused(before=T0 + 600), sqlite3.connect(path) as conn:
            buckets = [b for (b,) in conn.execute(every)]
        assert buckets and all(b < T0 + 600 for b in buckets)  # the new minutes still wait
        rollups.flush()
        with sqlite3.connect(path) as conn:
            assert any(b >= T0 + 7200 for (b,) in conn.execute(every))
    finally:
        rollups.close()
        telemetry.close()
