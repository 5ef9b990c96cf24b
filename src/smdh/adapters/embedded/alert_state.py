"""SQLite ``EvaluationStateStore``: ``alerting.sqlite3`` in the data directory, WAL journal.

Two key/value tables of JSON (per (rule, device) evaluation state; per device last seen)
and the time of the last save. A save upserts only what changed since the previous one,
in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from smdh.application.alerting import StateSnapshot

FILE_NAME = "alerting.sqlite3"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS rule_state (key TEXT PRIMARY KEY, data TEXT NOT NULL)"
    " WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS last_seen (key TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value REAL NOT NULL) WITHOUT ROWID",
)
_UPSERT_RULE = (
    "INSERT INTO rule_state (key, data) VALUES (?, ?)"
    " ON CONFLICT (key) DO UPDATE SET data = excluded.data"
)
_UPSERT_SEEN = (
    "INSERT INTO last_seen (key, data) VALUES (?, ?)"
    " ON CONFLICT (key) DO UPDATE SET data = excluded.data"
)
_SET_SAVED = (
    "INSERT INTO meta (name, value) VALUES ('saved_at', ?)"
    " ON CONFLICT (name) DO UPDATE SET value = excluded.value"
)


class SqliteEvaluationStateStore:
    def __init__(self, path: Path, *, busy_timeout_s: float = 10.0) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            self._path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            self._conn.execute(statement)

    def load(self) -> StateSnapshot:
        with self._lock:
            rules = {k: json.loads(v) for k, v in self._conn.execute("SELECT * FROM rule_state")}
            seen = {k: json.loads(v) for k, v in self._conn.execute("SELECT * FROM last_seen")}
            row = self._conn.execute("SELECT value FROM meta WHERE name = 'saved_at'").fetchone()
        return StateSnapshot(rules, seen, float(row[0]) if row else None)

    def save(
        self,
        rules: Mapping[str, Mapping[str, Any] | None],
        last_seen: Mapping[str, list[Any]],
        saved_at: float,
    ) -> None:
        upserts = [(k, json.dumps(v, separators=(",", ":"))) for k, v in rules.items() if v]
        deletes = [(k,) for k, v in rules.items() if v is None]
        seen = [(k, json.dumps(v, separators=(",", ":"))) for k, v in last_seen.items()]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(_UPSERT_RULE, upserts)
                self._conn.executemany("DELETE FROM rule_state WHERE key = ?", deletes)
                self._conn.executemany(_UPSERT_SEEN, seen)
                self._conn.execute(_SET_SAVED, (saved_at,))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()
