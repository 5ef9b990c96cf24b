"""SQLite ``DeliveryLog``: one file (WAL), one connection guarded by a lock.

``idempotency_key`` is the primary key, so ``record`` is ``INSERT OR IGNORE`` and a row
derived twice from one event is stored once. A claim is one ``BEGIN IMMEDIATE`` transaction
that selects due rows and pushes their next attempt out by the lease, so two processes on
the same file never claim the same row at once. Times are stored as ISO 8601 UTC text
(lexicographic order = time order for one fixed format).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from smdh.adapters.embedded.sqlite_files import open_wal_database
from smdh.application.delivery import Delivery, DeliveryStatus

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS deliveries (
        idempotency_key TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        channel TEXT NOT NULL,
        recipient TEXT NOT NULL,
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT,
        next_attempt_at TEXT NOT NULL,
        created_at TEXT NOT NULL,
        sent_at TEXT
    )
    """,
    "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_at)",
    "CREATE INDEX IF NOT EXISTS deliveries_tenant ON deliveries (tenant_id, idempotency_key)",
    "CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, position INTEGER NOT NULL)",
)
_COLUMNS = (
    "idempotency_key, tenant_id, alert_id, event_type, channel, recipient, subject, body,"
    " payload, status, attempts, last_error, next_attempt_at, created_at, sent_at"
)
_INSERT = f"INSERT OR IGNORE INTO deliveries ({_COLUMNS}) VALUES ({', '.join('?' * 15)})"  # noqa: S608
_SELECT = f"SELECT {_COLUMNS} FROM deliveries"  # noqa: S608
_DUE = (
    _SELECT + " WHERE status = 'pending' AND next_attempt_at <= ?"
    " ORDER BY next_attempt_at, created_at, idempotency_key LIMIT ?"
)
_CLAIM = (
    "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ? WHERE idempotency_key = ?"
)


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _row(row: Sequence[Any]) -> Delivery:
    return Delivery(
        idempotency_key=row[0],
        tenant_id=row[1],
        alert_id=row[2],
        event_type=row[3],
        channel=row[4],
        recipient=row[5],
        subject=row[6],
        body=row[7],
        payload=json.loads(row[8]),
        status=DeliveryStatus(row[9]),
        attempts=int(row[10]),
        last_error=row[11],
        next_attempt_at=datetime.fromisoformat(row[12]),
        created_at=datetime.fromisoformat(row[13]),
        sent_at=_dt(row[14]),
    )


class SqliteDeliveryLog:
    def __init__(self, path: Path, *, busy_timeout_s: float = 10.0) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        conn = open_wal_database(self._path, _SCHEMA, busy_timeout_s=busy_timeout_s)
        self._conn: sqlite3.Connection | None = conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"delivery log {self._path} is closed")
        return self._conn

    def _write(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                counts = [conn.execute(sql, params).rowcount for sql, params in statements]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return counts

    def record(self, deliveries: Sequence[Delivery]) -> int:
        rows = [
            (
                d.idempotency_key, d.tenant_id, d.alert_id, d.event_type, d.channel,
                d.recipient, d.subject, d.body, json.dumps(d.payload, default=str),
                d.status.value, d.attempts, d.last_error, _ts(d.next_attempt_at),
                _ts(d.created_at), None if d.sent_at is None else _ts(d.sent_at),
            )
            for d in deliveries
        ]  # fmt: skip
        return sum(self._write([(_INSERT, row) for row in rows])) if rows else 0

    def claim_due(self, now: datetime, lease_s: float, limit: int = 100) -> list[Delivery]:
        lease_until = _ts(now + timedelta(seconds=lease_s))
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = [_row(r) for r in conn.execute(_DUE, (_ts(now), limit)).fetchall()]
                for row in rows:
                    conn.execute(_CLAIM, (lease_until, row.idempotency_key))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        until = datetime.fromisoformat(lease_until)
        return [attrs.evolve(r, attempts=r.attempts + 1, next_attempt_at=until) for r in rows]

    def mark_sent(self, key: str, at: datetime) -> None:
        self._write(
            [
                (
                    "UPDATE deliveries SET status = 'sent', sent_at = ?, last_error = NULL"
                    " WHERE idempotency_key = ?",
                    (_ts(at), key),
                )
            ]
        )

    def mark_attempt_failed(self, key: str, error: str, retry_at: datetime | None) -> None:
        if retry_at is None:
            sql = (
                "UPDATE deliveries SET status = 'failed', last_error = ? WHERE idempotency_key = ?"
            )
            self._write([(sql, (error, key))])
        else:
            sql = (
                "UPDATE deliveries SET last_error = ?, next_attempt_at = ?"
                " WHERE idempotency_key = ?"
            )
            self._write([(sql, (error, _ts(retry_at), key))])

    def get(self, tenant_id: str, key: str) -> Delivery | None:
        with self._lock:
            row = (
                self._connection()
                .execute(_SELECT + " WHERE tenant_id = ? AND idempotency_key = ?", (tenant_id, key))
                .fetchone()
            )
        return None if row is None else _row(row)

    def list(
        self,
        tenant_id: str,
        *,
        status: DeliveryStatus | None = None,
        after_key: str | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        sql = _SELECT + " WHERE tenant_id = ? AND idempotency_key > ?"
        params: list[Any] = [tenant_id, after_key or ""]
        if status is not None:
            sql += " AND status = ?"
            params.append(status.value)
        sql += " ORDER BY idempotency_key LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._connection().execute(sql, params).fetchall()
        return [_row(r) for r in rows]

    def cursor(self, name: str) -> int:
        with self._lock:
            row = (
                self._connection()
                .execute("SELECT position FROM cursors WHERE name = ?", (name,))
                .fetchone()
            )
        return 0 if row is None else int(row[0])

    def set_cursor(self, name: str, position: int) -> None:
        sql = (
            "INSERT INTO cursors (name, position) VALUES (?, ?) ON CONFLICT (name)"
            " DO UPDATE SET position = MAX(position, excluded.position)"
        )
        self._write([(sql, (name, position))])

    def delete_tenant(self, tenant_id: str) -> int:
        sql = "DELETE FROM deliveries WHERE tenant_id = ?"
        return self._write([(sql, (tenant_id,))])[0]
