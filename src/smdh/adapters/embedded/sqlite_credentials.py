"""SQLite CredentialStore: one small table in its own file under the data directory."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class SqliteCredentialStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS credentials ("
                " tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, password_hash TEXT NOT NULL,"
                " PRIMARY KEY (tenant_id, user_id))"
            )

    def set_password_hash(self, tenant_id: str | None, user_id: str, password_hash: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO credentials (tenant_id, user_id, password_hash) VALUES (?, ?, ?)"
                " ON CONFLICT (tenant_id, user_id)"
                " DO UPDATE SET password_hash = excluded.password_hash",
                (tenant_id or "", user_id, password_hash),
            )

    def password_hash(self, tenant_id: str | None, user_id: str) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT password_hash FROM credentials WHERE tenant_id = ? AND user_id = ?",
                (tenant_id or "", user_id),
            ).fetchone()
        return None if row is None else str(row[0])

    def delete(self, tenant_id: str | None, user_id: str) -> None:
        with self._lock:
            self._conn.execute(
                "DELETE FROM credentials WHERE tenant_id = ? AND user_id = ?",
                (tenant_id or "", user_id),
            )

    def delete_tenant(self, tenant_id: str) -> int:
        with self._lock:
            cursor = self._conn.execute("DELETE FROM credentials WHERE tenant_id = ?", (tenant_id,))
        return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._conn.close()
