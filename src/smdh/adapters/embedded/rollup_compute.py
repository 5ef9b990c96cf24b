"""Recomputing rollup buckets in the telemetry file: minutes from raw rows, then coarser
buckets from finer ones (the SQLite rollup store's flush; see ``rollups``).

Computing only reads (WAL readers never block the writer); the results are ``Changes``
applied afterwards in a short write transaction, so the telemetry writer, which shares the
file, waits milliseconds rather than the whole recomputation.
"""

from __future__ import annotations

import sqlite3
import time
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

from smdh.adapters.embedded.rollup_tables import RollupTables
from smdh.adapters.memory import rollups as r


class Changes:
    """Bucket rows to upsert and bucket ranges to delete, for one width."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.upserts: list[list[Any]] = []
        self.deletes: list[tuple[int, int, int]] = []  # series id, from, to

    def apply(self, conn: sqlite3.Connection, tables: RollupTables) -> int:
        conn.executemany(tables.upsert(self.width), self.upserts)
        conn.executemany(tables.delete(self.width), self.deletes)
        return len(self.upserts)


def recompute_minutes(
    conn: sqlite3.Connection,
    tables: RollupTables,
    series_id: int,
    minutes: list[int],
    hold_s: float,
) -> Changes:
    """The 1-minute buckets ``minutes`` of one series, recomputed from its raw rows."""
    changes = Changes(60)
    for run in r.runs(minutes):
        lo, hi = run[0] * 60.0, (run[-1] + 1) * 60.0
        rows = conn.execute(tables.select_raw, (series_id, lo - hold_s, hi)).fetchall()
        if tables.enums:
            rows += conn.execute(tables.select_next, (series_id, hi)).fetchall()
        columns = {m: i + 1 for i, m in enumerate(tables.measures)}
        stamps = [row[0] for row in rows]
        out, empty = changes.upserts, changes.deletes
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
            near = rows[bisect_left(stamps, b0 - hold_s) : stop + 1]
            states = {
                m: r.state_bucket(b0, b1, [
                    (row[0], row[columns[m]]) for row in near if row[columns[m]] is not None
                ], hold_s, bucket=b0)
                for m in tables.enums
            }  # fmt: skip
            encoded = tables.encode(numeric, states)
            if encoded is None:
                empty.append((series_id, minute * 60, minute * 60 + 60))
            else:
                out.append([series_id, minute * 60, *encoded])
    return changes


def regroup(
    conn: sqlite3.Connection,
    tables: RollupTables,
    series_id: int,
    starts: list[int],
    width: int,
) -> Changes:
    """The ``width`` buckets starting at ``starts``, rebuilt from the next finer ones."""
    finer_width = r.finer(width) or 60
    changes = Changes(width)
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
            changes.deletes.append((series_id, start, start + width))
        else:
            changes.upserts.append([series_id, start, *encoded])
    return changes


_YIELD_EVERY = 64  # series


def compute_each(
    work: list[tuple[int, RollupTables, list[int]]],
    compute: Callable[[int, RollupTables, list[int]], Changes],
) -> list[tuple[RollupTables, Changes]]:
    """``compute`` over every series, letting other threads take the interpreter lock now
    and then: a flush is seconds of pure Python for thousands of series, and without the
    pauses the event loop and the ingest thread would each wait up to a switch interval
    (5 ms) for every step they take while it runs."""
    out: list[tuple[RollupTables, Changes]] = []
    for n, (series_id, tables, starts) in enumerate(work, 1):
        out.append((tables, compute(series_id, tables, starts)))
        if n % _YIELD_EVERY == 0:
            time.sleep(0)
    return out
