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
(exact: see ``smdh.adapters.memory.rollups``). A flush runs when ``flush_interval_s`` has
passed since the last one or ``max_dirty`` minutes are marked, and before every read, so
answers always include what was stored. Marks live in memory: if the process dies between
a telemetry commit and the next flush, ``rebuild`` recomputes a time range.

Enum durations depend on the neighbouring samples (a state holds until the next sample, at
most ``hold_s``), so a state sample also marks the minutes within ``hold_s`` around it.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from smdh.adapters.embedded.rollup_tables import RollupTables
from smdh.adapters.memory import rollups as r
from smdh.application.ports import ROLLUP_WIDTHS, RollupBucket, StateBucket
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
        flush_interval_s: float = 5.0,
        max_dirty: int = 20_000,
        busy_timeout_s: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = Path(path)
        self._registry = registry
        self.hold_s = hold_s
        self._interval = flush_interval_s
        self._max_dirty = max_dirty
        self._timeout = busy_timeout_s
        self._monotonic = monotonic
        self._tables = {t.name: RollupTables(t) for t in registry}
        self._lock = threading.RLock()
        self._dirty: dict[int, set[int]] = {}  # series id -> minute indices
        self._marked = 0
        self._last_flush = monotonic()
        self._series: dict[tuple[str, str, str], int] = {}
        self._types: dict[int, str] = {}
        self._conn = self._connect()
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
        with self._lock:
            self._conn.close()

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
    def paused(self) -> Iterator[None]:
        """Hold the store's lock with nothing pending (lifecycle writes on the same file)."""
        with self._lock:
            self.flush()
            yield

    def forget(self, tenant_id: str, device_id: str | None = None) -> None:
        """Drop cached series ids and marks of an erased tenant or device."""
        with self._lock:
            for key in [k for k in self._series if k[0] == tenant_id]:
                if device_id is None or key[1] == device_id:
                    series_id = self._series.pop(key)
                    self._dirty.pop(series_id, None)
                    self._types.pop(series_id, None)

    # --- maintenance --------------------------------------------------------------------

    def on_stored(self, samples: Sequence[DeviceSample]) -> None:
        """After-store hook: mark the minutes the batch touched; flush when due."""
        with self._lock:
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
            if due or self._marked >= self._max_dirty:
                self.flush()

    def _lookup(self, key: tuple[str, str, str]) -> int | None:
        if key[2] not in self._tables:
            return None
        row = self._conn.execute(_ONE_SERIES, key).fetchone()
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
            for series_id, key in known:
                self._series[key] = series_id
                self._types[series_id] = key[2]
            written = 0
            cursor = float(math.floor(start / 60) * 60)
            while cursor < end:
                stop = min(cursor + chunk_s, end)
                minutes = range(int(cursor // 60), math.ceil(stop / 60))
                for series_id, _ in known:
                    self._dirty.setdefault(series_id, set()).update(minutes)
                written += self.flush()
                cursor = stop
            return written

    def flush(self) -> int:
        """Recompute every marked minute, then the hours and days above them."""
        with self._lock:
            dirty, self._dirty, self._marked = self._dirty, {}, 0
            self._last_flush = self._monotonic()
            if not dirty:
                return 0
            written = 0
            with self.writing() as conn:
                for series_id, minutes in dirty.items():
                    tables = self._tables[self._types[series_id]]
                    written += self._minutes(conn, tables, series_id, sorted(minutes))
                    hours = sorted({m // 60 * 3600 for m in minutes})
                    written += self._regroup(conn, tables, series_id, hours, 3600)
                    days = sorted({h // 86_400 * 86_400 for h in hours})
                    written += self._regroup(conn, tables, series_id, days, 86_400)
            return written

    def _minutes(
        self, conn: sqlite3.Connection, tables: RollupTables, series_id: int, minutes: list[int]
    ) -> int:
        written = 0
        for run in _runs(minutes):
            lo, hi = run[0] * 60.0, (run[-1] + 1) * 60.0
            rows = conn.execute(tables.select_raw, (series_id, lo - self.hold_s, hi)).fetchall()
            if tables.enums:
                rows += conn.execute(tables.select_next, (series_id, hi)).fetchall()
            columns = {m: i + 1 for i, m in enumerate(tables.measures)}
            stamps = [row[0] for row in rows]
            out: list[list[Any]] = []
            empty: list[int] = []
            start_at = 0
            for minute in run:
                b0, b1 = minute * 60.0, minute * 60.0 + 60.0
                while start_at < len(rows) and rows[start_at][0] < b0:
                    start_at += 1
                stop = start_at
                while stop < len(rows) and rows[stop][0] < b1:
                    stop += 1
                numeric = {
                    m: r.numeric_bucket(b0, [
                        (row[0], row[columns[m]]) for row in rows[start_at:stop]
                        if row[columns[m]] is not None
                    ])
                    for m in tables.numeric
                }  # fmt: skip
                near = rows[bisect_left(stamps, b0 - self.hold_s) : stop + 1]
                states = {
                    m: r.state_bucket(b0, b1, [
                        (row[0], row[columns[m]]) for row in near if row[columns[m]] is not None
                    ], self.hold_s, bucket=b0)
                    for m in tables.enums
                }  # fmt: skip
                encoded = tables.encode(numeric, states)
                if encoded is None:
                    empty.append(minute)
                else:
                    out.append([series_id, minute * 60, *encoded])
            conn.executemany(tables.upsert(60), out)
            for minute in empty:
                conn.execute(tables.delete(60), (series_id, minute * 60, minute * 60 + 60))
            written += len(out)
        return written

    def _regroup(
        self,
        conn: sqlite3.Connection,
        tables: RollupTables,
        series_id: int,
        starts: list[int],
        width: int,
    ) -> int:
        finer_width = r.finer(width) or 60
        out: list[list[Any]] = []
        for start in starts:
            rows = conn.execute(tables.select(finer_width), (series_id, start, start + width))
            parts = [tables.decode(row) for row in rows]
            numeric = {
                m: r.merge_numeric(float(start), [p[0][m] for p in parts if m in p[0]])
                for m in tables.numeric
            }
            states = {
                m: r.merge_states(float(start), [p[1][m] for p in parts if m in p[1]])
                for m in tables.enums
            }
            encoded = tables.encode(numeric, states)
            if encoded is None:
                conn.execute(tables.delete(width), (series_id, start, start + width))
            else:
                out.append([series_id, start, *encoded])
        conn.executemany(tables.upsert(width), out)
        return len(out)

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
                self._numeric(tables, series_id, measure, start, end, width)
                for series_id, tables in self._device_series(tenant_id, device_id)
                if measure in tables.numeric
            ]
        if len(found) == 1:  # one series: whole and edge buckets never share a start
            return sorted(found[0], key=lambda b: b.start)
        return r.group_numeric(width, [b for parts in found for b in parts])

    def _numeric(
        self,
        tables: RollupTables,
        series_id: int,
        measure: str,
        start: float,
        end: float,
        width: int,
    ) -> list[RollupBucket]:
        whole, edges = r.split_range(start, end, width)
        out: list[RollupBucket] = []
        if whole is not None:
            rows = self._conn.execute(tables.select_numeric(width, measure), (series_id, *whole))
            out += [RollupBucket(float(row[0]), int(row[1]), *row[2:]) for row in rows]
        for lo, hi in edges:
            smaller = r.finer(width)
            if smaller is None:
                out += r.numeric_from_points(width, self._raw(tables, series_id, measure, lo, hi))
            else:
                out += r.group_numeric(
                    width, self._numeric(tables, series_id, measure, lo, hi, smaller)
                )
        return out

    def _raw(
        self, tables: RollupTables, series_id: int, measure: str, start: float, end: float
    ) -> list[r.Point]:
        index = tables.measures.index(measure) + 1
        rows = self._conn.execute(tables.select_raw, (series_id, start, end))
        return [(row[0], row[index]) for row in rows if row[index] is not None]

    def state_buckets(
        self, tenant_id: str, device_id: str, measure: str, start: float, end: float, width: int
    ) -> list[StateBucket]:
        r.check_width(width)
        with self._lock:
            self.flush()
            found = [
                self._states(tables, series_id, measure, start, end, width)
                for series_id, tables in self._device_series(tenant_id, device_id)
                if measure in tables.enums
            ]
        if len(found) == 1:
            return sorted(found[0], key=lambda b: b.start)
        return r.group_states(width, [b for parts in found for b in parts])

    def _states(
        self,
        tables: RollupTables,
        series_id: int,
        measure: str,
        start: float,
        end: float,
        width: int,
    ) -> list[StateBucket]:
        whole, edges = r.split_range(start, end, width)
        out: list[StateBucket] = []
        if whole is not None:
            rows = self._conn.execute(tables.select_states(width, measure), (series_id, *whole))
            out += [b for b in (tables.decode_states(measure, row) for row in rows) if b]
        for lo, hi in edges:
            smaller = r.finer(width)
            if smaller is None:
                points = self._raw(tables, series_id, measure, lo - self.hold_s, hi)
                index = tables.measures.index(measure) + 1
                after = self._conn.execute(tables.select_next, (series_id, hi)).fetchall()
                points += [(row[0], row[index]) for row in after if row[index] is not None]
                out += r.states_from_points(width, lo, hi, points, self.hold_s)
            else:
                out += r.group_states(
                    width, self._states(tables, series_id, measure, lo, hi, smaller)
                )
        return out


def _runs(minutes: list[int], gap: int = 3) -> Iterator[list[int]]:
    """Sorted minutes cut into runs; a run spans small gaps (one read covers them)."""
    run: list[int] = []
    for minute in minutes:
        if run and minute - run[-1] > gap:
            yield run
            run = []
        if run and minute - run[-1] > 1:
            run.extend(range(run[-1] + 1, minute))
        run.append(minute)
    if run:
        yield run
