"""SQLite ``EventStore``: the local default, one file, WAL journal.

Design choices:

* **One connection per store, guarded by a lock** (``check_same_thread=False``). SQLite
  admits one writer at a time anyway, and the dominant cost of a load is deserializing rows
  in Python, which happens *outside* the lock, so per-thread connections would buy little
  while leaking connections of finished pool threads. The store is safe to call from the
  aiohttp loop thread and from worker threads. Several stores (or processes) on one file
  coordinate through SQLite's own locking and ``busy_timeout``.
* **Appends are one ``BEGIN IMMEDIATE`` transaction**: the write lock is taken before the
  current versions are read, so the version check and the inserts are atomic with respect
  to every other writer. ``UNIQUE(aggregate_id, version)`` is the backstop: a violation is
  reported as ``ConcurrencyConflict`` too, and either way nothing of the batch is stored.
* **Loads are one indexed query** on ``(aggregate_id, version)`` and linear deserialization.
* ``AUTOINCREMENT`` positions never go backwards and, with a single writer at a time,
  commit in order, so ``read_all(after_position=...)`` never skips a late commit.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from smdh.adapters.embedded.sqlite_files import open_wal_database
from smdh.adapters.memory.event_store import check_limit, check_versions, group_versions
from smdh.adapters.serialization import EventSerializer, SerializedEvent
from smdh.application.ports import StoredEvent
from smdh.domain.shared.errors import ConcurrencyConflict
from smdh.domain.shared.events import DomainEvent

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS events (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        aggregate_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        tenant_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        schema_version INTEGER NOT NULL,
        occurred_at TEXT NOT NULL,
        actor TEXT NOT NULL,
        data TEXT NOT NULL,
        UNIQUE (aggregate_id, version)
    )
    """,
    "CREATE INDEX IF NOT EXISTS events_tenant_position ON events (tenant_id, position)",
)

# The column order of SerializedEvent, so a row builds a record positionally.
_RECORD_COLUMNS = (
    "aggregate_id, version, tenant_id, event_type, schema_version, occurred_at, actor, data"
)

_INSERT = f"INSERT INTO events ({_RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
_CURRENT_VERSION = "SELECT COALESCE(MAX(version), 0) FROM events WHERE aggregate_id = ?"
_LOAD = (
    f"SELECT {_RECORD_COLUMNS} FROM events"  # noqa: S608
    " WHERE aggregate_id = ? AND version > ? ORDER BY version"
)
_READ_ALL = (
    f"SELECT position, {_RECORD_COLUMNS} FROM events"  # noqa: S608
    " WHERE position > ? ORDER BY position LIMIT ?"
)
_READ_ALL_TENANT = (
    f"SELECT position, {_RECORD_COLUMNS} FROM events"  # noqa: S608
    " WHERE tenant_id = ? AND position > ? ORDER BY position LIMIT ?"
)


class SqliteEventStore:
    """Event store in one SQLite file; see the module docstring for the design."""

    def __init__(
        self, path: Path, serializer: EventSerializer, *, busy_timeout_s: float = 10.0
    ) -> None:
        self._path = Path(path)
        self._serializer = serializer
        self._lock = threading.Lock()
        conn = open_wal_database(self._path, _SCHEMA, busy_timeout_s=busy_timeout_s)
        self._conn: sqlite3.Connection | None = conn

    @property
    def path(self) -> Path:
        return self._path

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> SqliteEventStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"the event store on {self._path} is closed")
        return self._conn

    def append(self, events: Sequence[DomainEvent]) -> None:
        if not events:
            return
        records = [self._serializer.serialize(event) for event in events]
        rows = [
            (
                r.aggregate_id,
                r.version,
                r.tenant_id,
                r.event_type,
                r.schema_version,
                r.occurred_at,
                r.actor,
                r.data,
            )
            for r in records
        ]
        new_versions = group_versions(records)
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for aggregate_id, versions in new_versions.items():
                    current = conn.execute(_CURRENT_VERSION, (aggregate_id,)).fetchone()[0]
                    check_versions(aggregate_id, current, versions)
                conn.executemany(_INSERT, rows)
                conn.execute("COMMIT")
            except sqlite3.IntegrityError as error:
                _rollback(conn)
                raise ConcurrencyConflict(
                    "another writer appended first to "
                    + ", ".join(f"{agg!r} (versions {v})" for agg, v in new_versions.items())
                ) from error
            except BaseException:
                _rollback(conn)
                raise

    def load(self, aggregate_id: str, after_version: int = 0) -> list[DomainEvent]:
        with self._lock:
            rows = self._connection().execute(_LOAD, (aggregate_id, after_version)).fetchall()
        deserialize = self._serializer.deserialize
        return [deserialize(SerializedEvent(*row)) for row in rows]

    def current_version(self, aggregate_id: str) -> int:
        with self._lock:
            row = self._connection().execute(_CURRENT_VERSION, (aggregate_id,)).fetchone()
        return int(row[0])

    def read_all(
        self, after_position: int = 0, limit: int = 1000, tenant_id: str | None = None
    ) -> list[StoredEvent]:
        check_limit(limit)
        with self._lock:
            conn = self._connection()
            if tenant_id is None:
                rows = conn.execute(_READ_ALL, (after_position, limit)).fetchall()
            else:
                rows = conn.execute(_READ_ALL_TENANT, (tenant_id, after_position, limit)).fetchall()
        deserialize = self._serializer.deserialize
        return [StoredEvent(row[0], deserialize(SerializedEvent(*row[1:]))) for row in rows]


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")
