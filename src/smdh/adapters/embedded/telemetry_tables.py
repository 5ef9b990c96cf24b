"""The SQL of the embedded telemetry store's per-sensor-type sample tables.

Table and column names come only from the sensor registry and are checked against a plain
lower-case identifier pattern before they touch SQL; values are always bound parameters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from smdh.domain.sensors.base import SensorType

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,62}")
_KEY_COLUMNS = frozenset({"series_id", "ts"})
_AFFINITY = {"float": "REAL", "int": "INTEGER", "str": "TEXT", "enum": "TEXT"}


def identifier(name: str) -> str:
    """``name`` double-quoted for SQL, once it is proven a plain lower-case identifier."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"{name!r} cannot be a table or column name")
    return f'"{name}"'


class SampleTable:
    """The SQL of one sensor type's sample table (identifiers from the registry only)."""

    def __init__(self, sensor_type: SensorType) -> None:
        self.type_name = sensor_type.name
        self.sensor_type = sensor_type
        self.columns = sensor_type.measure_names()
        self.names = frozenset(self.columns)
        clash = _KEY_COLUMNS.intersection(self.columns)
        if clash:
            raise ValueError(f"sensor type {sensor_type.name!r}: measure names {clash} clash")
        self.name = identifier(f"samples_{identifier(sensor_type.name)[1:-1]}")
        self.quoted = {column: identifier(column) for column in self.columns}
        self.definitions = {
            column: f"{self.quoted[column]} {_AFFINITY[spec.kind]}"
            for column, spec in zip(self.columns, sensor_type.measures, strict=True)
        }
        names = ", ".join(self.quoted.values())
        marks = ", ".join("?" for _ in self.columns)
        updates = ", ".join(f"{q} = COALESCE(excluded.{q}, {q})" for q in self.quoted.values())
        self.create = (
            f"CREATE TABLE IF NOT EXISTS {self.name} (series_id INTEGER NOT NULL,"
            f" ts REAL NOT NULL, {', '.join(self.definitions.values())},"
            " PRIMARY KEY (series_id, ts)) WITHOUT ROWID"
        )
        self.upsert = (
            f"INSERT INTO {self.name} (series_id, ts, {names}) VALUES (?, ?, {marks})"  # noqa: S608 - identifiers from the registry, values bound
            f" ON CONFLICT (series_id, ts) DO UPDATE SET {updates}"
        )

    def select_range(self, columns: Sequence[str]) -> str:
        quoted = [self.quoted[c] for c in columns]
        carried = " OR ".join(f"{q} IS NOT NULL" for q in quoted)
        return (
            f"SELECT ts, {', '.join(quoted)} FROM {self.name}"  # noqa: S608 - identifiers from the registry, values bound
            f" WHERE series_id = ? AND ts >= ? AND ts < ? AND ({carried}) ORDER BY ts LIMIT ?"
        )

    def select_buckets(self, column: str) -> str:
        q, table = self.quoted[column], self.name
        index = "CAST(ts / :width AS INTEGER)"  # floor, as timestamps are never negative
        point = f"SELECT {q} FROM {table} WHERE series_id = :series AND ts ="  # noqa: S608 - identifiers from the registry, values bound
        return (
            f"WITH g AS (SELECT {index} AS k, COUNT(*) AS n, MIN({q}) AS lo, MAX({q}) AS hi,"  # noqa: S608 - identifiers from the registry, values bound
            f" SUM({q}) AS total, MIN(ts) AS t0, MAX(ts) AS t1 FROM {table}"
            " WHERE series_id = :series AND ts >= :start AND ts < :end"
            f" AND {q} IS NOT NULL GROUP BY k)"
            f" SELECT k, n, lo, hi, total, t0, ({point} t0), t1, ({point} t1) FROM g"
        )
