"""The read side of ``TelemetryStore`` on Timestream, and the store that joins both sides.

**SQL only from checked parts.** Identifiers (database, table, measure and dimension names)
must match ``[A-Za-z0-9_.-]`` and are double-quoted; string literals are single-quoted with
``'`` doubled; tenant and device ids must also be valid identifiers of the domain *before*
any SQL is built (``' OR 1=1 --`` is refused, and would be a harmless literal if it got
through); numbers are formatted from ``int``/``float``; time bounds are
``from_milliseconds(<int>)``. The seed's f-string queries are the thing this replaces.

**Pagination.** ``query()`` follows ``NextToken`` while one is returned, *even on pages with
no rows* (Timestream returns empty pages while a query is still running), up to a page cap.

**Datum parser.** ``parse_datum`` turns every kind of ``Datum`` into Python: ``ScalarValue``
typed by the column's ``ScalarType`` (BIGINT/INTEGER -> int, DOUBLE -> float, BOOLEAN ->
bool, TIMESTAMP -> epoch seconds, others -> str), ``NullValue`` -> None, ``ArrayValue`` ->
list, ``RowValue`` -> dict by field name, ``TimeSeriesValue`` -> list of (time, value).

**Queries.** Each scans only the tables the writer uses and is always filtered by
``tenant_id`` (the partition key) and ``device_id``. Rows are read with ``SELECT *``, so a
measure column that was never written (Timestream only knows columns it has seen) cannot
break a query; ``latest`` looks back ``latest_lookback_hours`` (default: the memory store),
because an unbounded scan is what makes Timestream bills unpredictable.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from smdh.adapters.aws.timestream_writer import NAME_CHARS, TimestreamTelemetryWriter
from smdh.domain.sensors.base import MeasureValue
from smdh.domain.sensors.registry import SensorRegistry, default_registry
from smdh.domain.shared.ids import DeviceId, TenantId
from smdh.domain.telemetry import Bucket, DeviceSample, MeasurePoint

MAX_PAGES = 10_000
DIMENSION_COLUMNS = frozenset({"tenant_id", "site_id", "device_id", "sensor_type"})
SYSTEM_COLUMNS = frozenset({"measure_name", "time"})


# --- SQL building blocks ---------------------------------------------------------------------


def quote_identifier(name: str) -> str:
    """``"name"`` for a name of letters, digits, ``_ . -`` (1-256 chars); else ValueError."""
    if not 1 <= len(name) <= 256 or not set(name) <= NAME_CHARS:
        raise ValueError(f"not a valid Timestream identifier: {name[:40]!r}")
    return f'"{name}"'


def quote_literal(value: str) -> str:
    """A SQL string literal: single quotes doubled; NUL and other C0 controls refused."""
    if any(ord(char) < 32 for char in value):
        raise ValueError("string literals cannot hold control characters")
    return "'" + value.replace("'", "''") + "'"


def time_literal(seconds: float) -> str:
    return f"from_milliseconds({math.floor(seconds * 1000)})"


def checked_ids(tenant_id: str, device_id: str) -> tuple[str, str]:
    """Tenant and device ids are refused before SQL unless they are valid identifiers."""
    if not TenantId.is_valid(tenant_id):
        raise ValueError(f"invalid tenant id {tenant_id[:40]!r}")
    if not DeviceId.is_valid(device_id):
        raise ValueError(f"invalid device id {device_id[:40]!r}")
    return tenant_id, device_id


def checked_bounds(start: float, end: float) -> None:
    if math.isnan(start) or math.isnan(end):
        raise ValueError("start and end must be numbers")


def scope(tenant_id: str, device_id: str, start: float | None, end: float | None) -> str:
    """The WHERE clause every query has: the tenant (partition key), device, time range."""
    clauses = [
        f'"tenant_id" = {quote_literal(tenant_id)}',
        f'"device_id" = {quote_literal(device_id)}',
    ]
    if start is not None and math.isfinite(start):
        clauses.append(f"time >= {time_literal(start)}")
    if end is not None and math.isfinite(end):
        clauses.append(f"time < {time_literal(end)}")
    return " AND ".join(clauses)


def table_ref(database: str, table: str) -> str:
    return f"{quote_identifier(database)}.{quote_identifier(table)}"


def range_sql(
    database: str, table: str, tenant_id: str, device_id: str, start: float, end: float
) -> str:
    where = scope(tenant_id, device_id, start, end)
    # checked identifiers and escaped literals only (see the module text)
    return f"SELECT * FROM {table_ref(database, table)} WHERE {where} ORDER BY time ASC"  # noqa: S608


def latest_sql(database: str, table: str, tenant_id: str, device_id: str, since: float) -> str:
    where = scope(tenant_id, device_id, since, None)
    return f"SELECT * FROM {table_ref(database, table)} WHERE {where} ORDER BY time DESC"  # noqa: S608


def aggregate_sql(
    database: str,
    table: str,
    tenant_id: str,
    device_id: str,
    measure: str,
    start: float,
    end: float,
    bucket_seconds: int,
) -> str:
    column = quote_identifier(measure)
    width = int(bucket_seconds)
    where = scope(tenant_id, device_id, start, end)
    return (
        f"SELECT bin(time, {width}s) AS bucket, count({column}) AS n, "  # noqa: S608
        f"min({column}) AS lo, max({column}) AS hi, sum({column}) AS total, "
        f"min_by({column}, time) AS first_value, max_by({column}, time) AS last_value, "
        f"min(time) AS first_time, max(time) AS last_time "
        f"FROM {table_ref(database, table)} WHERE {where} AND {column} IS NOT NULL "
        f"GROUP BY bin(time, {width}s) ORDER BY bucket ASC"
    )


def merge_buckets(parts: Sequence[tuple[Bucket, float, float]]) -> Bucket:
    """One bucket from the same bucket of several tables (a device whose sensor type
    changed); each part comes with the times of its first and last value."""
    first = min(parts, key=lambda p: p[1])[0]
    last = max(parts, key=lambda p: p[2])[0]
    buckets = [p[0] for p in parts]
    return Bucket(
        first.start,
        sum(b.count for b in buckets),
        min(b.minimum for b in buckets),
        max(b.maximum for b in buckets),
        sum(b.total for b in buckets),
        first.first,
        last.last,
    )


# --- results ---------------------------------------------------------------------------------


def parse_timestamp(text: str) -> float:
    """``2024-05-01 12:00:00.123456789`` (UTC) to epoch seconds (ms precision kept)."""
    whole, _, fraction = text.partition(".")
    moment = datetime.strptime(whole, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    millis = int((fraction + "000")[:3]) if fraction else 0
    return (int(moment.timestamp()) * 1000 + millis) / 1000


def parse_scalar(text: str, scalar_type: str) -> Any:
    if scalar_type in ("BIGINT", "INTEGER"):
        return int(text)
    if scalar_type == "DOUBLE":
        return float(text)
    if scalar_type == "BOOLEAN":
        return text.lower() == "true"
    if scalar_type == "TIMESTAMP":
        return parse_timestamp(text)
    return text


def parse_datum(datum: Mapping[str, Any], column_type: Mapping[str, Any]) -> Any:
    """One ``Datum`` as Python, following the column's ``Type`` (see the module text)."""
    if datum.get("NullValue"):
        return None
    if "ScalarValue" in datum:
        return parse_scalar(datum["ScalarValue"], column_type.get("ScalarType", "VARCHAR"))
    if "ArrayValue" in datum:
        element = column_type.get("ArrayColumnInfo", {}).get("Type", {})
        return [parse_datum(item, element) for item in datum["ArrayValue"]]
    if "RowValue" in datum:
        fields = column_type.get("RowColumnInfo", [])
        values = datum["RowValue"].get("Data", [])
        return {
            field.get("Name", f"field{i}"): parse_datum(value, field.get("Type", {}))
            for i, (field, value) in enumerate(zip(fields, values, strict=False))
        }
    if "TimeSeriesValue" in datum:
        value_type = column_type.get("TimeSeriesMeasureValueColumnInfo", {}).get("Type", {})
        return [
            (parse_timestamp(point["Time"]), parse_datum(point["Value"], value_type))
            for point in datum["TimeSeriesValue"]
        ]
    raise ValueError(f"unknown Datum {sorted(datum)}")


def parse_page(page: Mapping[str, Any]) -> list[dict[str, Any]]:
    columns = page.get("ColumnInfo", [])
    return [
        {
            column["Name"]: parse_datum(datum, column.get("Type", {}))
            for column, datum in zip(columns, row.get("Data", []), strict=False)
        }
        for row in page.get("Rows", [])
    ]


class TimestreamReader:
    """Runs queries and follows pages; ``pages`` and ``calls`` count for the benchmarks."""

    def __init__(self, client: Any, max_pages: int = MAX_PAGES) -> None:
        self.client = client
        self.max_pages = max_pages
        self.calls = 0

    def rows(self, sql: str) -> Iterator[dict[str, Any]]:
        """Every row of every page; keeps going while ``NextToken`` comes back."""
        token: str | None = None
        for _ in range(self.max_pages):
            arguments: dict[str, Any] = {"QueryString": sql}
            if token is not None:
                arguments["NextToken"] = token
            self.calls += 1
            page = self.client.query(**arguments)
            yield from parse_page(page)
            token = page.get("NextToken")
            if not token:
                return
        raise RuntimeError(f"query did not finish within {self.max_pages} pages")

    def query(self, sql: str) -> list[dict[str, Any]]:
        return list(self.rows(sql))


def _missing_column(error: ClientError) -> bool:
    message = str(error.response.get("Error", {}).get("Message", ""))
    return error.response.get("Error", {}).get("Code") == "ValidationException" and (
        "does not exist" in message or "not found" in message
    )


# --- the store -------------------------------------------------------------------------------


class TimestreamTelemetryStore:
    """``TelemetryStore`` on Timestream: the writer's ``write``, queries here."""

    def __init__(
        self,
        writer: TimestreamTelemetryWriter,
        query_client: Any,
        *,
        registry: SensorRegistry | None = None,
        latest_lookback_hours: int | None = None,
    ) -> None:
        self.writer = writer
        self.reader = TimestreamReader(query_client)
        self.registry = registry or writer.registry or default_registry()
        self.latest_lookback_hours = latest_lookback_hours or writer.memory_store_hours

    def write(self, samples: Sequence[DeviceSample]) -> None:
        self.writer.write(samples)

    def _sample(self, row: Mapping[str, Any], measures: Sequence[str] | None) -> DeviceSample:
        sensor_name = str(row.get("sensor_type") or row.get("measure_name") or "")
        sensor_type = self.registry.find(sensor_name)
        values: dict[str, MeasureValue] = {}
        for name, value in row.items():
            if value is None or name in DIMENSION_COLUMNS or name in SYSTEM_COLUMNS:
                continue
            if measures is not None and name not in measures:
                continue
            spec = sensor_type.measure(name) if sensor_type is not None else None
            if spec is None:
                continue  # a column of another sensor type sharing the table
            if type(value) is bool:
                values[name] = value
            elif spec.kind == "float":
                values[name] = float(value)
            elif spec.kind == "int":
                values[name] = int(value)
            else:
                values[name] = str(value)
        return DeviceSample(
            str(row.get("tenant_id", "")),
            str(row.get("site_id", "")),
            str(row.get("device_id", "")),
            sensor_name,
            float(row["time"]),
            values,
        )

    def query_range(
        self,
        tenant_id: str,
        device_id: str,
        start: float,
        end: float,
        measures: Sequence[str] | None = None,
        limit: int = 1000,
    ) -> list[DeviceSample]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        checked_bounds(start, end)
        tenant_id, device_id = checked_ids(tenant_id, device_id)
        if measures is not None:
            known = {m for sensor_type in self.registry for m in sensor_type.measure_names()}
            unknown = [m for m in measures if m not in known]
            if unknown:
                raise ValueError(f"unknown measures: {', '.join(unknown)}")
            if not measures:
                return []
        if end <= start:
            return []
        found: list[DeviceSample] = []
        for table in self.writer.table_names():
            sql = range_sql(self.writer.database, table, tenant_id, device_id, start, end)
            for row in self.reader.rows(sql):
                sample = self._sample(row, measures)
                if sample.values:
                    found.append(sample)
                if len(found) >= limit and len(self.writer.table_names()) == 1:
                    return found
        found.sort(key=lambda s: s.timestamp)
        return found[:limit]

    def latest(self, tenant_id: str, device_id: str) -> list[MeasurePoint]:
        tenant_id, device_id = checked_ids(tenant_id, device_id)
        since = self.writer.clock.now().timestamp() - self.latest_lookback_hours * 3600.0
        newest: dict[str, MeasurePoint] = {}
        for table in self.writer.table_names():
            sql = latest_sql(self.writer.database, table, tenant_id, device_id, since)
            for row in self.reader.rows(sql):
                sample = self._sample(row, None)
                for name, value in sample.values.items():
                    seen = newest.get(name)
                    if seen is None or sample.timestamp > seen.timestamp:
                        newest[name] = MeasurePoint(name, sample.timestamp, value)
        return [newest[name] for name in sorted(newest)]

    def aggregate(
        self,
        tenant_id: str,
        device_id: str,
        measure: str,
        start: float,
        end: float,
        bucket_seconds: int,
    ) -> list[Bucket]:
        checked_bounds(start, end)
        if bucket_seconds < 1:
            raise ValueError("bucket_seconds must be at least 1")
        specs = [t.measure(measure) for t in self.registry if t.measure(measure) is not None]
        if not specs:
            raise ValueError(f"unknown measure {measure!r}")
        if all(spec is not None and spec.kind not in ("float", "int") for spec in specs):
            raise ValueError(f"measure {measure!r} is not numeric")
        tenant_id, device_id = checked_ids(tenant_id, device_id)
        parts: dict[float, list[tuple[Bucket, float, float]]] = {}
        for table in self.writer.table_names():
            sql = aggregate_sql(
                self.writer.database, table, tenant_id, device_id, measure, start, end,
                bucket_seconds,
            )  # fmt: skip
            try:
                rows = self.reader.query(sql)
            except ClientError as error:
                if _missing_column(error):
                    continue  # this table never saw the measure
                raise
            for row in rows:
                if not row.get("n"):
                    continue
                bucket = Bucket(
                    float(row["bucket"]),
                    int(row["n"]),
                    float(row["lo"]),
                    float(row["hi"]),
                    float(row["total"]),
                    float(row["first_value"]),
                    float(row["last_value"]),
                )
                span = (float(row["first_time"]), float(row["last_time"]))
                parts.setdefault(bucket.start, []).append((bucket, *span))
        return [merge_buckets(parts[key]) for key in sorted(parts)]
