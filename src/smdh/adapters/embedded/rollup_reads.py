"""Reading rollup buckets of one series: whole buckets from the rollup tables, the partial
buckets at the edges of a range from finer buckets, and the finest from the raw rows."""

from __future__ import annotations

import sqlite3

from smdh.adapters.embedded.rollup_tables import RollupTables
from smdh.adapters.memory import rollups as r
from smdh.application.ports import RollupBucket, StateBucket


def read_numeric(
    conn: sqlite3.Connection,
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
        rows = conn.execute(tables.select_numeric(width, measure), (series_id, *whole))
        out += [RollupBucket(float(row[0]), int(row[1]), *row[2:]) for row in rows]
    for lo, hi in edges:
        smaller = r.finer(width)
        if smaller is None:
            out += r.numeric_from_points(width, _raw(conn, tables, series_id, measure, lo, hi))
        else:
            out += r.group_numeric(
                width, read_numeric(conn, tables, series_id, measure, lo, hi, smaller)
            )
    return out


def _raw(
    conn: sqlite3.Connection,
    tables: RollupTables,
    series_id: int,
    measure: str,
    start: float,
    end: float,
) -> list[r.Point]:
    index = tables.measures.index(measure) + 1
    rows = conn.execute(tables.select_raw, (series_id, start, end))
    return [(row[0], row[index]) for row in rows if row[index] is not None]


def read_states(
    conn: sqlite3.Connection,
    tables: RollupTables,
    series_id: int,
    measure: str,
    start: float,
    end: float,
    width: int,
    hold_s: float,
) -> list[StateBucket]:
    whole, edges = r.split_range(start, end, width)
    out: list[StateBucket] = []
    if whole is not None:
        rows = conn.execute(tables.select_states(width, measure), (series_id, *whole))
        out += [b for b in (tables.decode_states(measure, row) for row in rows) if b]
    for lo, hi in edges:
        smaller = r.finer(width)
        if smaller is None:
            points = _raw(conn, tables, series_id, measure, lo - hold_s, hi)
            index = tables.measures.index(measure) + 1
            after = conn.execute(tables.select_next, (series_id, hi)).fetchall()
            points += [(row[0], row[index]) for row in after if row[index] is not None]
            out += r.states_from_points(width, lo, hi, points, hold_s)
        else:
            out += r.group_states(
                width, read_states(conn, tables, series_id, measure, lo, hi, smaller, hold_s)
            )
    return out
