"""The SQL of the rollup tables of one sensor type (``smdh.adapters.embedded.rollups``):
``rollup_<type>_<1m|1h|1d>``, keyed ``(series_id, bucket)``, a column per statistic of each
numeric measure and per value of each enum measure; identifiers from the registry only."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from smdh.adapters.embedded.telemetry_tables import identifier
from smdh.application.ports import BucketMeans, RollupBucket, StateBucket
from smdh.domain.sensors.base import SensorType

LABELS = {60: "1m", 3600: "1h", 86_400: "1d"}
NUMERIC_STATS = ("n", "lo", "hi", "sum", "first", "last", "t0", "t1", "inc")


class RollupTables:
    """The SQL of one sensor type's rollup tables."""

    def __init__(self, sensor_type: SensorType) -> None:
        self.type_name = sensor_type.name
        self.raw = identifier(f"samples_{sensor_type.name}")
        self.numeric = tuple(m.name for m in sensor_type.measures if m.kind in ("float", "int"))
        self.enums = {
            m.name: tuple(str(c) for c in m.choices)
            for m in sensor_type.measures
            if m.kind == "enum" and m.choices
        }
        self.measures = self.numeric + tuple(self.enums)
        columns = [f"{m}__{s}" for m in self.numeric for s in NUMERIC_STATS]
        columns += [f"{m}__{c}__{k}" for m, cs in self.enums.items() for c in cs for k in "ns"]
        self.columns = tuple(columns)
        self.quoted = ", ".join(identifier(c) for c in columns)
        self.names = {w: identifier(f"rollup_{sensor_type.name}_{LABELS[w]}") for w in LABELS}
        raw_columns = ", ".join(identifier(m) for m in self.measures)
        self.select_raw = (
            f"SELECT ts, {raw_columns} FROM {self.raw}"  # noqa: S608 - registry identifiers
            " WHERE series_id = ? AND ts >= ? AND ts < ? ORDER BY ts"
        )
        self.select_next = (
            f"SELECT ts, {raw_columns} FROM {self.raw}"  # noqa: S608 - registry identifiers
            " WHERE series_id = ? AND ts >= ? ORDER BY ts LIMIT 1"
        )

    def create(self, width: int) -> str:
        body = ", ".join(f"{identifier(c)} {'REAL'}" for c in self.columns)
        return (
            f"CREATE TABLE IF NOT EXISTS {self.names[width]} (series_id INTEGER NOT NULL,"
            f" bucket INTEGER NOT NULL, {body}, PRIMARY KEY (series_id, bucket)) WITHOUT ROWID"
        )

    def upsert(self, width: int) -> str:
        marks = ", ".join("?" for _ in self.columns)
        return (
            f"INSERT OR REPLACE INTO {self.names[width]} (series_id, bucket, {self.quoted})"  # noqa: S608 - registry identifiers
            f" VALUES (?, ?, {marks})"
        )

    def select(self, width: int) -> str:
        return (
            f"SELECT bucket, {self.quoted} FROM {self.names[width]}"  # noqa: S608 - registry identifiers
            " WHERE series_id = ? AND bucket >= ? AND bucket < ? ORDER BY bucket"
        )

    def select_numeric(self, width: int, measure: str) -> str:
        stats = ", ".join(identifier(f"{measure}__{k}") for k in NUMERIC_STATS)
        return (
            f"SELECT bucket, {stats} FROM {self.names[width]}"  # noqa: S608 - registry identifiers
            " WHERE series_id = ? AND bucket >= ? AND bucket < ?"
            f" AND {identifier(measure + '__n')} > 0 ORDER BY bucket"
        )

    def select_means(self, width: int, measures: Sequence[str]) -> str:
        """``bucket`` then ``n, sum`` of each measure (rows where any of them has data)."""
        stats = ", ".join(identifier(f"{m}__{k}") for m in measures for k in ("n", "sum"))
        some = " OR ".join(f"{identifier(m + '__n')} > 0" for m in measures)
        return (
            f"SELECT bucket, {stats} FROM {self.names[width]}"  # noqa: S608 - registry identifiers
            f" WHERE series_id = ? AND bucket >= ? AND bucket < ? AND ({some}) ORDER BY bucket"
        )

    def read_means(
        self,
        conn: sqlite3.Connection,
        width: int,
        series_id: int,
        whole: tuple[float, float],
        out: dict[str, BucketMeans],
    ) -> None:
        """Append the whole buckets' averages of each measure of ``out`` (of this type)."""
        mine = [(i, out[m]) for i, m in enumerate(m for m in out if m in self.numeric)]
        if not mine:
            return
        names = [m for m in out if m in self.numeric]
        for row in conn.execute(self.select_means(width, names), (series_id, *whole)):
            start = float(row[0])
            for i, columns in mine:
                n = row[2 * i + 1]
                if n:
                    columns.add(start, row[2 * i + 2] / int(n), int(n))

    def select_states(self, width: int, measure: str) -> str:
        names = [f"{measure}__{c}__{k}" for c in self.enums[measure] for k in "ns"]
        return (
            f"SELECT bucket, {', '.join(identifier(n) for n in names)}"  # noqa: S608
            f" FROM {self.names[width]}"
            " WHERE series_id = ? AND bucket >= ? AND bucket < ? ORDER BY bucket"
        )

    def decode_states(self, measure: str, row: Sequence[Any]) -> StateBucket | None:
        counts: dict[str, int] = {}
        seconds: dict[str, float] = {}
        for i, c in enumerate(self.enums[measure]):
            n, s = row[1 + 2 * i], row[2 + 2 * i]
            if n:
                counts[c] = int(n)
            if s:
                seconds[c] = float(s)
        return StateBucket(float(row[0]), counts, seconds) if counts or seconds else None

    def delete(self, width: int) -> str:
        return (
            f"DELETE FROM {self.names[width]}"  # noqa: S608 - registry identifiers
            " WHERE series_id = ? AND bucket >= ? AND bucket < ?"
        )

    # rows <-> statistics --------------------------------------------------------------

    def encode(
        self, numeric: dict[str, RollupBucket | None], states: dict[str, StateBucket | None]
    ) -> list[Any] | None:
        row: list[Any] = []
        for m in self.numeric:
            b = numeric.get(m)
            row += [None] * 9 if b is None else [
                b.count, b.minimum, b.maximum, b.total, b.first, b.last, b.first_at,
                b.last_at, b.increase,
            ]  # fmt: skip
        for m, choices in self.enums.items():
            s = states.get(m)
            for c in choices:
                row += [None, None] if s is None else [s.counts.get(c), s.seconds.get(c)]
        return row if any(v is not None for v in row) else None

    def decode(self, row: Sequence[Any]) -> tuple[dict[str, RollupBucket], dict[str, StateBucket]]:
        start = float(row[0])
        numeric: dict[str, RollupBucket] = {}
        i = 1
        for m in self.numeric:
            n, lo, hi, total, first, last, t0, t1, inc = row[i : i + 9]
            i += 9
            if n:
                numeric[m] = RollupBucket(start, int(n), lo, hi, total, first, last, t0, t1, inc)
        states: dict[str, StateBucket] = {}
        for m, choices in self.enums.items():
            counts: dict[str, int] = {}
            seconds: dict[str, float] = {}
            for c in choices:
                n, s = row[i], row[i + 1]
                i += 2
                if n:
                    counts[c] = int(n)
                if s:
                    seconds[c] = float(s)
            if counts or seconds:
                states[m] = StateBucket(start, counts, seconds)
        return numeric, states
