"""``GET /v1/export``: a dataset of the caller's tenant over a range, as CSV or Parquet,
streamed (FR-10).

The rows are produced page by page from the stores in a worker thread and sent chunk by
chunk as they come, so memory stays constant for any range (``smdh.application.export``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

from smdh.application.export import COLUMNS, DATASETS, Exporter, csv_chunks, parquet_chunks
from smdh.entrypoints.http import telemetry_views as tv
from smdh.entrypoints.http.core import VIEWER, ApiResponse, QueryParam, RequestContext, Route
from smdh.entrypoints.http.routes.metrics import analytics, query_range

MEDIA = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
_QUERY = (
    QueryParam("dataset", "enum", "what to export (default readings)", choices=DATASETS),
    QueryParam("from", description="start (inclusive): ISO 8601 with offset or epoch seconds; "
               "default: 24 hours before `to`", pattern=tv.INSTANT_PATTERN, max_length=40),
    QueryParam("to", description="end (exclusive); default: now", pattern=tv.INSTANT_PATTERN,
               max_length=40),
    QueryParam("format", "enum", "csv (default) or parquet", choices=("csv", "parquet")),
    QueryParam("timezone", "enum", "times in UTC (default) or each site's zone",
               choices=("UTC", "site")),
)  # fmt: skip


async def _in_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Pull each chunk in a worker thread; the event loop never waits on the store."""
    done = object()
    while True:
        chunk = await asyncio.to_thread(next, chunks, done)
        if chunk is done:
            return
        assert isinstance(chunk, bytes)  # noqa: S101 - narrowing for the type checker
        yield chunk


def export(ctx: RequestContext) -> ApiResponse:
    tenant_id = ctx.tenant()
    start, end = query_range(ctx)
    dataset = ctx.query.get("dataset", "readings")
    form = ctx.query.get("format", "csv")
    app = ctx.services.application
    exporter = Exporter(analytics(ctx), app.devices, app.directory)
    rows = exporter.rows(tenant_id, dataset, start, end, ctx.query.get("timezone", "UTC"))
    header = COLUMNS[dataset]
    chunks = csv_chunks(header, rows) if form == "csv" else parquet_chunks(header, rows)
    name = f"{tenant_id}-{dataset}-{int(start)}-{int(end)}.{form}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return ApiResponse(200, headers=headers, content_type=MEDIA[form], stream=_in_thread(chunks))


ROUTES = (
    Route("GET", "/v1/export", export, "exportDataset",
          "Export readings, OEE, energy, air quality or jobs as CSV or Parquet (streamed)",
          "export", VIEWER, query=_QUERY, content_type="*/*",
          response_schema={"type": "string"},
          description="Streamed as it is read (constant memory for any range). Readings are "
          "one row per measure: time, epoch, site_id, device_id, sensor_type, measure, value. "
          "Metrics are hourly per device. Media type: `text/csv; charset=utf-8`, or with "
          "`format=parquet` "
          "(`application/vnd.apache.parquet`)."),
)  # fmt: skip
