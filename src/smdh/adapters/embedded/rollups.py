"""SQLite ``RollupStore``: 1-minute, 1-hour and 1-day rollups inside ``telemetry.sqlite3``.

Layout: one table per sensor type and width, ``rollup_<type>_<1m|1h|1d>``, keyed
``(series_id, bucket) WITHOUT ROWID`` (``bucket`` = start, epoch seconds, a multiple of the
width), with per numeric measure ``m``: ``m__n, m__lo, m__hi, m__sum, m__first, m__last,
m__t0, m__t1, m__inc`` and per enum measure and value ``v``: ``m__v__n`` (samples) and
``m__v__s`` (seconds the value held). Identifiers come from the sensor registry only.

Maintenance (``on_stored``, the ingest pipeline's after-store hook) only marks the
1-minute buckets a batch touched, in memory; ``flush`` recomputes them from the raw rows,
which is correct under upserts, redelivery and late data, and costs one range read per run
of consecutive dirty minutes of a series however many batches touched it. The 1-hour buckets
of those minutes are then rebuilt from their 1-minute rows and the days from their hours
(exact: see ``smdh.adapters.memory.rollups``). A flush runs when ``flush_interval_s`` (30 s)
has passed since the last one or ``max_dirty`` samples were marked, and before every read, so
answers always include what was stored. Each flush re-reads the raw rows of every touched
minute plus one hold period before it, so flushing every few seconds would re-read the
same rows many times over (measured: at 1,500 devices and a 5 s interval, 50 times the
ingest rate). With ``background=True`` (the hub) the periodic
flush runs in its own thread instead of inside the ingest batch that found it due, and
marking only takes a short lock of its own, so ingest never waits for a flush. Marks live
in memory: if the process dies between a telemetry commit and the next flush, ``rebuild``
recomputes a time range.

Enum durations depend on the neighbouring samples (a state holds until the next sample, at
most ``hold_s``), so a state sample also marks the minutes within ``hold_s`` around it.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from smdh.adapters.embedded.background_flusher import BackgroundFlusher
from smdh.adapters.embedded.rollup_compute import (
    Changes,
    compute_each,
    recompute_minutes,
    regroup,
)
from smdh.adapters.embedded.rollup_reads import read_numeric, read_states
from smdh.adapters.embedded.rollup_tables import RollupTables
from smdh.adapters.memory import rollups as r
from smdh.application.ports import ROLLUP_WIDTHS, BucketMeans, RollupBucket, StateBucket
from smdh.domain.sensors.registry import SensorRegistry
from smdh.domain.telemetry import DeviceSample

_SERIES = "SELECT series_id, sensor_type FROM series WHERE tenant_id = ? AND device_id = ?"
_ONE_SERIES = "SELECT series_id FROM series WHERE tenant_id = ? AND device_id = ?"
_ONE_SERIES += " AND sensor_type = ?"


class SqliteRollupStore:
    """Rollups in the telemetry file; see the module docstring for the design."""

    def __init__(
        self,
        path: Path,
        registry: SensorRegistry,
        *,
        hold_s: float = r.DEFAULT_HOLD_S,
        flush_interval_s: float = 30.0,
        max_dirty: int = 200_000,
        busy_timeout_s: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
        background: bool = False,
    ) -> None:
        self._path = Path(path)
        self._registry = registry
        self.hold_s = hold_s
        self._interval = flush_interval_s
        self._max_dirty = max_dirty
        self._timeout = busy_timeout_s
        self._monotonic = monotonic
        self._tables = {t.name: RollupTables(t) for t in registry}
        self._lock = threading.RLock()  # flushes, reads and writes on the connection
        self._marks = threading.Lock()  # the marks below, held briefly
        self._dirty: dict[int, set[int]] = {}  # series id -> minute indices
        self._marked = 0
        self._last_flush = monotonic()
        self._series: dict[tuple[str, str, str], int] = {}
        self._types: dict[int, str] = {}
        self._conn = self._connect()
        self._lookups = self._connect()  # series ids for marking, without the flush lock
        self._conn_open = True
        self._flusher = (
            BackgroundFlusher(self.flush_gently, flush_interval_s, "smdh-rollups")
            if background
            else None
        )
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for tables in self._tables.values():
                for width in ROLLUP_WIDTHS:
                    self._conn.execute(tables.create(width))
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            self._conn.close()
            raise
        if self._flusher is not None:
            self._flusher.ensure_started()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
        return conn

    @property
    def path(self) -> Path:
        return self._path

    def close(self) -> None:
        """Flush what is marked (a clean shutdown leaves nothing to rebuild), then close."""
        if self._flusher is not None:
            self._flusher.stop()
        with self._lock:
            if self._conn_open:
                self.flush()
        with self._lock, self._marks:
            self._conn_open = False
            self._conn.close()
            self._lookups.close()

    def tables(self) -> dict[str, RollupTables]:
        return dict(self._tables)

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """The store's connection in a write transaction, under its lock (lifecycle)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    @contextmanager
    def paused(self, before: float | None = None) -> Iterator[None]:
        """Hold the store's lock (lifecycle writes on the same file) with nothing pending
        that reads or writes anything before ``before`` (with None: nothing pending)."""
        with self._lock:
            self.flush(before)
            yield

    def forget(self, tenant_id: str, device_id: str | None = None) -> None:
        """Drop cached series ids and marks of an erased tenant or device."""
        with self._lock, self._marks:
            for key in [k for k in self._series if k[0] == tenant_id]:
                if device_id is None or key[1] == device_id:
                    series_id = self._series.pop(key)
                    self._dirty.pop(series_id, None)
                    self._types.pop(series_id, None)

    # --- maintenance --------------------------------------------------------------------

    def on_stored(self, samples: Sequence[DeviceSample]) -> None:
        """After-store hook: mark the minutes the batch touched; flush when due."""
        with self._marks:
            hold = self.hold_s
            series = self._series
            for sample in samples:
                key = (sample.tenant_id, sample.device_id, sample.sensor_type)
                series_id = series.get(key)
                if series_id is None:
                    series_id = self._lookup(key)
                    if series_id is None:
                        continue
                minutes = self._dirty.setdefault(series_id, set())
                ts = float(sample.timestamp)
                if self._tables[sample.sensor_type].enums:
                    first, last = int((ts - hold) // 60), int((ts + hold) // 60)
                    minutes.update(range(first, last + 1))
                else:
                    minutes.add(int(ts // 60))
            self._marked += len(samples)
            due = self._monotonic() - self._last_flush >= self._interval
            due = due or self._marked >= self._max_dirty
        if self._flusher is not None:
            if due:
                self._flusher.wake()
        elif due:
            self.flush()

    def _lookup(self, key: tuple[str, str, str]) -> int | None:
        if key[2] not in self._tables:
            return None
        row = self._lookups.execute(_ONE_SERIES, key).fetchone()
        if row is None:
            return None
        self._series[key] = int(row[0])
        self._types[int(row[0])] = key[2]
        return int(row[0])

    def rebuild(self, tenant_id: str, start: float, end: float, chunk_s: int = 86_400) -> int:
        """Recompute a tenant's buckets over ``[start, end)`` from the raw samples, one
        ``chunk_s`` at a time (bounded memory)."""
        with self._lock:
            self.flush()
            rows = self._conn.execute(
                "SELECT series_id, tenant_id, device_id, sensor_type FROM series"
                " WHERE tenant_id = ?",
                (tenant_id,),
            ).fetchall()
            known = [(s, (tn, d, t)) for s, tn, d, t in rows if t in self._tables]
            with self._marks:
                for series_id, key in known:
                    self._series[key] = series_id
                    self._types[series_id] = key[2]
            written = 0
            cursor = float(math.floor(start / 60) * 60)
            while cursor < end:
                stop = min(cursor + chunk_s, end)
                minutes = range(int(cursor // 60), math.ceil(stop / 60))
                with self._marks:
                    for series_id, _ in known:
                        self._dirty.setdefault(series_id, set()).update(minutes)
                written += self.flush()
                cursor = stop
            return written

    def flush(self, before: float | None = None) -> int:
        """Recompute every marked minute, then the hours and days above them; with
        ``before``, only the minutes whose recomputation reads or writes before it."""
        with self._lock:
            with self._marks:
                if before is None:
                    dirty, self._dirty, self._marked = self._dirty, {}, 0
                    self._last_flush = self._monotonic()
                else:
                    dirty = self._take_marks_before((before + self.hold_s) / 60)
            if not dirty:
                return 0
            try:
                return self._recompute(dirty)
            except BaseException:
                self._restore(dirty)
                raise

    def flush_gently(self, series_per_step: int = 8, pause_s: float = 0.005) -> int:
        """``flush`` in small steps with pauses, for the background thread: each step takes
        the marks of a few series and holds the lock only for them, so readers (which flush
        what is left themselves) and the hot path, which shares the interpreter lock, never
        wait for a whole flush (seconds of pure Python for a fleet of 1,500 devices)."""
        with self._marks:
            self._last_flush = self._monotonic()
            self._marked = 0
            steps = math.ceil(len(self._dirty) / series_per_step)
        written = 0
        for _ in range(steps):  # only what was marked at the start: ingest keeps marking
            with self._lock:
                with self._marks:
                    taken = {s: self._dirty.pop(s) for s in list(self._dirty)[:series_per_step]}
                if not taken:
                    break
                try:
                    written += self._recompute(taken)
                except BaseException:
                    self._restore(taken)
                    raise
            time.sleep(pause_s)
        return written

    def _restore(self, taken: dict[int, set[int]]) -> None:
        with self._marks:  # rolled back: keep the marks for the next flush
            for series_id, minutes in taken.items():
                self._dirty.setdefault(series_id, set()).update(minutes)

    def _take_marks_before(self, limit: float) -> dict[int, set[int]]:
        taken: dict[int, set[int]] = {}
        for series_id, minutes in list(self._dirty.items()):
            old = {m for m in minutes if m < limit}
            if old:
                taken[series_id] = old
                minutes.difference_update(old)
                if not minutes:
                    del self._dirty[series_id]
        return taken

    def _recompute(self, dirty: dict[int, set[int]]) -> int:
        """Minutes, then their hours, then their days: each level computed by reading, then
        written in one short transaction (the next level reads what it wrote)."""
        series = [(s, self._tables[self._types[s]], sorted(m)) for s, m in dirty.items()]
        conn, hold = self._conn, self.hold_s
        written = self._write(
            compute_each(series, lambda s, t, m: recompute_minutes(conn, t, s, m, hold))
        )
        hours = [(s, t, sorted({m // 60 * 3600 for m in ms})) for s, t, ms in series]
        written += self._write(compute_each(hours, lambda s, t, h: regroup(conn, t, s, h, 3600)))
        days = [(s, t, sorted({h // 86_400 * 86_400 for h in hs})) for s, t, hs in hours]
        written += self._write(compute_each(days, lambda s, t, d: regroup(conn, t, s, d, 86_400)))
        return written

    def _write(self, changes: list[tuple[RollupTables, Changes]]) -> int:
        with self.writing() as conn:
            return sum(change.apply(conn, tables) for tables, change in changes)

    # --- reads --------------------------------------------------------------------------

    def _device_series(self, tenant_id: str, device_id: str) -> list[tuple[int, RollupTables]]:
        rows = self._conn.execute(_SERIES, (tenant_id, device_id)).fetchall()
        return [(s, self._tables[t]) for s, t in rows if t in self._tables]

    def buckets(
        self, tenant_id: str, device_id: str, measure: str, start: float, end: float, width: int
    ) -> list[RollupBucket]:
        r.check_width(width)
        with self._lock:
            self.flush()
            found = [
                read_numeric(self._conn, tables, series_id, measure, start, end, width)
                for series_id, tables in self._device_series(tenant_id, device_id)
                if measure in tables.numeric
            ]
        if len(found) == 1:  # one series: whole and edge buckets never share a start
            return sorted(found[0], key=lambda b: b.start)
        return r.group_numeric(width, [b for parts in found for b in parts])

    def means(
        self,
        tenant_id: str,
        device_id: str,
        measures: Sequence[str],
        start: float,
        end: float,
        width: int,
    ) -> dict[str, BucketMeans]:
        """One read of the ``n``/``sum`` columns of every measure (edges as ``buckets``)."""
        r.check_width(width)
        with self._lock:
            self.flush()
            series = self._device_series(tenant_id, device_id)
            if len(series) != 1:  # none, or a device whose sensor type changed: merge
                return r.means_of(
                    lambda m: self.buckets(tenant_id, device_id, m, start, end, width), measures
                )
            series_id, tables = series[0]
            out = {m: BucketMeans() for m in measures}
            whole, edges = r.split_range(start, end, width)
            for part in sorted([*edges, *([] if whole is None else [whole])]):
                if part == whole:
                    tables.read_means(self._conn, width, series_id, part, out)
                    continue
                for m in (m for m in measures if m in tables.numeric):
                    for b in read_numeric(self._conn, tables, series_id, m, *part, width):
                        out[m].add(b.start, b.average, b.count)
        return out

    def state_buckets(
        self, tenant_id: str, device_id: str, measure: str, start: float, end: float, width: int
    ) -> list[StateBucket]:
        r.check_width(width)
        with self._lock:
            self.flush()
            found = [
                read_states(self._conn, tables, series_id, measure, start, end, width, self.hold_s)
                for series_id, tables in self._device_series(tenant_id, device_id)
                if measure in tables.enums
            ]
        if len(found) == 1:
            return sorted(found[0], key=lambda b: b.start)
        return r.group_states(width, [b for parts in found for b in parts])
