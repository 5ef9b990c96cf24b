"""SQLite ``DeadLetterStore``: its own small file, ``dead_letters.sqlite3``, WAL journal.

A file of its own rather than a table in the telemetry file, so that rejecting records never
waits for the telemetry writer's lock (and vice versa), and erasing or inspecting dead
letters does not touch the time series. Semantics are the in-memory store's
(``smdh.adapters.memory.dead_letters``): ids from ``AUTOINCREMENT`` (never reused, even
after pruning), oldest-first pages per tenant on the index ``(tenant_id, id)``, at most
``max_per_tenant`` letters per tenant with the oldest pruned in the same transaction as the
insert, and per-tenant counters of kept and pruned letters so ``count`` never scans.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from smdh.adapters.embedded.sqlite_files import open_wal_database
from smdh.adapters.memory.dead_letters import (
    DEFAULT_MAX_PER_TENANT,
    bounded,
    check_cap,
    check_page,
)
from smdh.domain.telemetry import DeadLetter

FILE_NAME = "dead_letters.sqlite3"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        source TEXT NOT NULL,
        received_at REAL NOT NULL,
        reason_code TEXT NOT NULL,
        reason TEXT NOT NULL,
        payload TEXT NOT NULL,
        record_index INTEGER)""",
    "CREATE INDEX IF NOT EXISTS dead_letters_tenant_id ON dead_letters (tenant_id, id)",
    """CREATE TABLE IF NOT EXISTS dead_letter_tenants (
        tenant_id TEXT PRIMARY KEY,
        kept INTEGER NOT NULL,
        pruned INTEGER NOT NULL) WITHOUT ROWID""",
)
_COLUMNS = "tenant_id, device_id, source, received_at, reason_code, reason, payload, record_index"
_INSERT = f"INSERT INTO dead_letters ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608 - constant column list, values bound
_ADD_KEPT = (
    "INSERT INTO dead_letter_tenants (tenant_id, kept, pruned) VALUES (?, ?, 0)"
    " ON CONFLICT (tenant_id) DO UPDATE SET kept = kept + excluded.kept RETURNING kept"
)
_PRUNE = (
    "DELETE FROM dead_letters WHERE id IN"
    " (SELECT id FROM dead_letters WHERE tenant_id = ? ORDER BY id LIMIT ?)"
)
_SET_PRUNED = (
    "UPDATE dead_letter_tenants SET kept = kept - ?1, pruned = pruned + ?1 WHERE tenant_id = ?2"
)
_PAGE = (
    f"SELECT id, {_COLUMNS} FROM dead_letters"  # noqa: S608 - constant column list, values bound
    " WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?"
)


class SqliteDeadLetterStore:
    """Bounded per-tenant dead letters in one SQLite file; see the module docstring."""

    def __init__(
        self,
        path: Path,
        *,
        max_per_tenant: int = DEFAULT_MAX_PER_TENANT,
        busy_timeout_s: float = 10.0,
    ) -> None:
        self._path = Path(path)
        self._cap = check_cap(max_per_tenant)
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

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"dead-letter store {self._path} is closed")
        return self._conn

    def add(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        rows = [
            (
                letter.tenant_id,
                letter.device_id,
                letter.source,
                letter.received_at,
                letter.reason_code,
                letter.reason,
                letter.payload,
                letter.index,
            )
            for letter in map(bounded, letters)
        ]
        added: dict[str, int] = {}
        for row in rows:
            added[row[0]] = added.get(row[0], 0) + 1
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_INSERT, rows)
                for tenant_id, count in added.items():
                    (kept,) = conn.execute(_ADD_KEPT, (tenant_id, count)).fetchone()
                    excess = int(kept) - self._cap
                    if excess > 0:
                        conn.execute(_PRUNE, (tenant_id, excess))
                        conn.execute(_SET_PRUNED, (excess, tenant_id))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def list(
        self, tenant_id: str, *, after_id: int = 0, limit: int = 100
    ) -> list[tuple[int, DeadLetter]]:
        check_page(after_id, limit)
        with self._lock:
            rows = self._connection().execute(_PAGE, (tenant_id, after_id, limit)).fetchall()
        return [
            (
                row[0],
                DeadLetter(
                    tenant_id=row[1],
                    device_id=row[2],
                    source=row[3],
                    received_at=row[4],
                    reason_code=row[5],
                    reason=row[6],
                    payload=row[7],
                    index=row[8],
                ),
            )
            for row in rows
        ]

    def _total(self, column: str, tenant_id: str | None) -> int:
        query = f"SELECT COALESCE(SUM({column}), 0) FROM dead_letter_tenants"  # noqa: S608 - column is one of two constants
        with self._lock:
            conn = self._connection()
            if tenant_id is None:
                (total,) = conn.execute(query).fetchone()
            else:
                (total,) = conn.execute(query + " WHERE tenant_id = ?", (tenant_id,)).fetchone()
        return int(total)

    def count(self, tenant_id: str | None = None) -> int:
        """Letters kept (pruned ones not included), of one tenant or of all."""
        return self._total("kept", tenant_id)

    def pruned(self, tenant_id: str | None = None) -> int:
        """Letters dropped to keep the per-tenant cap, of one tenant or of all."""
        return self._total("pruned", tenant_id)
