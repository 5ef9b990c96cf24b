"""Answers the Timestream adapter's queries from the emulated tables (``timestream_emulator``).

Not a SQL engine: ``QueryAnswers`` knows exactly the three statement shapes that
``timestream_query`` builds (range, latest, per-bucket aggregate) and fails the test on
anything else. It hooks the real boto3 query client (``before-call``), reads the rows from
the in-process moto backend and answers in Timestream's response shape - ``ColumnInfo``,
``Rows`` of ``Datum`` (``ScalarValue`` / ``NullValue``), ``NextToken`` - split into small
pages after an empty first one, so the adapter's parser and pagination run as they would
against the service. ``SELECT *`` has a column for every dimension and measure the table
has ever seen (Timestream's schema only grows) and NULL where a record has no value.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from botocore.awsrequest import AWSResponse
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID

from tests.integration.aws.timestream_emulator import StoredRecord, TableRows, rows_of

_LITERAL = r"'((?:[^']|'')*)'"
_WHERE = (
    rf'"tenant_id" = {_LITERAL} AND "device_id" = {_LITERAL}'
    r"(?: AND time >= from_milliseconds\((-?\d+)\))?(?: AND time < from_milliseconds\((-?\d+)\))?"
)
_TABLE = r'"([A-Za-z0-9_.-]+)"\."([A-Za-z0-9_.-]+)"'
# patterns that recognise SQL, not SQL: nothing here is sent anywhere
_SELECT = re.compile(
    rf"SELECT \* FROM {_TABLE} WHERE {_WHERE} ORDER BY time (ASC|DESC)"  # noqa: S608
)
_AGGREGATE = re.compile(
    r'SELECT bin\(time, (\d+)s\) AS bucket, count\("(?P<c>[A-Za-z0-9_.-]+)"\) AS n, '  # noqa: S608
    r'min\("(?P=c)"\) AS lo, max\("(?P=c)"\) AS hi, sum\("(?P=c)"\) AS total, '
    r'min_by\("(?P=c)", time\) AS first_value, max_by\("(?P=c)", time\) AS last_value, '
    r"min\(time\) AS first_time, max\(time\) AS last_time "
    rf'FROM {_TABLE} WHERE {_WHERE} AND "(?P=c)" IS NOT NULL '
    r"GROUP BY bin\(time, \1s\) ORDER BY bucket ASC"
)


def timestamp_text(ns: int) -> str:
    moment = datetime.fromtimestamp(ns // 10**9, UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{ns % 10**9:09d}"


def scalar(kind: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {"NullValue": True}
    if kind == "TIMESTAMP":
        return {"ScalarValue": timestamp_text(value)}
    if kind == "DOUBLE":
        return {"ScalarValue": repr(float(value))}
    return {"ScalarValue": str(value)}


def number(kind: str, text: str) -> int | float:
    return int(text) if kind == "BIGINT" else float(text)


class QueryAnswers:
    """Answers ``Query`` calls of ``client`` from the emulated tables (see the module)."""

    def __init__(self, client: Any, region: str, page_rows: int = 7) -> None:
        self.region = region
        self.page_rows = page_rows
        self.statements: list[str] = []
        self._pending: dict[str, list[dict[str, Any]]] = {}
        client.meta.events.register("before-call.timestream-query.Query", self._answer)

    def _answer(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        body = json.loads(params["body"])  # the serialized request the real client built
        token = body.get("NextToken")
        if token:
            return AWSResponse("http://emulated", 200, {}, None), self._pending.pop(token)
        sql = body["QueryString"]
        self.statements.append(sql)
        try:
            columns, rows = self._run(sql)
        except LookupError as missing:
            error = {"Error": {"Code": "ValidationException", "Message": str(missing)}}
            return AWSResponse("http://emulated", 400, {}, None), error
        pages = [rows[i : i + self.page_rows] for i in range(0, len(rows), self.page_rows)]
        shaped = [[], *pages]  # Timestream may answer a running query with an empty page
        answers = [{"ColumnInfo": columns, "Rows": page, "QueryId": "q"} for page in shaped]
        for index in range(len(answers) - 1):
            token = f"{len(self.statements)}-{index + 1}"
            answers[index]["NextToken"] = token
            self._pending[token] = answers[index + 1]
        return AWSResponse("http://emulated", 200, {}, None), answers[0]

    def _table(self, database: str, table: str) -> TableRows:
        backend = get_backend("timestream-write")[DEFAULT_ACCOUNT_ID][self.region]
        return rows_of(backend.describe_table(database, table))

    def _run(self, sql: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if match := _SELECT.fullmatch(sql):
            database, table, tenant, device, start, end, order = match.groups()
            rows = self._table(database, table)
            chosen = self._where(rows, tenant, device, start, end)
            chosen.sort(key=lambda r: r.time_ns, reverse=order == "DESC")
            return self._select_all(rows, chosen)
        if match := _AGGREGATE.fullmatch(sql):
            width, column, database, table, tenant, device, start, end = match.groups()
            rows = self._table(database, table)
            if column not in rows.columns:
                raise LookupError(f"line 1:8: Column '{column}' does not exist")
            chosen = self._where(rows, tenant, device, start, end)
            return self._aggregate(rows.columns[column], column, int(width), chosen)
        raise AssertionError(f"not a statement the Timestream adapter builds: {sql}")

    @staticmethod
    def _where(
        rows: TableRows, tenant: str, device: str, start: str | None, end: str | None
    ) -> list[StoredRecord]:
        tenant, device = tenant.replace("''", "'"), device.replace("''", "'")
        low = None if start is None else int(start) * 10**6
        high = None if end is None else int(end) * 10**6
        return [
            r
            for r in rows
            if dict(r.dimensions).get("tenant_id") == tenant
            and dict(r.dimensions).get("device_id") == device
            and (low is None or r.time_ns >= low)
            and (high is None or r.time_ns < high)
        ]

    @staticmethod
    def _select_all(
        rows: TableRows, chosen: list[StoredRecord]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        dimensions = sorted(rows.dimension_names)
        measures = sorted(rows.columns)
        columns = [(name, "VARCHAR") for name in dimensions]
        columns += [("measure_name", "VARCHAR"), ("time", "TIMESTAMP")]
        columns += [(name, rows.columns[name]) for name in measures]
        shaped = []
        for record in chosen:
            dims = dict(record.dimensions)
            values = {name: text for name, _, text in record.values}
            data = [scalar("VARCHAR", dims.get(name)) for name in dimensions]
            data += [scalar("VARCHAR", record.measure_name), scalar("TIMESTAMP", record.time_ns)]
            data += [scalar(rows.columns[name], values.get(name)) for name in measures]
            shaped.append({"Data": data})
        info = [{"Name": name, "Type": {"ScalarType": kind}} for name, kind in columns]
        return info, shaped

    @staticmethod
    def _aggregate(
        kind: str, column: str, width: int, chosen: list[StoredRecord]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if kind not in ("DOUBLE", "BIGINT"):
            raise LookupError(f"min/max/sum of {kind} column '{column}'")
        buckets: dict[int, list[tuple[int, int | float]]] = {}
        for record in sorted(chosen, key=lambda r: r.time_ns):
            text = {name: value for name, _, value in record.values}.get(column)
            if text is not None:  # "column" IS NOT NULL
                start = record.time_ns - record.time_ns % (width * 10**9)
                buckets.setdefault(start, []).append((record.time_ns, number(kind, text)))
        kinds: list[tuple[str, str]] = [("bucket", "TIMESTAMP"), ("n", "BIGINT")]
        kinds += [(name, kind) for name in ("lo", "hi", "total", "first_value", "last_value")]
        kinds += [("first_time", "TIMESTAMP"), ("last_time", "TIMESTAMP")]
        shaped = []
        for start in sorted(buckets):
            points = buckets[start]
            values = [v for _, v in points]
            row = [start, len(points), min(values), max(values), sum(values)]
            row += [points[0][1], points[-1][1]]  # min_by / max_by time
            row += [points[0][0], points[-1][0]]  # min(time), max(time)
            shaped.append({"Data": [scalar(k, v) for (_, k), v in zip(kinds, row, strict=True)]})
        info = [{"Name": name, "Type": {"ScalarType": k}} for name, k in kinds]
        return info, shaped
