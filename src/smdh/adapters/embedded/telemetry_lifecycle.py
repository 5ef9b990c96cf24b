"""Retention and erasure on the embedded SQLite files.

``SqliteTelemetryLifecycle`` (the ``TelemetryLifecycle`` port) deletes a tenant's old raw
samples and rollups, or all rows of a tenant or device (samples, ``latest``, rollups,
``series``), under the telemetry store's own write lock, and clears the series ids the
store's writer and the rollup store cache. ``compact`` makes deleted rows unrecoverable:
the deletes run with ``PRAGMA secure_delete = ON`` (freed space is zeroed), then ``VACUUM``
rebuilds the file and ``wal_checkpoint(TRUNCATE)`` empties the write-ahead log.

``SqlitePurger`` (the ``TenantDataPurger`` port) does the same for a file whose store has no
erase method: the event store, dead letters, credentials, each with its own statements.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from smdh.adapters.embedded.rollups import SqliteRollupStore
from smdh.adapters.embedded.telemetry_store import SqliteTelemetryStore
from smdh.adapters.embedded.telemetry_tables import identifier
from smdh.application.ports import SeriesInfo

_SERIES = "SELECT series_id, device_id, sensor_type, site_id FROM series WHERE tenant_id = ?"


def compact(conn: sqlite3.Connection) -> None:
    """Rebuild the file without free pages and empty its WAL (no deleted byte survives)."""
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


RETENTION_CHUNK = 64  # series per retention transaction


class SqliteTelemetryLifecycle:
    def __init__(self, store: SqliteTelemetryStore, rollups: SqliteRollupStore) -> None:
        self._store = store
        self._rollups = rollups

    @contextmanager
    def _writing(self, before: float | None = None) -> Iterator[sqlite3.Connection]:
        """The telemetry writer in a transaction with secure delete, rollups locked too.

        Deleting what lies before ``before`` needs no rollup marks flushed but those whose
        recomputation reads or writes before it (usually none: marks are recent); they are
        flushed first without the writer's lock, so ``paused`` has little left to do while
        ingest waits for the lock (a full flush takes seconds on a big fleet)."""
        store = self._store
        self._rollups.flush(before)
        with store._write_lock, self._rollups.paused(before):
            conn = store._writer
            if conn is None:
                raise RuntimeError("the telemetry store is closed")
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            finally:
                conn.execute("PRAGMA secure_delete = OFF")

    def _series(
        self, conn: sqlite3.Connection, tenant_id: str, device_id: str | None = None
    ) -> list[tuple[int, str, str, str]]:
        rows = conn.execute(_SERIES, (tenant_id,)).fetchall()
        return [
            (int(s), d, t, site)
            for s, d, t, site in rows
            if (device_id is None or d == device_id) and t in self._rollups.tables()
        ]

    def series(self, tenant_id: str) -> list[SeriesInfo]:
        with self._store._reading() as conn:
            out: list[SeriesInfo] = []
            for series_id, device, type_name, site in self._series(conn, tenant_id):
                raw = identifier(f"samples_{type_name}")
                first, last = conn.execute(
                    f"SELECT MIN(ts), MAX(ts) FROM {raw} WHERE series_id = ?",  # noqa: S608
                    (series_id,),
                ).fetchone()
                out.append(SeriesInfo(tenant_id, device, type_name, site, first, last))
        return out

    def delete_raw_before(self, tenant_id: str, before: float) -> int:
        deleted = 0
        for chunk in self._chunks(tenant_id):
            with self._writing(before) as conn:
                for series_id, _, type_name, _ in chunk:
                    raw = identifier(f"samples_{type_name}")
                    deleted += conn.execute(
                        f"DELETE FROM {raw} WHERE series_id = ? AND ts < ?",  # noqa: S608
                        (series_id, before),
                    ).rowcount
                    conn.execute(
                        "DELETE FROM latest WHERE series_id = ? AND ts < ?", (series_id, before)
                    )
        return deleted

    def delete_rollups_before(self, tenant_id: str, before: float) -> int:
        deleted = 0
        tables = self._rollups.tables()
        for chunk in self._chunks(tenant_id):
            with self._writing(before) as conn:
                for series_id, _, type_name, _ in chunk:
                    for width, name in tables[type_name].names.items():
                        deleted += conn.execute(
                            f"DELETE FROM {name} WHERE series_id = ? AND bucket + ? <= ?",  # noqa: S608
                            (series_id, width, before),
                        ).rowcount
        return deleted

    def _chunks(self, tenant_id: str) -> list[list[tuple[int, str, str, str]]]:
        """The tenant's series in groups of ``RETENTION_CHUNK``: retention commits one group
        at a time, so ingest (which needs the same writer) waits for one group at most,
        never for a whole big tenant."""
        with self._store._reading() as conn:
            series = self._series(conn, tenant_id)
        return [series[i : i + RETENTION_CHUNK] for i in range(0, len(series), RETENTION_CHUNK)]

    def erase(self, tenant_id: str, device_id: str | None = None) -> int:
        deleted = 0
        tables = self._rollups.tables()
        with self._writing() as conn:
            for series_id, _, type_name, _ in self._series(conn, tenant_id, device_id):
                names = [identifier(f"samples_{type_name}"), *tables[type_name].names.values()]
                for name in names:
                    deleted += conn.execute(
                        f"DELETE FROM {name} WHERE series_id = ?",  # noqa: S608
                        (series_id,),
                    ).rowcount
                conn.execute("DELETE FROM latest WHERE series_id = ?", (series_id,))
                conn.execute("DELETE FROM series WHERE series_id = ?", (series_id,))
            cache = self._store._series
            for key in [k for k in cache if k[0] == tenant_id]:
                if device_id is None or key[1] == device_id:
                    del cache[key]
        self._rollups.forget(tenant_id, device_id)
        return deleted

    def compact(self) -> None:
        store = self._store
        self._rollups.flush()
        with store._write_lock, self._rollups.paused():
            conn = store._writer
            if conn is None:
                raise RuntimeError("the telemetry store is closed")
            compact(conn)


class SqlitePurger:
    """Deletes a tenant's (or device's) rows from one SQLite file with ``statements``
    (each takes ``(tenant_id,)`` or, for a device, ``(tenant_id, device_id)``), then
    compacts the file. Runs on its own connection next to the store's."""

    def __init__(
        self,
        path: Path,
        tenant_statements: Sequence[str],
        device_statements: Sequence[str] = (),
        busy_timeout_s: float = 10.0,
    ) -> None:
        self._path = Path(path)
        self._tenant = tuple(tenant_statements)
        self._device = tuple(device_statements)
        self._timeout = busy_timeout_s

    def purge(self, tenant_id: str, device_id: str | None = None) -> int:
        if not self._path.exists():
            return 0
        conn = sqlite3.connect(self._path, timeout=self._timeout, isolation_level=None)
        try:
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("BEGIN IMMEDIATE")
            deleted = 0
            try:
                if device_id is None:
                    for sql in self._tenant:
                        deleted += conn.execute(sql, (tenant_id,)).rowcount
                else:
                    for sql in self._device:
                        deleted += conn.execute(sql, (tenant_id, device_id)).rowcount
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            compact(conn)
            return deleted
        finally:
            conn.close()


# The statements for the other embedded files (tables as their stores create them).
EVENT_TENANT = (
    # every event row carries its tenant; nothing is matched by the shape of an id, which
    # another tenant's ids may share (device ids may contain ':')
    "DELETE FROM events WHERE tenant_id = ?1 OR aggregate_id = 'tenant:' || ?1",
)
# A device's event streams go whole: its own, and every stream one of whose events names it
# as ``device_id`` (its alerts, whose later events such as an acknowledgement do not name
# the device, and rules scoped to it). Matched on the key and the exact value, never on the
# id alone, which other events may contain as a site, a sensor type or a state.
EVENT_DEVICE = (
    "DELETE FROM events WHERE tenant_id = ?1 AND aggregate_id IN (SELECT aggregate_id FROM"
    " events WHERE tenant_id = ?1 AND instr(data, '\"device_id\":\"' || ?2 || '\"') > 0)",
    "DELETE FROM events WHERE tenant_id = ?1 AND aggregate_id = 'device:' || ?1 || ':' || ?2",
)
DEAD_LETTER_TENANT = (
    "DELETE FROM dead_letters WHERE tenant_id = ?1",
    "DELETE FROM dead_letter_tenants WHERE tenant_id = ?1",
)
DEAD_LETTER_DEVICE = ("DELETE FROM dead_letters WHERE tenant_id = ?1 AND device_id = ?2",)
CREDENTIAL_TENANT = ("DELETE FROM credentials WHERE tenant_id = ?1",)
DELIVERY_TENANT = ("DELETE FROM deliveries WHERE tenant_id = ?1",)
DELIVERY_DEVICE = (
    "DELETE FROM deliveries WHERE tenant_id = ?1 AND json_extract(payload, '$.device_id') = ?2",
)
# alert_state.sqlite3 keys: "tenant|rule|device" (rule_state), "tenant|device" (last_seen);
# '|' never occurs in an id, so a prefix and a suffix match exactly (no LIKE wildcards)
_TENANT_KEY = "substr(key, 1, length(?1) + 1) = ?1 || '|'"
_DEVICE_KEY = "substr(key, -length(?2) - 1) = '|' || ?2"
ALERT_STATE_TENANT = (
    f"DELETE FROM rule_state WHERE {_TENANT_KEY}",  # noqa: S608 - constant SQL, bound values
    f"DELETE FROM last_seen WHERE {_TENANT_KEY}",  # noqa: S608 - constant SQL, bound values
)
ALERT_STATE_DEVICE = (
    f"DELETE FROM rule_state WHERE {_TENANT_KEY} AND {_DEVICE_KEY}",  # noqa: S608 - constant
    f"DELETE FROM last_seen WHERE {_TENANT_KEY} AND {_DEVICE_KEY}",  # noqa: S608 - constant
)
