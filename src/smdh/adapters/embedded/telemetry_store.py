"""SQLite ``TelemetryStore``: the local default, one file ``telemetry.sqlite3``.

Chosen by benchmark over DuckDB and a narrow layout; the figures and the reasoning are in
``docs/benchmarks.md`` ("Embedded time-series store: engine choice"). Layout, generated from
the sensor registry at open (identifiers checked against ``[a-z][a-z0-9_]{0,62}`` and
quoted; every value is a bound parameter):

* ``series``: (tenant, device, sensor type) -> small integer ``series_id`` and last site.
  Every query resolves (tenant, device) here first, both in the WHERE clause.
* ``samples_<type>``: ``(series_id, ts, <a column per measure>)``, ``PRIMARY KEY (series_id,
  ts) WITHOUT ROWID``: a device's samples are contiguous and in time order. Writes upsert
  with ``SET m = COALESCE(excluded.m, m)``, so a rewrite replaces only the measures it
  carries. A measure new in the registry is added by ``ALTER TABLE ADD COLUMN`` at open.
* ``latest``: (series_id, measure) -> (ts, value), upserted per batch unless older, so
  latest-per-device reads O(measures) rows.

WAL journal: one writer connection under a lock and a pool of reader connections; readers
and the writer do not block each other. A ``write`` is one ``BEGIN IMMEDIATE`` transaction
committed before it returns. ``synchronous=NORMAL`` (default, as the event store): durable
against a crash of the process; a power loss may undo the last commits, never corrupt the
file. ``"FULL"`` fsyncs every commit (see docs/benchmarks.md for why and what it costs).
One store object per file per process, since the writer caches series ids.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from math import inf
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

from smdh.adapters.embedded.telemetry_tables import SampleTable
from smdh.adapters.memory.telemetry_store import (
    PartialBucket,
    aggregates_measure,
    check_aggregate,
    check_limit,
    check_measures,
    check_sample,
    check_window,
    latest_points,
    merge_buckets,
    merge_ranges,
    newest_points,
    unknown_sensor_type,
)
from smdh.domain.sensors.registry import SensorRegistry
from smdh.domain.telemetry import Bucket, DeviceSample, MeasurePoint

FILE_NAME = "telemetry.sqlite3"
_MAX_IDLE_READERS = 4

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS series (series_id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL,"
    " device_id TEXT NOT NULL, sensor_type TEXT NOT NULL, site_id TEXT NOT NULL,"
    " UNIQUE (tenant_id, device_id, sensor_type))",
    "CREATE TABLE IF NOT EXISTS latest (series_id INTEGER NOT NULL, measure TEXT NOT NULL,"
    " ts REAL NOT NULL, value, PRIMARY KEY (series_id, measure)) WITHOUT ROWID",
)
_SERIES_UPSERT = (
    "INSERT INTO series (tenant_id, device_id, sensor_type, site_id) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (tenant_id, device_id, sensor_type) DO UPDATE SET site_id = excluded.site_id"
    " RETURNING series_id"
)
_SERIES_OF_DEVICE = "SELECT series_id, sensor_type, site_id FROM series WHERE tenant_id = ?"
_SERIES_OF_DEVICE += " AND device_id = ? ORDER BY series_id"
_LATEST_UPSERT = (
    "INSERT INTO latest (series_id, measure, ts, value) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (series_id, measure) DO UPDATE SET ts = excluded.ts, value = excluded.value"
    " WHERE excluded.ts >= latest.ts"
)
_LATEST_OF_DEVICE = (
    "SELECT s.sensor_type, l.measure, l.ts, l.value FROM series AS s JOIN latest AS l"
    " ON l.series_id = s.series_id WHERE s.tenant_id = ? AND s.device_id = ? ORDER BY s.series_id"
)


_timestamp, _values = itemgetter(0), itemgetter(1)
SeriesKey = tuple[str, str, str]  # tenant, device, sensor type
# series id, columns, column names, and the appends of the type's rows and series' entries
_Slot = tuple[
    int,
    tuple[str, ...],
    frozenset[str],
    Callable[[tuple[Any, ...]], None],
    Callable[[tuple[float, Mapping[str, Any]]], None],
]


class _Batch:
    """The rows of one ``write``, built with one dict lookup per sample: samples of one
    (tenant, device, sensor type, site) share a slot holding the series id, the columns and
    the lists the rows go to."""

    def __init__(self, store: SqliteTelemetryStore, conn: sqlite3.Connection) -> None:
        self.store, self.conn = store, conn
        self.rows: dict[str, list[tuple[Any, ...]]] = {}  # per sensor type
        self.entries: dict[int, list[tuple[float, Mapping[str, Any]]]] = {}  # per series
        self.fresh: dict[SeriesKey, tuple[int, str]] = {}  # series ids and sites to cache
        self.moved: set[SeriesKey] = set()  # series seen with two sites in this batch

    def add(self, samples: Sequence[DeviceSample]) -> None:
        slots: dict[tuple[str, str, str, str], _Slot] = {}
        find = slots.get
        for sample in samples:
            values = sample.values
            if None in values.values():
                values = {k: v for k, v in values.items() if v is not None}
                if not values:
                    continue  # nothing to store
            elif not values:
                continue
            key = (sample.tenant_id, sample.device_id, sample.sensor_type, sample.site_id)
            slot = find(key)
            if slot is None:
                slot = slots[key] = self._slot(key)
            series_id, columns, names, add_row, add_entry = slot
            timestamp = float(sample.timestamp)
            if not 0.0 <= timestamp < inf or not names.issuperset(values):
                check_sample(sample, self.store._tables[sample.sensor_type].sensor_type)
            add_row((series_id, timestamp, *map(values.get, columns)))
            add_entry((timestamp, values))
        for sample in reversed(samples):  # a device seen at two sites: its last one wins
            key3 = (sample.tenant_id, sample.device_id, sample.sensor_type)
            if key3 in self.moved and any(v is not None for v in sample.values.values()):
                self.moved.discard(key3)
                series_id = self.store._series_id(self.conn, key3, sample.site_id)
                self.fresh[key3] = (series_id, sample.site_id)
            if not self.moved:
                break

    def _slot(self, key: tuple[str, str, str, str]) -> _Slot:
        tenant_id, device_id, type_name, site_id = key
        table = self.store._tables.get(type_name)
        if table is None:
            unknown_sensor_type(self.store._registry, type_name)
        series_key = (tenant_id, device_id, type_name)
        cached = self.fresh.get(series_key)
        if cached is not None:
            self.moved.add(series_key)
        else:
            cached = self.store._series.get(series_key)
        if cached is None or cached[1] != site_id:
            cached = (self.store._series_id(self.conn, series_key, site_id), site_id)
        self.fresh[series_key] = cached
        rows = self.rows.setdefault(type_name, [])
        entries = self.entries.setdefault(cached[0], [])
        return cached[0], table.columns, table.names, rows.append, entries.append

    def latest(self) -> list[tuple[int, str, float, Any]]:
        """The batch's newest point of each (series, measure), for the ``latest`` table."""
        points: list[tuple[int, str, float, Any]] = []
        for series_id, entries in self.entries.items():
            points.extend([(series_id, *point) for point in _newest_points(entries)])
        return points


def _newest_points(
    entries: list[tuple[float, Mapping[str, Any]]],
) -> list[tuple[str, float, Any]]:
    """``newest_points`` of one series, the same result, from the last sample alone when it
    is the newest (ties included: the later sample wins) and carries every measure of the
    batch, as when samples arrive in time order with the same measures."""
    last_ts, last = entries[-1]
    if len(entries) > 1 and (
        max(map(_timestamp, entries)) != last_ts
        or len(set().union(*map(_values, entries))) != len(last)  # a measure it lacks
    ):
        return newest_points(entries)
    return [(name, last_ts, value) for name, value in last.items()]


class SqliteTelemetryStore:
    """Telemetry in one SQLite file; see the module docstring for the design."""

    def __init__(
        self,
        path: Path,
        registry: SensorRegistry,
        *,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        busy_timeout_s: float = 10.0,
        cache_mb: int = 64,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, got {synchronous!r}")
        self._path = Path(path)
        self._registry = registry
        self._timeout = busy_timeout_s
        self._tables = {t.name: SampleTable(t) for t in registry}
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._closed = False
        # (tenant, device, sensor type) -> (series id, site id), committed rows only
        self._series: dict[tuple[str, str, str], tuple[int, str]] = {}
        conn = self._connect()
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise RuntimeError(f"could not put {self._path} in WAL mode (got {mode!r})")
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            conn.execute(f"PRAGMA cache_size = {-1024 * int(cache_mb)}")
            conn.execute("PRAGMA journal_size_limit = 67108864")
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._writer: sqlite3.Connection | None = conn

    @property
    def path(self) -> Path:
        return self._path

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Create what the registry needs; add the columns of measures new since last open."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                conn.execute(statement)
            for table in self._tables.values():
                conn.execute(table.create)
                present = {row[1] for row in conn.execute(f"PRAGMA table_info({table.name})")}
                for column, definition in table.definitions.items():
                    if column not in present:
                        conn.execute(f"ALTER TABLE {table.name} ADD COLUMN {definition}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._write_lock, self._pool_lock:
            self._closed = True
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            for conn in self._idle:
                conn.close()
            self._idle.clear()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._pool_lock:
            if self._closed:
                raise RuntimeError(f"telemetry store {self._path} is closed")
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only = ON")
        try:
            yield conn
        finally:
            with self._pool_lock:
                if self._closed or len(self._idle) >= _MAX_IDLE_READERS:
                    conn.close()
                else:
                    self._idle.append(conn)

    # --- writes -------------------------------------------------------------------------

    def write(self, samples: Sequence[DeviceSample]) -> None:
        if not samples:
            return
        with self._write_lock:
            if self._writer is None:
                raise RuntimeError(f"telemetry store {self._path} is closed")
            conn = self._writer
            batch = _Batch(self, conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                batch.add(samples)
                for type_name, type_rows in batch.rows.items():
                    conn.executemany(self._tables[type_name].upsert, type_rows)
                conn.executemany(_LATEST_UPSERT, batch.latest())
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._series.update(batch.fresh)

    def _series_id(self, conn: sqlite3.Connection, key: tuple[str, str, str], site_id: str) -> int:
        (series_id,) = conn.execute(_SERIES_UPSERT, (*key, site_id)).fetchone()
        return int(series_id)

    # --- queries ------------------------------------------------------------------------

    def _device_series(
        self, conn: sqlite3.Connection, tenant_id: str, device_id: str
    ) -> list[tuple[int, SampleTable, str]]:
        """The device's series of registered sensor types, oldest first."""
        rows = conn.execute(_SERIES_OF_DEVICE, (tenant_id, device_id)).fetchall()
        return [(s, self._tables[t], site) for s, t, site in rows if t in self._tables]

    def latest(self, tenant_id: str, device_id: str) -> list[MeasurePoint]:
        with self._reading() as conn:
            rows = conn.execute(_LATEST_OF_DEVICE, (tenant_id, device_id)).fetchall()
        find = self._registry.find
        return latest_points((find(t), m, ts, value) for t, m, ts, value in rows)

    def query_range(
        self,
        tenant_id: str,
        device_id: str,
        start: float,
        end: float,
        measures: Sequence[str] | None = None,
        limit: int = 1000,
    ) -> list[DeviceSample]:
        check_window(start, end)
        check_limit(limit)
        wanted = check_measures(self._registry, measures)
        runs: list[list[DeviceSample]] = []
        with self._reading() as conn:
            for series_id, table, site_id in self._device_series(conn, tenant_id, device_id):
                columns = [c for c in table.columns if measures is None or c in wanted]
                if not columns:
                    continue
                cursor = conn.execute(table.select_range(columns), (series_id, start, end, limit))
                sample = partial(DeviceSample, tenant_id, site_id, device_id, table.type_name)
                runs.append(
                    [
                        sample(row[0], {c: v for c, v in zip(columns, row[1:]) if v is not None})  # noqa: B905 - one value per column
                        for row in cursor
                    ]
                )
        return merge_ranges(runs, limit) if runs else []

    def aggregate(
        self,
        tenant_id: str,
        device_id: str,
        measure: str,
        start: float,
        end: float,
        bucket_seconds: int,
    ) -> list[Bucket]:
        check_window(start, end)
        check_aggregate(self._registry, measure, bucket_seconds)
        per_series: list[list[PartialBucket]] = []
        with self._reading() as conn:
            for series_id, table, _ in self._device_series(conn, tenant_id, device_id):
                if not aggregates_measure(table.sensor_type, measure):
                    continue
                params = {"series": series_id, "start": start, "end": end, "width": bucket_seconds}
                rows = conn.execute(table.select_buckets(measure), params)
                per_series.append([PartialBucket(*row) for row in rows])
        return merge_buckets(bucket_seconds, per_series)
