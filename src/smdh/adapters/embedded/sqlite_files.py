"""One way to open the hub's SQLite files: WAL, NORMAL sync, busy timeout, schema applied.

WAL lets readers and the single writer work side by side; ``synchronous=NORMAL`` makes a
commit durable against a crash of the process (a power loss may undo the last commits,
never corrupt the file). Connections are autocommit (``isolation_level=None``): every
adapter opens its transactions explicitly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path


def open_wal_database(
    path: Path, schema: Iterable[str] = (), *, busy_timeout_s: float = 10.0
) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"could not put {path} in WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous = NORMAL")
        for statement in schema:
            conn.execute(statement)
    except BaseException:
        conn.close()
        raise
    return conn
